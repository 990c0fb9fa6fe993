"""The job editor's processing rules as a rule builder (web/forms/rule_rows.py), as plain
forms: every rule the model accepts comes back unchanged from a save of the untouched form
(shown as inputs, or as TOML when the inputs cannot hold it); rules are added, reordered,
given conditions and switched to TOML and back by buttons; a problem is shown next to its
field naming the rule's number and name."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from deskmail.jobs.catalog import JobCatalog
from deskmail.store.accounts import Role
from deskmail.store.sealing import SECRET_KEY_ENV
from tests.web.conftest import LiveWeb
from tests.web.form_fields import as_data, form_fields
from tests.web.test_job_editor import field_error, new_mailbox

RULES: list[dict[str, Any]] = [
    {
        "name": "Monitoring alerts",
        "match": "any",
        "conditions": [
            {"field": "from", "op": "domain", "value": "monitor.example.com"},
            {"field": "header:X-Nagios", "op": "exists"},
            {
                "field": "subject",
                "op": "regex",
                "value": r"^(?P<severity>[A-Z]+): (?P<category>\w+)",
            },
        ],
        "action": "create_event",
        "set": {"group": "Operations", "source": "Nagios"},
        "map": {
            "severity": {
                "to": "priority",
                "values": {"CRITICAL": "1 - high", "WARNING": "2 - medium"},
                "default": "3 - low",
            }
        },
        "stop": True,
    },
    {
        "name": "Newsletters",
        "enabled": False,
        "conditions": [
            {"field": "subject", "value": "newsletter"},
            {"field": "body", "op": "equals", "value": "unsubscribe", "negate": True},
            {"field": "attachment", "op": "contains", "value": ".ics"},
            {"field": "cc", "value": "list@"},
        ],
        "action": "ignore",
    },
    {"name": "Printers", "set": {"priority": "2 - medium", "category": "Printer"}},
    {
        "name": "Replies join",
        "action": "add_to_ticket",
        "conditions": [{"field": "to", "value": "x"}],
    },
    # What the inputs cannot hold: shown as TOML, and kept as it is.
    {"name": "Two lines", "action": "ignore", "conditions": [{"field": "body", "value": "a\nb"}]},
    {"name": "Empty priority", "action": "ignore", "set": {"priority": ""}},
    {
        "name": "Odd map",
        "conditions": [{"field": "subject", "op": "regex", "value": "(?P<p>.)"}],
        "map": {"p": {"to": "priority", "values": {"a=b": "1"}}},
    },
]


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_KEY_ENV, Fernet.generate_key().decode())


def _job(web: LiveWeb, tmp_path: Path, rules: list[dict[str, Any]]) -> JobCatalog:
    catalog = JobCatalog(web.config, web.store)
    box = new_mailbox(tmp_path, "drop")
    catalog.create({"name": "Drop", "protocol": "maildir", "path": str(box), "rules": rules})
    return catalog


def _dumped(catalog: JobCatalog) -> list[dict[str, Any]]:
    settings = catalog.get("Drop").settings
    assert settings is not None
    return [rule.model_dump(mode="json") for rule in settings.rules]


def test_every_rule_comes_back_unchanged_from_the_untouched_form(
    web: LiveWeb, tmp_path: Path
) -> None:
    catalog = _job(web, tmp_path, RULES)
    before = _dumped(catalog)
    client = web.browser_client(Role.ADMIN)
    page = client.get("/jobs/Drop/edit").text
    # The first four as inputs, the last three as TOML with the reason.
    assert 'name="rule.0.cond.2.value"' in page and 'name="rule.0.map.0.values"' in page
    assert 'name="rule.3.action"' in page
    assert [n for n in range(7) if f'name="rule.{n}.toml"' in page] == [4, 5, 6]
    assert "a line break" in page and "is empty" in page and "KEY = value" in page
    saved = client.post("/jobs/Drop/edit", data=as_data([*form_fields(page), ("do", "save")]))
    assert saved.status_code == 303, saved.text
    assert catalog.get("Drop").revision == 2
    assert _dumped(catalog) == before


def test_rules_are_built_reordered_and_saved_without_javascript(
    web: LiveWeb, tmp_path: Path
) -> None:
    catalog = _job(web, tmp_path, [])
    client = web.browser_client(Role.ADMIN)
    page = client.get("/jobs/Drop/edit").text
    assert "No processing rule" in page

    def press(page: str, do: str, **typed: str) -> str:
        fields = [(k, typed.pop(k)) if k in typed else (k, v) for k, v in form_fields(page)]
        answer = client.post(
            "/jobs/Drop/edit", data=as_data(fields + list(typed.items()) + [("do", do)])
        )
        assert answer.status_code in (200, 303), answer.text
        return answer.text

    page = press(page, "rule-add")
    page = press(
        page,
        "rule-add",
        **{
            "rule.0.name": "Printers",
            "rule.0.cond.0.value": "printer",
            "rule.0.set.priority": "2 - medium",
        },
    )
    page = press(
        page,
        "cond-add-1",
        **{"rule.1.name": "Alerts", "rule.1.cond.0.field": "from", "rule.1.cond.0.op": "domain"},
    )
    page = press(
        page,
        "rule-up-1",
        **{
            "rule.1.cond.0.value": "monitor.example.com",
            "rule.1.cond.1.field": "header",
            "rule.1.cond.1.header": "X-Nagios",
            "rule.1.cond.1.op": "exists",
            "rule.1.match": "any",
            "rule.1.action": "create_event",
        },
    )
    legends = re.findall(r"<legend>(Rule \d+: [^<]+)</legend>", page)
    assert legends == ["Rule 1: Alerts", "Rule 2: Printers"]
    # Every rule as TOML and back to the form: nothing lost on the way.
    as_toml = press(page, "rules-toml")
    assert 'name="rules"' in as_toml and 'field = "header:X-Nagios"' in unescape(as_toml)
    page = press(as_toml, "rules-form")
    press(page, "save")
    settings = catalog.get("Drop").settings
    assert settings is not None
    alerts, printers = settings.rules
    assert (alerts.name, alerts.match.value, alerts.action) == ("Alerts", "any", "create_event")
    assert [(c.field, c.op.value, c.value) for c in alerts.conditions] == [
        ("from", "domain", "monitor.example.com"),
        ("header:X-Nagios", "exists", ""),
    ]
    assert printers.set.priority == "2 - medium" and printers.conditions[0].value == "printer"


def test_a_bad_pattern_is_refused_next_to_its_field_naming_the_rule(
    web: LiveWeb, tmp_path: Path
) -> None:
    catalog = _job(web, tmp_path, [{"name": "First", "action": "ignore"}])
    client = web.browser_client(Role.ADMIN)
    page = client.get("/jobs/Drop/edit").text
    page = client.post(
        "/jobs/Drop/edit", data=as_data([*form_fields(page), ("do", "rule-add")])
    ).text
    fields = [
        (k, {"rule.1.name": "Alerts", "rule.1.cond.0.op": "regex"}.get(k, v))
        for k, v in form_fields(page)
    ]
    fields = [(k, "(?P<sev" if k == "rule.1.cond.0.value" else v) for k, v in fields]
    refused = client.post("/jobs/Drop/edit", data=as_data([*fields, ("do", "save")]))
    assert refused.status_code == 422
    shown = field_error(refused.text, "rule.1.cond.0.value")
    assert shown.startswith("Rule 2 (Alerts), condition 1 value: is not a valid regular")
    assert 'value="(?P&lt;sev"' in refused.text  # what was typed stays
    assert catalog.get("Drop").revision == 1
    # A rule-level problem goes above the rule; a bad TOML rule on its textarea.
    fields = [(k, "create" if k == "rule.0.action" else v) for k, v in form_fields(page)]
    refused = client.post("/jobs/Drop/edit", data=as_data([*fields, ("do", "save")]))
    assert "Rule 1 (First): action = 'create' needs object_type" in unescape(
        field_error(refused.text, "rule.0")
    )
    as_toml = client.post(
        "/jobs/Drop/edit", data=as_data([*form_fields(page), ("do", "rule-toml-0")])
    )
    fields = [
        (k, '[[rules]]\nname = "First"\naction = "ignoore"' if k == "rule.0.toml" else v)
        for k, v in form_fields(as_toml.text)
    ]
    refused = client.post("/jobs/Drop/edit", data=as_data([*fields, ("do", "save")]))
    assert "Rule 1 (First), action: must be one of" in field_error(refused.text, "rule.0.toml")
    back = client.post("/jobs/Drop/edit", data=as_data([*fields, ("do", "rule-form-0")]))
    assert back.status_code == 200 and 'name="rule.0.action"' in back.text
