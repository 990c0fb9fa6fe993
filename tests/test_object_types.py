"""Object types as declared (config/object_types.py), and the processing rules that name
them and the custom fields: every problem named with its file, key and reason at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskmail.config.errors import ConfigError
from deskmail.config.fate import TicketKind
from deskmail.config.loader import load_config
from deskmail.config.models import DeskmailConfig

DECLARED = """
[[custom_fields]]
name = "host"
all_types = true

[[custom_fields]]
name = "amount"
type = "number"

[[custom_fields]]
name = "severity"
type = "choice"
choices = ["CRITICAL", "WARNING"]

[[object_types]]
name = "purchase_order"
label = "Purchase order"
prefix = "PO"
fields = ["amount"]

[[object_types]]
name = "alert"
kind = "event"
prefix = "ALR"
fields = ["severity"]
"""
JOB = '\n[[jobs]]\nname = "Support"\nprotocol = "maildir"\npath = "mail"\n'
RULE = '("Support").rules[0]'


def load(tmp_path: Path, text: str) -> DeskmailConfig:
    path = tmp_path / "deskmail.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert str(caught.value).startswith(f"{tmp_path / 'deskmail.toml'}: ")
    return [f"{issue.key}: {issue.problem}" for issue in caught.value.issues]


def rule_problems(tmp_path: Path, rule: str) -> list[str]:
    return [
        problem.removeprefix("jobs[0] ")
        for problem in problems(tmp_path, DECLARED + JOB + "[[jobs.rules]]\n" + rule)
    ]


def test_declarations_reach_every_job(tmp_path: Path) -> None:
    config = load(tmp_path, DECLARED + JOB)
    records = config.jobs[0].records
    order = records.object_type("purchase_order")
    assert order is not None
    assert (order.shown, order.kind, order.prefix) == ("Purchase order", TicketKind.INCIDENT, "PO")
    assert [f.name for f in records.fields_of("purchase_order")] == ["host", "amount"]
    assert [f.name for f in records.fields_of("alert")] == ["host", "severity"]
    assert [f.name for f in records.fields_of(None)] == ["host"]  # incidents and events


def test_object_type_declarations_are_checked(tmp_path: Path) -> None:
    text = """
[[custom_fields]]
name = "host"

[[object_types]]
name = "incident"
prefix = "INC"

[[object_types]]
name = "order"
prefix = "P O"

[[object_types]]
name = "order"
prefix = "X"
kind = "change"

[[object_types]]
name = "contract"
"""
    assert problems(tmp_path, text + JOB) == [
        "object_types[0].name: 'incident' is built in; an object type has a name of its own,"
        " and all_types = true puts a custom field on incidents and events",
        "object_types[1].prefix: must be 1 to 16 letters and digits, starting with a letter,"
        " such as 'PO' (got 'P O')",
        "object_types[2].kind: must be one of incident, event (got 'change')",
        "object_types[3].prefix: is required",
    ]


def test_names_that_disagree_are_refused(tmp_path: Path) -> None:
    text = """
[[custom_fields]]
name = "host"

[[object_types]]
name = "order"
prefix = "PO"
fields = ["host", "amount"]

[[object_types]]
name = "order"
prefix = "po"
"""
    assert problems(tmp_path, text + JOB) == [
        "object_types[1].name: object_types[0] has the same name; it must be unique",
        "object_types[1].prefix: object_types[0] has the same prefix; it must be unique",
        "object_types[0].fields[1]: names no custom field: 'amount' is not declared in"
        " [[custom_fields]] (declared: 'host')",
    ]


def test_a_rule_creates_a_declared_type_only(tmp_path: Path) -> None:
    assert rule_problems(
        tmp_path, 'name = "Orders"\naction = "create"\nobject_type = "purchase_ordr"\n'
    ) == [
        f"{RULE}.object_type: names no object type: 'purchase_ordr' is not declared in"
        " [[object_types]] (declared: 'purchase_order', 'alert')"
    ]
    assert rule_problems(tmp_path, 'name = "Orders"\naction = "create"\n') == [
        f"{RULE}: action = 'create' needs object_type: the name of an [[object_types]] table;"
        " for an incident or an event use create_incident or create_event"
    ]
    assert rule_problems(
        tmp_path, 'name = "Orders"\naction = "create_incident"\nobject_type = "alert"\n'
    ) == [f"{RULE}: object_type goes with action = 'create' only"]


def test_named_groups_must_name_a_field(tmp_path: Path) -> None:
    rule = """name = "Alerts"
action = "create"
object_type = "alert"
conditions = [
  { field = "subject", op = "regex", value = '(?P<hots>\\S+) is (?P<severity>\\w+)' },
  { field = "body", op = "regex", value = 'Amount: (?P<amount>\\d+)' },
]
"""
    assert rule_problems(tmp_path, rule) == [
        f"{RULE}.conditions[0].value: has the named group 'hots', which names no field:"
        " use one of priority, group, category, site, a declared custom field"
        " ('host', 'amount', 'severity'), or a key of the rule's map",
        f"{RULE}.conditions[1].value: has the named group 'amount', but object type 'alert'"
        " has no field 'amount' (its fields: host, severity)",
    ]


def test_a_map_names_a_group_of_the_rule_and_a_ticket_field(tmp_path: Path) -> None:
    rule = """name = "Alerts"
conditions = [{ field = "subject", op = "regex", value = '(?P<severity>CRITICAL|WARNING)' }]
map.level = { to = "priority", values = { CRITICAL = "1 - high" } }
"""
    assert rule_problems(tmp_path, rule) == [
        f"{RULE}: map.level: no regex condition of the rule has a named group 'level'"
        " (its named groups: 'severity'); write (?P<level>...) in a pattern"
    ]
    rule = """name = "Alerts"
