"""Processing rules are checked when the file is loaded: file, key and problem in plain words."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from deskmail.config import ConfigError, load_config
from deskmail.config.loader import DATABASE_URL_ENV
from deskmail.config.rules import Condition, Operator, RuleAction

JOB = """
[[jobs]]
name = "Support"
protocol = "maildir"
path = "mail"

[[jobs.rules]]
name = "Fine"
action = "ignore"
conditions = [{ field = "from", op = "domain", value = "example.com" }]
"""

SECOND = '("Support").rules[1]'


@pytest.fixture(autouse=True)
def _no_database_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DATABASE_URL_ENV, raising=False)


def write(folder: Path, rules: str) -> Path:
    path = folder / "deskmail.toml"
    path.write_text(JOB + dedent(rules), encoding="utf-8")
    return path


def problems(folder: Path, rules: str) -> list[str]:
    path = write(folder, rules)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    prefix = f"{path}: jobs[0] "
    lines = str(caught.value).splitlines()
    assert all(line.startswith(prefix) for line in lines), lines
    return [line.removeprefix(prefix) for line in lines]


def condition_problem(folder: Path, condition: str) -> str:
    (problem,) = problems(
        folder,
        f"""
        [[jobs.rules]]
        name = "Second"
        action = "ignore"
        conditions = [{condition}]
        """,
    )
    return problem


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        (
            '{ field = "subject", op = "regex", value = "(urgent" }',
            ".conditions[0].value: is not a valid regular expression (RE2 syntax):"
            " missing ): (urgent (got '(urgent')",
        ),
        (
            '{ field = "subject", op = "regex", value = "a{2,1}" }',
            ".conditions[0].value: is not a valid regular expression (RE2 syntax):"
            " invalid repetition size: {2,1} (got 'a{2,1}')",
        ),
        (
            '{ field = "form", value = "alice" }',
            ".conditions[0].field: must be one of from, to, cc, subject, body, attachment"
            " or header:<Name> (got 'form'); did you mean 'from'?",
        ),
        (
            '{ field = "X-Priority", value = "1" }',
            ".conditions[0].field: must be one of from, to, cc, subject, body, attachment"
            " or header:<Name> (got 'X-Priority')",
        ),
        (
            '{ field = "header:", op = "exists" }',
            ".conditions[0].field: needs a header name after 'header:', such as header:X-Priority",
        ),
        (
            '{ field = "header:X Priority", value = "1" }',
            ".conditions[0].field: has an invalid header name 'X Priority': a header name is"
            " printable ASCII without spaces or ':', such as header:X-Priority",
        ),
        (
            '{ field = "header:Prioritä", value = "1" }',
            ".conditions[0].field: has an invalid header name 'Prioritä': a header name is"
            " printable ASCII without spaces or ':', such as header:X-Priority",
        ),
        (
            '{ field = "subject", op = "domain", value = "example.com" }',
            ".conditions[0].op: 'domain' only works on the address fields from, to, cc,"
            " not on 'subject'; use 'contains' or 'regex' there",
        ),
        (
            '{ field = "from", op = "domain", value = "@example.com" }',
            ".conditions[0].value: must be a domain name such as example.com, without '@' or"
            " spaces; its sub-domains match too (got '@example.com')",
        ),
        (
            '{ field = "to", op = "domain", value = "." }',
            ".conditions[0].value: must be a domain name such as example.com, without '@' or"
            " spaces; its sub-domains match too (got '.')",
        ),
        (
            '{ field = "header:List-Id", op = "exists", value = "yes" }',
            ".conditions[0].value: must be left out with op = 'exists' (it only tests that the"
            " field has a value); use 'equals' or 'contains' to compare",
        ),
        (
            '{ field = "subject" }',
            ".conditions[0].value: is required with op = 'contains'; to test that the field is"
            " present or absent, use op = 'exists' (with negate = true for absent)",
        ),
        (
            '{ field = "subject", op = "regexp", value = "x" }',
            ".conditions[0].op: must be one of contains, equals, regex, domain, exists"
            " (got 'regexp'); did you mean 'regex'?",
        ),
        (
            '{ field = "subject", value = "x", negated = true }',
            ".conditions[0].negated: unknown key (did you mean 'negate'?)",
        ),
    ],
)
def test_bad_condition(tmp_path: Path, condition: str, expected: str) -> None:
    assert condition_problem(tmp_path, condition) == SECOND + expected


def test_rule_that_does_nothing_is_refused(tmp_path: Path) -> None:
    rules = """
    [[jobs.rules]]
    name = "Forgotten"
    enabled = false
    conditions = [{ field = "subject", value = "printer" }]

    [jobs.rules.set]
    """
    assert problems(tmp_path, rules) == [
        f"{SECOND}: does nothing: give it an action, a setting in its set table, a named group"
        " in a regex condition, or stop = true"
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [('""', "must not be empty (got '')"), ('"a\\nb"', "must not contain control characters")],
)
def test_rule_name(tmp_path: Path, name: str, expected: str) -> None:
    (problem,) = problems(tmp_path, f"[[jobs.rules]]\nname = {name}\nstop = true\n")
    assert problem.startswith(f"{SECOND}.name: {expected}")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    rules = """
    [[jobs.rules]]
    name = "Two bad conditions"
    action = "create_event"
    conditions = [
      { field = "body", op = "regex", value = "[" },
      { field = "from", op = "exists" },
      { field = "cc", op = "domain", value = "exa mple.com" },
    ]

    [[jobs.rules]]
    name = "Bad action"
    action = "create_ticket"
    """
    assert problems(tmp_path, rules) == [
        f"{SECOND}.conditions[0].value: is not a valid regular expression (RE2 syntax):"
        " missing ]: [ (got '[')",
        f"{SECOND}.conditions[2].value: must be a domain name such as example.com, without '@'"
        " or spaces; its sub-domains match too (got 'exa mple.com')",
        '("Support").rules[2].action: must be one of create_incident, create_event,'
        " add_to_ticket, ignore, create (got 'create_ticket'); did you mean 'create_incident'?",
    ]


def test_good_rules_load_with_fields_normalised(tmp_path: Path) -> None:
    rules = """
    [[jobs.rules]]
    name = "Monitoring"
    match = "any"
    action = "create_event"
    stop = true
    conditions = [
      { field = "From", op = "domain", value = "monitoring.example.com" },
      { field = "Header:X-Zabbix-Trigger", op = "exists" },
      { field = "attachment", op = "regex", value = '\\.(log|txt)$', negate = true },
    ]
    set = { group = "Operations", assignee = "jdoe" }

    [[jobs.rules]]
    name = "Only settings"
    set = { priority = "High" }
    """
    (job,) = load_config(write(tmp_path, rules)).jobs
    _, monitoring, settings_only = job.rules
    assert monitoring.action is RuleAction.CREATE_EVENT
    assert monitoring.conditions == [
        Condition(field="from", op=Operator.DOMAIN, value="monitoring.example.com"),
        Condition(field="header:X-Zabbix-Trigger", op=Operator.EXISTS),
        Condition(field="attachment", op=Operator.REGEX, value=r"\.(log|txt)$", negate=True),
    ]
    assert monitoring.conditions[1].header == "X-Zabbix-Trigger"
    assert monitoring.conditions[0].header is None
    assert settings_only.action is None
    assert settings_only.set.priority == "High"
