"""The job editor's processing rules as form rows: a rule builder that round-trips.

Each [[rules]] table becomes a RuleRow whose fields are inputs (name, enabled, its
conditions, what the mail becomes, the fields it sets, its value maps, stop). A rule
the inputs cannot hold exactly (a value with a line break, an empty setting, a map key
with '=') stays a TOML row: its table as text, with the reason, so saving never changes
a rule nobody touched. A row is only shown as inputs when writing it back gives the very
table it was read from.

Posted fields are named rule.N.KEY (rule.N.cond.M.KEY, rule.N.map.M.KEY), N and M
in the order shown; buttons post `do` as rule-up-N, cond-add-N, map-remove-N-M, ...
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from deskmail.config.custom_fields import BUILTIN_FIELDS
from deskmail.config.object_types import Records
from deskmail.config.rules import (
    FIELDS as CONDITION_FIELDS,
)
from deskmail.config.rules import (
    HEADER_PREFIX,
    MAP_TARGETS,
    MatchMode,
    Operator,
    RuleAction,
    RuleConfig,
    TicketSettings,
)
from deskmail.config.toml_text import toml_table

HEADER = "header"  # the field choice "a header named ..."
FIELD_CHOICES = (*CONDITION_FIELDS, HEADER)
OPS = tuple(op.value for op in Operator)
MATCHES = tuple(mode.value for mode in MatchMode)
ACTIONS = ("", *(action.value for action in RuleAction))  # "": only sets fields
SETTINGS = tuple(TicketSettings.model_fields)  # group, assignee, site, ...
TARGETS = MAP_TARGETS
_RULE_KEYS = frozenset(RuleConfig.model_fields)
_FORM_ONLY = "uses something the form cannot show"


class RulesError(ValueError):
    """Rules that cannot be read: `field` is the form field, `problem` says why."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class ConditionRow:
    field: str = "subject"  # one of FIELD_CHOICES
    header: str = ""  # the header's name when field is "header"
    op: str = Operator.CONTAINS.value
    value: str = ""
    negate: bool = False

    def table(self) -> dict[str, Any]:
        """As the model dumps it without defaults, so an untouched rule compares equal."""
        name = HEADER_PREFIX + self.header.strip() if self.field == HEADER else self.field
        table: dict[str, Any] = {"field": name}
        if self.op != Operator.CONTAINS.value:
            table["op"] = self.op
        if self.value:
            table["value"] = self.value
        if self.negate:
            table["negate"] = True
        return table


@dataclass(frozen=True, slots=True)
class MapRow:
    """map.<group> = { to, values, default }: a captured value turned into a field."""

    group: str = ""
    to: str = "priority"
    values: str = ""  # one "KEY = value" a line
    default: str = ""

    @property
    def blank(self) -> bool:
        return not (self.group.strip() or self.values.strip() or self.default)

    def table(self) -> dict[str, Any]:
        values: dict[str, str] = {}
        for line in self.values.splitlines():
            if line.strip():
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip()
        table: dict[str, Any] = {"to": self.to, "values": values}
        if self.default:
            table["default"] = self.default
        return table


