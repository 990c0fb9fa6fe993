"""Processing rules (Alloy's Processing tab, Octopus's processors) as configured.

An ordered list per job; the first rules that match decide what a mail
becomes. Evaluation lives in classify/rules.py, extraction (named groups that
set fields) in classify/extraction.py.

Regex conditions are user-written patterns: they compile and run under RE2
(config/user_patterns.py), so no rule can hang a run.

Everything that can be checked without a mail is checked here, so a bad rule
is refused when the file is loaded (with its file and key, by the loader)
instead of failing or silently never matching on the first mail.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from deskmail.config.custom_fields import BUILTIN_FIELDS
from deskmail.config.object_types import Records
from deskmail.config.user_patterns import UserPatternError, compile_user_pattern, group_names
from deskmail.config.values import printable


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Operator(StrEnum):
    CONTAINS = "contains"  # case-insensitive substring
    EQUALS = "equals"  # case-insensitive, whole value
    REGEX = "regex"  # RE2 search, case-insensitive; named groups set fields
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
    CREATE = "create"  # a record of the rule's object_type (config/object_types.py)


ADDRESS_FIELDS = ("from", "to", "cc")
FIELDS = (*ADDRESS_FIELDS, "subject", "body", "attachment")
HEADER_PREFIX = "header:"

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
                compile_user_pattern(value)
            except UserPatternError as exc:
                raise ValueError(
                    f"is not a valid regular expression (RE2 syntax): {exc} (got {value!r})"
                ) from None
        if op is Operator.DOMAIN and (
            "@" in value or any(char.isspace() for char in value) or not value.strip(".")
        ):
            raise ValueError(
                "must be a domain name such as example.com, without '@' or spaces;"
                f" its sub-domains match too (got {value!r})"
            )
        return value

    @model_validator(mode="after")
    def _groups_capture(self) -> Condition:
        if self.negate and self.groups:
            raise ValueError(
                "negate = true with named groups: a condition that holds when the pattern"
                " does not match captures nothing; drop negate or the names"
            )
        return self

    @property
    def groups(self) -> tuple[str, ...]:
        """The named groups of a regex condition: the fields it sets when it matches."""
        return group_names(self.value) if self.op is Operator.REGEX else ()


# The ticket fields a value map may set: names of things the ticket refers to.
MAP_TARGETS = ("priority", "group", "category", "site")


class ValueMap(_Strict):
    """A captured value turned into a field's value through a table:
    map.severity = { to = "priority", values = { CRITICAL = "1 - high" }, default = "3 - low" }.
    Keys compare case-insensitively; without a default, a value not in the table sets nothing."""

    to: str
    values: dict[str, str] = Field(min_length=1)
    default: str | None = None

    @field_validator("to")
    @classmethod
    def _check_to(cls, to: str) -> str:
        if to not in MAP_TARGETS:
            raise ValueError(f"must be one of {', '.join(MAP_TARGETS)} (got {to!r})")
        return to

    @field_validator("values")
    @classmethod
    def _check_values(cls, values: dict[str, str]) -> dict[str, str]:
        folded = [key.casefold() for key in values]
        twice = sorted({key for key in values if folded.count(key.casefold()) > 1})
        if twice:
            raise ValueError(
                f"has {', '.join(map(repr, twice))} more than once (keys compare ignoring case)"
            )
        for key, value in values.items():
            printable(value)
            if not value.strip():
                raise ValueError(f"maps {key!r} to an empty value")
        return values

    def lookup(self, captured: str) -> str | None:
        wanted = captured.strip().casefold()
        for key, value in self.values.items():
            if key.casefold() == wanted:
                return value
        return self.default


class TicketSettings(_Strict):
    """Fields a rule (or the job) sets on the ticket it creates. Names, not ids."""

    group: str | None = None
    assignee: str | None = None  # logon name
    site: str | None = None
    source: str | None = None
    priority: str | None = None
    category: str | None = None
    team: str | None = None


class RuleSettings(TicketSettings):
    """A rule's `set` table: the ticket's own fields, and fixed values of custom fields:

        set = { priority = "2 - medium", custom = { severity = "WARNING", due = 2026-12-24 } }

    (or `set.custom.severity = "WARNING"` as a dotted key). Each value is checked against
    its field's declaration when the file is loaded (record_problems): a number parses, a
    date is a date, a choice is one of the choices. A named group of the same field, when
    it captures a value that fits, overrides it (classify/extraction.py)."""

    custom: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _dotted_key_in_quotes(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if isinstance(key, str) and key.startswith("custom."):
                    field = key.removeprefix("custom.")
                    raise ValueError(
                        f"has the key {key!r} in quotes, which TOML reads as one name; write"
                        f" custom.{field} without quotes, or custom = {{ {field} = ... }}"
                    )
        return data

    @field_validator("custom", mode="before")
    @classmethod
    def _as_text(cls, values: Any) -> Any:
        """TOML numbers and dates are taken as written, checked by the field's type later."""
        if not isinstance(values, dict):
            return values
        out: dict[Any, Any] = {}
        for name, value in values.items():
            if isinstance(value, bool):
                raise ValueError(
                    f"{name}: true and false are no values of a custom field (text, number,"
                    " date or choice)"
                )
            if isinstance(value, date | datetime):  # a TOML date or date-time
                value = value.isoformat()
            elif isinstance(value, int | float):
                value = str(value)
            out[name] = value
        return out

    @field_validator("custom")
    @classmethod
    def _printable(cls, values: dict[str, str]) -> dict[str, str]:
        for value in values.values():
            printable(value)
        return values

    @property
    def fields(self) -> dict[str, str]:
        """The ticket's own fields this table sets (custom fields apart)."""
        return self.model_dump(exclude_none=True, exclude={"custom"})


