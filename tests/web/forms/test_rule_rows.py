"""web/forms/rule_rows.py: rules read into rows and back, the builder's buttons, and a
catalog key placed on its field with the rule's number and name."""

from __future__ import annotations

import pytest

from deskmail.config.rules import RuleConfig
from deskmail.web.forms.rule_rows import (
    ConditionRow,
    MapRow,
    RuleRow,
    RulesError,
    changed,
    row_of_table,
    rows_from_post,
    rows_from_rules,
    rule_field,
)


def _rule(**table: object) -> RuleConfig:
    return RuleConfig.model_validate({"name": "R", "action": "ignore"} | table)


def test_a_rule_the_inputs_hold_is_a_row_and_gives_its_table_back() -> None:
    rule = _rule(
        conditions=[{"field": "Header:X-Prio", "op": "equals", "value": "1", "negate": True}],
        set={"team": "IT"},
        enabled=False,
    )
    (row,) = rows_from_rules([rule])
    assert row.toml is None
    assert row.conditions == (ConditionRow("header", "X-Prio", "equals", "1", True),)
    assert RuleConfig.model_validate(row.tables(0)[0]) == rule


@pytest.mark.parametrize(
    ("table", "reason"),
    [
        ({"conditions": [{"field": "body", "value": "a\nb"}]}, "line break"),
        ({"set": {"group": ""}}, "is empty"),
        ({"set": {"group": " Ops"}}, "spaces"),
    ],
)
def test_a_rule_the_inputs_cannot_hold_stays_toml_with_the_reason(
    table: dict[str, object], reason: str
) -> None:
    row = row_of_table({"name": "R", "action": "ignore"} | table)
    assert row.toml is not None and reason in row.why_toml
    assert row.tables(0) == [{"name": "R", "action": "ignore"} | table]


def test_the_builders_buttons() -> None:
    rows = (RuleRow(name="A", action="ignore"), RuleRow(name="B", action="ignore"))
    assert [r.name for r in changed(rows, "rule-down-0") or ()] == ["B", "A"]
    assert [r.name for r in changed(rows, "rule-up-0") or ()] == ["A", "B"]  # already first
    assert [r.name for r in changed(rows, "rule-remove-1") or ()] == ["A"]
    added = changed(rows, "rule-add") or ()
    assert len(added) == 3 and added[2].conditions == (ConditionRow(),)
    with_condition = changed(rows, "cond-add-1") or ()
    assert len(with_condition[1].conditions) == 1
    assert (changed(with_condition, "cond-remove-1-0") or ())[1].conditions == ()
    assert (changed(rows, "map-add-0") or ())[0].maps == (MapRow(),)
    as_toml = changed(rows, "rule-toml-1") or ()
    assert as_toml[1].toml == '[[rules]]\nname = "B"\naction = "ignore"'
    assert (changed(as_toml, "rule-form-1") or ()) == rows
    assert changed(rows, "up-0") is None and changed(rows, "rule-up-9") is None
    broken = (RuleRow(name="B", toml="[[rules]]\nname = "),)
    with pytest.raises(RulesError) as caught:
        changed(broken, "rule-form-0")
    assert caught.value.field == "rule.0.toml" and "not TOML" in caught.value.problem


def test_posted_rows_keep_their_order_and_unticked_boxes() -> None:
    posted = {
        "rule.1.name": ["Second"],
        "rule.0.name": [" First "],
        "rule.0.enabled": ["false"],
        "rule.0.cond.0.field": ["from"],
        "rule.0.cond.0.value": ["x"],
        "rule.0.cond.0.negate": ["false", "true"],
        "rule.0.map.0.group": ["sev"],
        "rule.0.map.0.values": ["A = 1\r\nB = 2\r\n"],
    }
    first, second = rows_from_post(posted)
    assert (first.name, first.enabled, second.name, second.enabled) == (
        "First",
        False,
        "Second",
        True,
    )
    assert first.conditions[0].negate is True
    assert first.maps[0].table() == {"to": "priority", "values": {"A": "1", "B": "2"}}


def test_a_catalog_key_lands_on_its_field_naming_the_rule() -> None:
    rows = (
        RuleRow(name="A", maps=(MapRow(group="x"), MapRow(group="sev"))),
        RuleRow(name="T", toml="[[rules]]\n"),
        RuleRow(name="C", conditions=(ConditionRow(), ConditionRow(field="header"))),
    )
    places = [0, 1, 1, 2]  # the TOML row holds two tables
    assert rule_field("rules[0].map.sev.to", rows, places) == (
        "rule.0.map.1.to",
        "Rule 1 (A), map sev to",
    )
    assert rule_field("rules[2].action", rows, places) == ("rule.1.toml", "Rule 2 (T), action")
    assert rule_field("rules[3].conditions[1].field", rows, places) == (
        "rule.2.cond.1.header",
        "Rule 3 (C), condition 2 header",
    )
    assert rule_field("rules[3]", rows, places) == ("rule.2", "Rule 3 (C)")
    assert rule_field("schedule", rows, places) is None
