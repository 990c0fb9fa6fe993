"""Processing rules (Alloy's Processing tab, Octopus's processors) as configured.

An ordered list per job; the first rules that match decide what a mail
becomes. Evaluation lives in classify/rules.py.

Everything that can be checked without a mail is checked here, so a bad rule
is refused when the file is loaded (with its file and key, by the loader)
instead of failing or silently never matching on the first mail.
"""

from __future__ import annotations

import difflib
import re
from enum import StrEnum

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from deskmail.config.values import printable


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


ADDRESS_FIELDS = ("from", "to", "cc")
FIELDS = (*ADDRESS_FIELDS, "subject", "body", "attachment")
HEADER_PREFIX = "header:"
REGEX_FLAGS = re.IGNORECASE  # the evaluator compiles with the same flags

# RFC 5322 field name: printable US-ASCII except the colon, no spaces.
_HEADER_NAME = re.compile(r"[!-9;-~]+")


class Condition(_Strict):
    # from | to | cc | subject | body | attachment | header:<Name>
    field: str
    op: Operator = Operator.CONTAINS
    # validate_default: a missing value must be checked against op too.
    value: str = Field(default="", validate_default=True)
    negate: bool = False

    @property
    def header(self) -> str | None:
        """The header name of a header:<Name> condition, else None."""
        if self.field.startswith(HEADER_PREFIX):
            return self.field.removeprefix(HEADER_PREFIX)
        return None

    @field_validator("field")
    @classmethod
    def _check_field(cls, field: str) -> str:
        kind, colon, name = field.partition(":")
        kind = kind.casefold()  # "From", "Header:X-Spam" are accepted and normalised
        if colon and kind == HEADER_PREFIX[:-1]:
            if not name:
                raise ValueError("needs a header name after 'header:', such as header:X-Priority")
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(
                    f"has an invalid header name {name!r}: a header name is printable ASCII"
                    " without spaces or ':', such as header:X-Priority"
                )
            return HEADER_PREFIX + name
        if not colon and kind in FIELDS:
            return kind
        known = ", ".join(FIELDS)
        close = difflib.get_close_matches(kind, FIELDS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        raise ValueError(f"must be one of {known} or header:<Name> (got {field!r}){hint}")

    @field_validator("op")
    @classmethod
    def _check_op(cls, op: Operator, info: ValidationInfo) -> Operator:
        field = info.data.get("field")  # absent when field itself was refused
        if op is Operator.DOMAIN and field is not None and field not in ADDRESS_FIELDS:
            raise ValueError(
                f"'domain' only works on the address fields {', '.join(ADDRESS_FIELDS)},"
                f" not on {field!r}; use 'contains' or 'regex' there"
            )
        return op

    @field_validator("value")
    @classmethod
    def _check_value(cls, value: str, info: ValidationInfo) -> str:
        op = info.data.get("op")
        if op is None:  # op was refused; its own message says why
            return value
        if op is Operator.EXISTS:
            if value:
                raise ValueError(
                    "must be left out with op = 'exists' (it only tests that the field has a"
                    " value); use 'equals' or 'contains' to compare"
                )
            return value
        if not value:
            # An empty 'contains' matches every mail: certainly not what was meant.
            raise ValueError(
                f"is required with op = '{op.value}'; to test that the field is present"
                " or absent, use op = 'exists' (with negate = true for absent)"
            )
        if op is Operator.REGEX:
            try:
                re.compile(value, REGEX_FLAGS)
            except re.error as exc:
                where = f" at position {exc.pos}" if exc.pos is not None else ""
                raise ValueError(
                    f"is not a valid regular expression: {exc.msg}{where} (got {value!r})"
                ) from None
        if op is Operator.DOMAIN and (
            "@" in value or any(char.isspace() for char in value) or not value.strip(".")
        ):
            raise ValueError(
                "must be a domain name such as example.com, without '@' or spaces;"
                f" its sub-domains match too (got {value!r})"
            )
        return value


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
    name: str = Field(min_length=1)
    enabled: bool = True
    match: MatchMode = MatchMode.ALL
    conditions: list[Condition] = Field(default_factory=list)  # none: always matches
    action: RuleAction | None = None  # None: only sets fields
    set: TicketSettings = TicketSettings()
    stop: bool = False  # no later rule is looked at

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        # Rule names go into log lines and `deskmail explain`: a line break would forge a line.
        return printable(name)

    @model_validator(mode="after")
    def _does_something(self) -> RuleConfig:
        if self.action is None and not self.stop and self.set == TicketSettings():
            raise ValueError(
                "does nothing: give it an action, a setting in its set table, or stop = true"
            )
        return self

    def __hash__(self) -> int:
        # The evaluator caches compiled rules keyed by the rule; pydantic's frozen hash
        # fails on the conditions list. Equal rules have equal names and conditions.
        return hash((self.name, tuple(self.conditions)))
