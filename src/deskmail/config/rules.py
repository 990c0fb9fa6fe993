"""Processing rules (Alloy's Processing tab, Octopus's processors) as configured.

An ordered list per job; the first rules that match decide what a mail
becomes. Evaluation lives in classify/rules.py.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Operator(StrEnum):
    CONTAINS = "contains"  # case-insensitive substring
    EQUALS = "equals"  # case-insensitive, whole value
    REGEX = "regex"  # Python re.search, case-insensitive
    DOMAIN = "domain"  # an address's domain is this domain or a sub-domain of it
    EXISTS = "exists"  # the header / field is present and not empty


class MatchMode(StrEnum):
    ALL = "all"
    ANY = "any"


class RuleAction(StrEnum):
    CREATE_INCIDENT = "create_incident"
    CREATE_EVENT = "create_event"
    ADD_TO_TICKET = "add_to_ticket"  # the ticket found by threading; else falls through
    IGNORE = "ignore"  # recorded in the journal, no ticket


class Condition(_Strict):
    # from | to | cc | subject | body | attachment | header:<Name>
    field: str
    op: Operator = Operator.CONTAINS
    value: str = ""
    negate: bool = False


class TicketSettings(_Strict):
    """Fields a rule (or the job) sets on the ticket it creates. Names, not ids."""

    group: str | None = None
    assignee: str | None = None  # logon name
    site: str | None = None
    source: str | None = None
    priority: str | None = None
    category: str | None = None
    team: str | None = None


class RuleConfig(_Strict):
    name: str
    enabled: bool = True
    match: MatchMode = MatchMode.ALL
    conditions: list[Condition] = Field(default_factory=list)  # none: always matches
    action: RuleAction | None = None  # None: only sets fields
    set: TicketSettings = TicketSettings()
    stop: bool = False  # no later rule is looked at
