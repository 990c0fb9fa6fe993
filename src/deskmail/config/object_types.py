"""Object types: kinds of record beyond incident and event (Alloy's "any other object").

    [[object_types]]
    name = "purchase_order"     # what a rule's object_type names
    label = "Purchase order"
    kind = "incident"           # incident | event: how it is made (requester, assignee)
    prefix = "PO"               # its references: PO-42
    fields = ["supplier", "amount"]

A processing rule creates one with action = "create", object_type = "...".

Storage (store/models.py): a record of an object type is a row of the ticket
table with `object_type` set and `kind` its kind of record. Every object
shares what tickets have (team, number, activities, attachments, threading,
participants, the journal); a table per type would duplicate all of it. Its
number comes from its team's counter, like every ticket's, so that a number
still names one record of the team and replies thread as they do to tickets;
the prefix names the type in references shown to people (PO-42).

`Records` is what the file declares about records, object types and custom
fields together; the loader hands it to every job (JobConfig.records), so that
the stages read it from the job they run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, field_validator

from deskmail.config.custom_fields import CustomFieldConfig, FieldType, FieldValue, check_name
from deskmail.config.fate import TicketKind
from deskmail.config.values import printable

_PREFIX = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}")


class ObjectTypeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    label: str = ""  # shown by the reports; default: the name
    kind: TicketKind = TicketKind.INCIDENT
    prefix: str
    fields: list[str] = Field(default_factory=list, description="its custom fields, by name")

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        check_name(name, "type")
        if name in tuple(TicketKind):
            raise ValueError(
                f"{name!r} is built in; an object type has a name of its own, and"
                " all_types = true puts a custom field on incidents and events"
            )
        return name

    @field_validator("label")
    @classmethod
    def _check_label(cls, label: str) -> str:
        return printable(label)

    @field_validator("prefix")
    @classmethod
    def _check_prefix(cls, prefix: str) -> str:
        if not _PREFIX.fullmatch(prefix):
            raise ValueError(
                "must be 1 to 16 letters and digits, starting with a letter, such as 'PO'"
                f" (got {prefix!r})"
            )
        return prefix

    @property
    def shown(self) -> str:
        return self.label or self.name


@dataclass(frozen=True, slots=True)
class Records:
    """The object types and custom fields of a configuration, checked against each other."""

    object_types: tuple[ObjectTypeConfig, ...] = ()
    custom_fields: tuple[CustomFieldConfig, ...] = ()
    _types: dict[str, ObjectTypeConfig] = field(init=False, repr=False, compare=False)
    _fields: dict[str, CustomFieldConfig] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_types", {t.name: t for t in self.object_types})
        object.__setattr__(self, "_fields", {f.name: f for f in self.custom_fields})

    def object_type(self, name: str) -> ObjectTypeConfig | None:
        return self._types.get(name)

    def custom_field(self, name: str) -> CustomFieldConfig | None:
        return self._fields.get(name)

    def fields_of(self, object_type: str | None) -> tuple[CustomFieldConfig, ...]:
        """The custom fields a record has: its type's and those on every type.
        `object_type` None: an incident or an event."""
        named = self._types[object_type].fields if object_type in self._types else []
        return tuple(f for f in self.custom_fields if f.all_types or f.name in named)

    def values_of(
        self, object_type: str | None, stored: Mapping[str, str]
    ) -> tuple[FieldValue, ...]:
        """A record's custom fields, typed: those its type has in their declared order (None
        for an empty one), then other stored values by name (text if no longer declared)."""
        left = dict(stored)
        values = [
            FieldValue(
                f.name,
                f.shown,
                f.type,
                f.typed(left.pop(f.name)) if f.name in left else None,
            )
            for f in self.fields_of(object_type)
        ]
        for name, value in sorted(left.items()):
            declared = self._fields.get(name)  # of another type now, or no longer declared
            if declared is None:
                values.append(FieldValue(name, name, FieldType.TEXT, value))
            else:
                typed = declared.typed(value)
                values.append(FieldValue(name, declared.shown, declared.type, typed))
        return tuple(values)

    def value_of(self, object_type: str | None, name: str, text: str) -> tuple[str | None, str]:
        """(the value in its stored form, "") for the declared custom field `name` on a
        record of `object_type` (None: an incident or an event), or (None, why not) without
        repeating the value, which may be mail text."""
        declared = self._fields.get(name)
        if declared is None:
            return None, f"no custom field '{name}' is declared"
        if declared not in self.fields_of(object_type):
            kind = self._types.get(object_type) if object_type else None
            if kind is not None:
                return None, f"object type '{kind.name}' has no field '{name}'"
            return None, (
                f"incidents and events have no field '{name}' (a field of some object types only)"
            )
        try:
            return declared.convert(text), ""
        except ValueError as exc:
            return None, f"{exc} ({declared.type} field)"

    def problems(self) -> list[tuple[str, str]]:
        """(key, problem) pairs of declarations that disagree: a name twice, an unknown field."""
        found: list[tuple[str, str]] = []
        found += _twice("object_types", [t.name for t in self.object_types], "name")
        found += _twice("custom_fields", [f.name for f in self.custom_fields], "name")
        prefixes = [t.prefix.casefold() for t in self.object_types]
        found += _twice("object_types", prefixes, "prefix")
        known = ", ".join(f"'{f.name}'" for f in self.custom_fields) or "none are declared"
        for index, kind in enumerate(self.object_types):
            for position, name in enumerate(kind.fields):
                if name not in self._fields:
                    found.append(
                        (
                            f"object_types[{index}].fields[{position}]",
                            f"names no custom field: '{name}' is not declared in"
                            f" [[custom_fields]] (declared: {known})",
                        )
                    )
        return found


def _twice(table: str, names: list[str], key: str) -> list[tuple[str, str]]:
    first: dict[str, int] = {}
    found = []
    for index, name in enumerate(names):
        earlier = first.setdefault(name, index)
        if earlier != index:
            found.append(
                (
                    f"{table}[{index}].{key}",
                    f"{table}[{earlier}] has the same {key}; it must be unique",
                )
            )
    return found