@dataclass(frozen=True, slots=True)
class RuleRow:
    name: str = ""
    enabled: bool = True
    match: str = MatchMode.ALL.value
    conditions: tuple[ConditionRow, ...] = ()
    action: str = ""
    object_type: str = ""
    settings: Mapping[str, str] = field(default_factory=dict)  # set.<key> -> value
    maps: tuple[MapRow, ...] = ()
    stop: bool = False
    # Not None: the rule as TOML text, edited as such (asked for, or the form cannot hold it).
    toml: str | None = None
    why_toml: str = ""

    def setting(self, key: str) -> str:
        return self.settings.get(key, "")

    @property
    def captures(self) -> tuple[str, ...]:
        """The named groups its regex conditions have (shown: each sets a field or a map)."""
        found: list[str] = []
        for condition in self.conditions:
            if condition.op == Operator.REGEX.value:
                found += re.findall(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>", condition.value)
        return tuple(dict.fromkeys(found))

    def tables(self, index: int) -> list[dict[str, Any]]:
        """The [[rules]] tables of this row (a TOML row may hold several)."""
        if self.toml is not None:
            return parse_rules(self.toml, f"rule.{index}.toml")
        table: dict[str, Any] = {"name": self.name}
        if not self.enabled:
            table["enabled"] = False
        if self.match != MatchMode.ALL.value:
            table["match"] = self.match
        if self.conditions:
            table["conditions"] = [condition.table() for condition in self.conditions]
        if self.action:
            table["action"] = self.action
        if self.object_type:
            table["object_type"] = self.object_type
        settings = {key: self.settings[key] for key in SETTINGS if self.settings.get(key)}
        if settings:
            table["set"] = settings
        maps = {m.group.strip(): m.table() for m in self.maps if not m.blank}
        if maps:
            table["map"] = maps
        if self.stop:
            table["stop"] = True
        return [table]

    def as_toml(self, index: int) -> RuleRow:
        if self.toml is not None:
            return self
        return RuleRow(
            name=self.name, toml=rules_toml(self.tables(index)), why_toml="edited as TOML"
        )


# ---- reading ---------------------------------------------------------------------------


def rows_from_rules(rules: Sequence[RuleConfig]) -> tuple[RuleRow, ...]:
    """A job's rules as rows: as inputs where they round-trip, else as TOML."""
    return tuple(
        row_of_table(rule.model_dump(mode="json", exclude_defaults=True)) for rule in rules
    )


def rows_from_toml(text: str, field: str) -> tuple[RuleRow, ...]:
    return tuple(row_of_table(table) for table in parse_rules(text, field))


def row_of_table(table: Mapping[str, Any]) -> RuleRow:
    """The row of one [[rules]] table: inputs if they give the same table back, else TOML."""
    name = str(table.get("name", ""))
    try:
        row = _inputs_of(table)
    except (TypeError, ValueError, AttributeError) as exc:
        return RuleRow(name=name, toml=rules_toml([dict(table)]), why_toml=f"{_FORM_ONLY}: {exc}")
    if _as_posted(row).tables(0) != [dict(table)]:
        reason = _why_not(table) or _FORM_ONLY
        return RuleRow(name=name, toml=rules_toml([dict(table)]), why_toml=reason)
    return row


def _inputs_of(table: Mapping[str, Any]) -> RuleRow:
    unknown = sorted(set(table) - _RULE_KEYS)
    if unknown:
        raise ValueError(f"the key {', '.join(unknown)}")
    conditions = []
    for condition in table.get("conditions", []):
        name = str(condition["field"])
        is_header = name.casefold().startswith(HEADER_PREFIX)
        conditions.append(
            ConditionRow(
                field=HEADER if is_header else name,
                header=name[len(HEADER_PREFIX) :] if is_header else "",
                op=str(condition.get("op", Operator.CONTAINS.value)),
                value=str(condition.get("value", "")),
                negate=condition.get("negate", False) is True,
            )
        )
    maps = []
    for group, value_map in dict(table.get("map", {})).items():
        lines = [f"{key} = {value}" for key, value in dict(value_map.get("values", {})).items()]
        maps.append(
            MapRow(
                group=str(group),
                to=str(value_map.get("to", "")),
                values="\n".join(lines),
                default=str(value_map.get("default", "")),
            )
        )
    return RuleRow(
        name=str(table.get("name", "")),
        enabled=table.get("enabled", True) is not False,
        match=str(table.get("match", MatchMode.ALL.value)),
        conditions=tuple(conditions),
        action=str(table.get("action", "")),
        object_type=str(table.get("object_type", "")),
        settings={str(k): str(v) for k, v in dict(table.get("set", {})).items()},
        maps=tuple(maps),
        stop=table.get("stop", False) is True,
    )


def _as_posted(row: RuleRow) -> RuleRow:
    """The row as it comes back from a browser: one-line inputs lose their line breaks,
    and rows_from_post trims what it trims."""

    def line(text: str) -> str:
        return text.replace("\r", "").replace("\n", "")

    return replace(
        row,
        name=line(row.name).strip(),
        object_type=line(row.object_type).strip(),
        settings={key: line(value).strip() for key, value in row.settings.items()},
        conditions=tuple(
            replace(c, header=line(c.header).strip(), value=line(c.value)) for c in row.conditions
        ),
        maps=tuple(
            replace(m, group=line(m.group).strip(), default=line(m.default).strip())
            for m in row.maps
        ),
    )


def _why_not(table: Mapping[str, Any]) -> str:
    """What in a table the inputs cannot hold, said in a few words."""
    texts = [str(c.get("value", "")) for c in table.get("conditions", []) if isinstance(c, dict)]
    if any("\n" in text or "\r" in text for text in texts):
        return "a condition's value has a line break, which a one-line field cannot hold"
    settings = [str(value) for value in dict(table.get("set", {})).values()]
    if any(value == "" for value in settings):
        return "a setting of its set table is empty, which the form would leave out"
    if any(value != value.strip() for value in [*settings, str(table.get("name", ""))]):
        return "its name or a setting starts or ends with spaces, which the form trims"
    for value_map in dict(table.get("map", {})).values():
        for key, value in dict(value_map.get("values", {})).items():
            if "=" in key or key != key.strip() or value != value.strip() or "\n" in key + value:
                return (
                    "a key or value of its map has '=', a line break or spaces at an end,"
                    " which the form's KEY = value lines cannot hold"
                )
    return ""


def rows_from_post(posted: Mapping[str, Sequence[str]]) -> tuple[RuleRow, ...]:
    """The rows posted as rule.N.KEY, in N's order; nothing in them is refused here (the
    catalog checks the rules and its problems go next to their fields)."""

    def last(name: str, default: str = "") -> str:
        values = posted.get(name)
        return values[-1] if values else default

    def checked(name: str, default: bool) -> bool:
        return last(name, "true" if default else "false") == "true"

    rows = []
    for n in _indexes(posted, "rule."):
        p = f"rule.{n}."
        if p + "toml" in posted:
            rows.append(
                RuleRow(name=last(p + "name"), toml=last(p + "toml"), why_toml=last(p + "why"))
            )
            continue
        conditions = tuple(
            ConditionRow(
                field=last(f"{p}cond.{m}.field", "subject"),
                header=last(f"{p}cond.{m}.header").strip(),
                op=last(f"{p}cond.{m}.op", Operator.CONTAINS.value),
                value=last(f"{p}cond.{m}.value"),
                negate=checked(f"{p}cond.{m}.negate", False),
            )
            for m in _indexes(posted, p + "cond.")
        )
        maps = tuple(
            MapRow(
                group=last(f"{p}map.{m}.group").strip(),
                to=last(f"{p}map.{m}.to", "priority"),
                values=last(f"{p}map.{m}.values"),
                default=last(f"{p}map.{m}.default").strip(),
            )
            for m in _indexes(posted, p + "map.")
        )
        rows.append(
            RuleRow(
                name=last(p + "name").strip(),
                enabled=checked(p + "enabled", True),
                match=last(p + "match", MatchMode.ALL.value),
                conditions=conditions,
                action=last(p + "action"),
                object_type=last(p + "object_type").strip(),
                settings={key: last(f"{p}set.{key}").strip() for key in SETTINGS},
                maps=maps,
                stop=checked(p + "stop", False),
            )
        )
    return tuple(rows)


def _indexes(posted: Mapping[str, Sequence[str]], prefix: str) -> list[int]:
    """The N of every posted prefix + "N.KEY", sorted, once each."""
    found = set()
    for name in posted:
        if name.startswith(prefix):
            head = name[len(prefix) :].split(".", 1)[0]
            if head.isdigit():
                found.add(int(head))
    return sorted(found)


def parse_rules(text: str, field: str) -> list[dict[str, Any]]:
    """[[rules]] tables written as TOML, or RulesError naming `field`."""
    if not text.strip():
        return []
    try:
        parsed = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(field, f"is not TOML: {exc}") from None
    unknown = [key for key in parsed if key != "rules"]
    if unknown:
        raise RulesError(field, f"may hold [[rules]] tables only, not {', '.join(unknown)}")
    rules = parsed.get("rules", [])
    if not isinstance(rules, list):
        raise RulesError(field, "must be [[rules]] tables")
    return rules


def rules_toml(tables: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(
        line for table in tables for line in ["", *toml_table("[[rules]]", "rules", dict(table))]
    ).strip()


# ---- changing the list (each button of the builder) ------------------------------------


def changed(rows: tuple[RuleRow, ...], action: str) -> tuple[RuleRow, ...] | None:
    """The rows after a builder button (`do`), or None when `action` is not one of them.
    RulesError when a TOML rule cannot go back to the form."""
    parts = action.split("-")
    kind = "-".join(parts[:2])
    if action == "rule-add":
        return (*rows, RuleRow(name=f"Rule {len(rows) + 1}", conditions=(ConditionRow(),)))
    if not all(part.isdigit() for part in parts[2:]):
        return None
    numbers = [int(part) for part in parts[2:]]
    if not numbers or not 0 <= numbers[0] < len(rows):
        return None
    n = numbers[0]
    row = rows[n]
    step = {"rule-up": -1, "rule-down": 1}.get(kind)
    if step is not None:
        other = n + step
        if not 0 <= other < len(rows):
            return rows
        swapped = list(rows)
        swapped[n], swapped[other] = swapped[other], swapped[n]
        return tuple(swapped)
    if kind == "rule-remove":
        return rows[:n] + rows[n + 1 :]
    if kind == "rule-toml":
        return _put(rows, n, row.as_toml(n))
    if kind == "rule-form":
        if row.toml is None:
            return rows
        back = rows_from_toml(row.toml, f"rule.{n}.toml")
        still = [r for r in back if r.toml is not None]
        if still:
            raise RulesError(f"rule.{n}.toml", f"stays TOML: it {still[0].why_toml}")
        return rows[:n] + back + rows[n + 1 :]
    if kind == "cond-add":
        return _put(rows, n, replace(row, conditions=(*row.conditions, ConditionRow())))
    if kind == "map-add":
        return _put(rows, n, replace(row, maps=(*row.maps, MapRow())))
    if kind == "cond-remove" and len(numbers) == 2:
        kept = tuple(c for m, c in enumerate(row.conditions) if m != numbers[1])
        return _put(rows, n, replace(row, conditions=kept))
    if kind == "map-remove" and len(numbers) == 2:
        kept_maps = tuple(v for m, v in enumerate(row.maps) if m != numbers[1])
        return _put(rows, n, replace(row, maps=kept_maps))
    return None


def _put(rows: tuple[RuleRow, ...], n: int, row: RuleRow) -> tuple[RuleRow, ...]:
    return (*rows[:n], row, *rows[n + 1 :])


# ---- problems next to their fields ------------------------------------------------------

_CONDITION = re.compile(r"conditions\[(\d+)\](?:\.(\w+))?")
_LABELS = {
    "name": "name",
    "enabled": "enabled",
    "match": "match",
    "action": "what the mail becomes",
    "object_type": "object type",
    "stop": "stop",
}


def rule_field(key: str, rows: Sequence[RuleRow], places: Sequence[int]) -> tuple[str, str] | None:
    """(form field, label naming the rule and the field) of a catalog key inside the job
    such as 'rules[1].conditions[0].value', or None for a key outside the rules."""
    found = re.fullmatch(r"rules\[(\d+)\](?:\.(.*))?", key)
    if found is None or int(found[1]) >= len(places):
        return None
    n = places[int(found[1])]
    row = rows[n]
    title = f"Rule {n + 1}" + (f" ({row.name})" if row.name else "")
    rest = found[2] or ""
    if row.toml is not None:
        return f"rule.{n}.toml", f"{title}, {rest or 'the rule'}" if rest else title
    if rest in _LABELS:
        return f"rule.{n}.{rest}", f"{title}, {_LABELS[rest]}"
    condition = _CONDITION.fullmatch(rest)
    if condition is not None:
        m, what = int(condition[1]), condition[2] or "value"
        if what == "field" and m < len(row.conditions) and row.conditions[m].field == HEADER:
            what = "header"
        what = what if what in ("field", "header", "op", "value", "negate") else "value"
        return f"rule.{n}.cond.{m}.{what}", f"{title}, condition {m + 1} {what}"
    if rest.startswith("set."):
        setting = rest.split(".")[1]
        if setting in SETTINGS:
            return f"rule.{n}.set.{setting}", f"{title}, {setting}"
    if rest.startswith("map."):
        group, _, what = rest.removeprefix("map.").partition(".")
        for m, value_map in enumerate(row.maps):
            if value_map.group.strip() == group:
                what = what.split(".")[0] if what.split(".")[0] in ("to", "default") else "values"
                return f"rule.{n}.map.{m}.{what}", f"{title}, map {group} {what}"
    return f"rule.{n}", title


# ---- what the builder offers -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleChoices:
    """The options of the builder's selects and lists, with words for each."""

    object_types: tuple[str, ...]  # declared in [[object_types]]
    captured_fields: tuple[str, ...]  # what a named group may set: built-ins, custom fields
    fields: tuple[str, ...] = FIELD_CHOICES
    ops: tuple[str, ...] = OPS
    matches: tuple[str, ...] = MATCHES
    actions: tuple[str, ...] = ACTIONS
    settings: tuple[str, ...] = SETTINGS
    targets: tuple[str, ...] = TARGETS
    field_labels: Mapping[str, str] = field(
        default_factory=lambda: {
            "from": "From",
            "to": "To",
            "cc": "Cc",
            "subject": "Subject",
            "body": "Body",
            "attachment": "Attachment name",
            HEADER: "A header named…",
        }
    )
    op_labels: Mapping[str, str] = field(
        default_factory=lambda: {
            "contains": "contains",
            "equals": "equals",
            "regex": "matches the pattern (regex)",
            "domain": "is in the domain",
            "exists": "is present",
        }
    )
    action_labels: Mapping[str, str] = field(
        default_factory=lambda: {
            "": "unchanged (the rule only sets fields)",
            "create_incident": "an incident",
            "create_event": "an event",
            "add_to_ticket": "an activity on its ticket",
            "ignore": "ignored (no ticket)",
            "create": "a record of an object type",
        }
    )


def rule_choices(records: Records) -> RuleChoices:
    return RuleChoices(
        object_types=tuple(kind.name for kind in records.object_types),
        captured_fields=(*BUILTIN_FIELDS, *(f.name for f in records.custom_fields)),
    )