class RuleConfig(_Strict):
    name: str = Field(min_length=1)
    enabled: bool = True
    match: MatchMode = MatchMode.ALL
    conditions: list[Condition] = Field(default_factory=list)  # none: always matches
    action: RuleAction | None = None  # None: only sets fields
    object_type: str | None = None  # with action = "create": the type of record made
    set: RuleSettings = RuleSettings()
    # Named group -> a table turning its captured value into a priority, group, ...
    map: dict[str, ValueMap] = Field(default_factory=dict)
    stop: bool = False  # no later rule is looked at

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        # Rule names go into log lines and `deskmail explain`: a line break would forge a line.
        return printable(name)

    @model_validator(mode="after")
    def _does_something(self) -> RuleConfig:
        if (
            self.action is None
            and not self.stop
            and self.set == RuleSettings()
            and not self.captures
        ):
            raise ValueError(
                "does nothing: give it an action, a setting in its set table, a named group"
                " in a regex condition, or stop = true"
            )
        if self.action is RuleAction.CREATE and self.object_type is None:
            raise ValueError(
                "action = 'create' needs object_type: the name of an [[object_types]] table;"
                " for an incident or an event use create_incident or create_event"
            )
        if self.object_type is not None and self.action is not RuleAction.CREATE:
            raise ValueError("object_type goes with action = 'create' only")
        groups = self.captures
        for name in self.map:
            if name not in groups:
                have = ", ".join(f"'{g}'" for g in groups) or "none"
                raise ValueError(
                    f"map.{name}: no regex condition of the rule has a named group '{name}'"
                    f" (its named groups: {have}); write (?P<{name}>...) in a pattern"
                )
        return self

    @property
    def captures(self) -> tuple[str, ...]:
        """Every named group of the rule's regex conditions, once each, in order."""
        return tuple(dict.fromkeys(g for c in self.conditions for g in c.groups))

    def record_problems(self, records: Records) -> Iterator[tuple[str, str]]:
        """(key within the rule, problem): names this rule uses that the file's
        [[object_types]] and [[custom_fields]] do not declare."""
        fields: tuple[str, ...] | None = None  # None: any declared field (type known at run)
        if self.object_type is not None:
            kind = records.object_type(self.object_type)
            if kind is None:
                known = ", ".join(f"'{t.name}'" for t in records.object_types)
                yield (
                    "object_type",
                    f"names no object type: '{self.object_type}' is not declared in"
                    f" [[object_types]] (declared: {known or 'none'})",
                )
            else:
                fields = tuple(f.name for f in records.fields_of(kind.name))
        yield from self._set_problems(records, fields)
        for index, condition in enumerate(self.conditions):
            for group in condition.groups:
                if group in self.map or group in BUILTIN_FIELDS:
                    continue
                if records.custom_field(group) is None:
                    known = ", ".join(f"'{f.name}'" for f in records.custom_fields)
                    yield (
                        f"conditions[{index}].value",
                        f"has the named group '{group}', which names no field: use one of"
                        f" {', '.join(BUILTIN_FIELDS)}, a declared custom field"
                        f" ({known or 'none are declared'}), or a key of the rule's map",
                    )
                elif fields is not None and group not in fields:
                    yield (
                        f"conditions[{index}].value",
                        f"has the named group '{group}', but object type"
                        f" '{self.object_type}' has no field '{group}' (its fields:"
                        f" {', '.join(fields) or 'none'})",
                    )

    def _set_problems(
        self, records: Records, fields: tuple[str, ...] | None
    ) -> Iterator[tuple[str, str]]:
        """set.custom: each name a declared field (of the rule's object type, when it makes
        one), each value fit for the field's type."""
        for name, value in self.set.custom.items():
            key = f"set.custom.{name}"
            declared = records.custom_field(name)
            if declared is None:
                known = ", ".join(f"'{f.name}'" for f in records.custom_fields)
                builtin = (
                    f"; {name} is a field of every ticket: write set.{name}"
                    if name in RuleSettings.model_fields and name != "custom"
                    else ""
                )
                yield (
                    key,
                    f"names no custom field: '{name}' is not declared in [[custom_fields]]"
                    f" (declared: {known or 'none'}){builtin}",
                )
            elif fields is not None and name not in fields:
                yield (
                    key,
                    f"object type '{self.object_type}' has no field '{name}' (its fields:"
                    f" {', '.join(fields) or 'none'})",
                )
            else:
                try:
                    declared.convert(value)
                except ValueError as exc:
                    yield key, f"{exc} ({declared.type} field, got {value!r})"

    def __hash__(self) -> int:
        # The evaluator caches compiled rules keyed by the rule; pydantic's frozen hash
        # fails on the conditions list. Equal rules have equal names and conditions.
        return hash((self.name, tuple(self.conditions)))