conditions = [{ field = "subject", op = "regex", value = '(?P<level>CRITICAL|WARNING)' }]
map.level = { to = "assignee", values = { CRITICAL = 1, warning = "a", WARNING = "b" } }
"""
    assert rule_problems(tmp_path, rule) == [
        f"{RULE}.map.level.to: must be one of priority, group, category, site (got 'assignee')",
        f"{RULE}.map.level.values.CRITICAL: must be text in quotes (got 1)",
    ]
    rule = """name = "Alerts"
conditions = [{ field = "subject", op = "regex", value = '(?P<level>CRITICAL|WARNING)' }]
map.level = { to = "group", values = { warning = "a", WARNING = "b" } }
"""
    assert rule_problems(tmp_path, rule) == [
        f"{RULE}.map.level.values: has 'WARNING', 'warning' more than once"
        " (keys compare ignoring case)",
    ]


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (
            "(a)\\\\1",
            "invalid escape sequence: \\1 (backreferences need backtracking, which RE2"
            " refuses so that no rule can hang a run)",
        ),
        (
            "Host: (?=web)",
            "invalid perl operator: (?= (lookahead and lookbehind need backtracking, which RE2"
            " refuses so that no rule can hang a run)",
        ),
        (
            "(?<!not )urgent",
            "invalid perl operator: (?<! (lookahead and lookbehind need backtracking, which"
            " RE2 refuses so that no rule can hang a run)",
        ),
    ],
)
def test_patterns_re2_cannot_run_are_refused_with_the_reason(
    tmp_path: Path, pattern: str, why: str
) -> None:
    condition = f'{{ field = "subject", op = "regex", value = "{pattern}" }}'
    rule = f'name = "R"\naction = "ignore"\nconditions = [{condition}]\n'
    (problem,) = rule_problems(tmp_path, rule)
    assert problem.startswith(
        f"{RULE}.conditions[0].value: is not a valid regular expression (RE2 syntax): {why}"
    )


def test_a_negated_condition_captures_nothing(tmp_path: Path) -> None:
    rule = """name = "R"
conditions = [{ field = "subject", op = "regex", value = '(?P<host>web\\d+)', negate = true }]
action = "ignore"
"""
    assert rule_problems(tmp_path, rule) == [
        f"{RULE}.conditions[0]: negate = true with named groups: a condition that holds when"
        " the pattern does not match captures nothing; drop negate or the names"
    ]


def test_a_rule_sets_custom_fields_checked_by_their_types_at_load(tmp_path: Path) -> None:
    declared = DECLARED + '\n[[custom_fields]]\nname = "due"\ntype = "date"\nall_types = true\n'
    rule = """name = "Orders"
action = "create"
object_type = "purchase_order"
[jobs.rules.set.custom]
amount = "12,50"
due = "24.12.2026"
severity = "WARNING"
colour = "red"
priority = "1"

[[jobs.rules]]
name = "Alerts"
set.custom.severity = "Disaster"
"""
    found = [
        p.removeprefix("jobs[0] ")
        for p in problems(tmp_path, declared + JOB + "[[jobs.rules]]\n" + rule)
    ]
    alerts = '("Support").rules[1]'
    assert found == [
        f"{RULE}.set.custom.amount: the value is not a number (number field, got '12,50')",
        f"{RULE}.set.custom.due: the value is not a date in ISO 8601 form (2026-12-07)"
        " (date field, got '24.12.2026')",
        f"{RULE}.set.custom.severity: object type 'purchase_order' has no field 'severity'"
        " (its fields: host, amount, due)",
        f"{RULE}.set.custom.colour: names no custom field: 'colour' is not declared in"
        " [[custom_fields]] (declared: 'host', 'amount', 'severity', 'due')",
        f"{RULE}.set.custom.priority: names no custom field: 'priority' is not declared in"
        " [[custom_fields]] (declared: 'host', 'amount', 'severity', 'due'); priority is a"
        " field of every ticket: write set.priority",
        f"{alerts}.set.custom.severity: the value is not one of the choices (CRITICAL,"
        " WARNING) (choice field, got 'Disaster')",
    ]


def test_set_custom_takes_toml_numbers_and_dates_as_written(tmp_path: Path) -> None:
    declared = DECLARED + '\n[[custom_fields]]\nname = "due"\ntype = "date"\nall_types = true\n'
    rule = """name = "Orders"
action = "create"
object_type = "purchase_order"
[jobs.rules.set]
group = "Purchasing"
custom = { amount = 12.5, due = 2026-12-24, host = 42 }
"""
    config = load(tmp_path, declared + JOB + "[[jobs.rules]]\n" + rule)
    settings = config.jobs[0].rules[0].set
    assert settings.custom == {"amount": "12.5", "due": "2026-12-24", "host": "42"}
    assert settings.fields == {"group": "Purchasing"}


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        (
            'set = { "custom.amount" = "3" }',
            "set: has the key 'custom.amount' in quotes, which TOML reads as one"
            " name; write custom.amount without quotes, or custom = { amount = ... }",
        ),
        (
            "set.custom.amount = true",
            "set.custom: amount: true and false are no values of a custom field"
            " (text, number, date or choice)",
        ),
    ],
)
def test_set_custom_written_wrongly_is_named(tmp_path: Path, written: str, problem: str) -> None:
    rule = f'name = "Orders"\naction = "create"\nobject_type = "purchase_order"\n{written}\n'
    (found,) = rule_problems(tmp_path, rule)
    assert found == f"{RULE}.{problem}"
