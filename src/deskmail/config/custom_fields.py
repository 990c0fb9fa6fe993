"""Custom fields: values a ticket carries beyond the built-in ones, declared in the file.

    [[custom_fields]]
    name = "severity"
    type = "choice"             # text | number | date | choice
    choices = ["CRITICAL", "WARNING", "OK", "UNKNOWN"]

A field is on the object types that list it in their `fields`, or on every
ticket with `all_types = true`. Values come from processing rules: a fixed
value in the rule's `set.custom` (config/rules.py RuleSettings, checked against
the declaration when the file is loaded), or a named group of a regex condition
(classify/extraction.py), checked before it is written: a captured value that
does not fit is left out, and the reason (never the value, which is mail text)
is said in the log and by `deskmail explain`.

Values are stored as text in one canonical form per type (store/models.py
TicketField), so that they compare and sort the same on SQLite and PostgreSQL:
numbers as plain decimals ("42", "3.5"), dates as ISO 8601 ("2026-12-07"),
choices spelled as declared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from deskmail.config.values import printable

# The ticket's own fields a rule's named group may set, as `set` does.
BUILTIN_FIELDS = ("priority", "group", "category", "site")
# Ticket columns and words of the reports: a custom field of that name would be ambiguous.
RESERVED_NAMES = frozenset(
    {
        *BUILTIN_FIELDS,
        "assignee",
        "source",
        "team",
        "subject",
        "description",
        "status",
        "kind",
        "number",
        "requester",
        "user",
        "token",
        "type",
        "object_type",
        "id",
    }
)
NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
MAX_TEXT = 2000  # characters of a text value; longer values are cut


class FieldType(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    CHOICE = "choice"


def check_name(name: str, what: str) -> str:
    if not NAME.fullmatch(name):
        raise ValueError(
            f"must be a {what} name of lower-case letters, digits and '_', starting with a"
            f" letter, such as 'check_name' (got {name!r})"
        )
    return name


class CustomFieldConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    label: str = ""  # shown by the reports; default: the name
    type: FieldType = FieldType.TEXT
    choices: list[str] = Field(default_factory=list, description="the allowed values of a choice")
    all_types: bool = Field(
        default=False, description="on every ticket, whatever its type (incidents and events too)"
    )

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        check_name(name, "field")
        if name in RESERVED_NAMES:
            raise ValueError(
                f"{name!r} is a built-in field of tickets; give the custom field another name"
            )
        return name

    @field_validator("label")
    @classmethod
    def _check_label(cls, label: str) -> str:
        return printable(label)

    @model_validator(mode="after")
    def _check_choices(self) -> CustomFieldConfig:
        if self.type is FieldType.CHOICE:
            if not self.choices:
                raise ValueError("choices is required with type = 'choice': the allowed values")
            folded = [choice.casefold() for choice in self.choices]
            twice = sorted({c for c in self.choices if folded.count(c.casefold()) > 1})
            if twice:
                raise ValueError(f"choices lists {', '.join(map(repr, twice))} more than once")
        elif self.choices:
            raise ValueError(f"choices only go with type = 'choice', not type = '{self.type}'")
        return self

    @property
    def shown(self) -> str:
        return self.label or self.name

    def typed(self, stored: str) -> str | int | float:
        """A stored value as JSON gives it: a number field's as a number, others as text
        (a date in ISO 8601)."""
        if self.type is FieldType.NUMBER:
            try:
                number = Decimal(stored)
            except InvalidOperation:  # stored before the field became a number
                return stored
            return int(number) if number == number.to_integral_value() else float(number)
        return stored

    def convert(self, text: str) -> str:
        """The value in its stored form. Raises ValueError saying why it does not fit,
        without repeating the value (it comes from a mail)."""
        text = text.strip()
        if not text:
            raise ValueError("the value is empty")
        match self.type:
            case FieldType.TEXT:
                return text[:MAX_TEXT]
            case FieldType.NUMBER:
                return _number(text)
            case FieldType.DATE:
                return _date(text)
            case FieldType.CHOICE:
                for choice in self.choices:
                    if choice.casefold() == text.casefold():
                        return choice
                raise ValueError(f"the value is not one of the choices ({', '.join(self.choices)})")


@dataclass(frozen=True, slots=True)
class FieldValue:
    """One custom field of a record, as the REST API's ticket and the webhooks give it
    (Records.values_of): the one serialisation of custom fields."""

    name: str
    label: str  # as the reports show it: the label, or the name
    type: FieldType
    value: str | int | float | None  # None: the record has no value for it


def _number(text: str) -> str:
    try:
        number = Decimal(
            text.replace("_", "x")
        )  # Decimal takes "1_000"; a mail's "1_000" is no number
    except InvalidOperation:
        raise ValueError("the value is not a number") from None
    if not number.is_finite():
        raise ValueError("the value is not a finite number")
    plain = format(number.normalize(), "f")
    return "0" if plain in ("-0", "0") else plain


def _date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).date().isoformat()
    except ValueError:
        raise ValueError("the value is not a date in ISO 8601 form (2026-12-07)") from None
