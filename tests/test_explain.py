"""`deskmail explain`: it says what the run would do, and changes nothing on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import inspect

from deskmail.cli import EXIT_CONFIG, main
from deskmail.store.engine import create_engine
from deskmail.store.migrate import HEAD, upgrade
from tests.support.jobs import drop_mail, maildir_config


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _fields(output: str) -> dict[str, str]:
    """The "name: value" lines under the Result section's "create ..." line."""
    section = output.split("\nResult ", 1)[1].split("\nAttachments ", 1)[0]
    pairs = (line.strip().split(":", 1) for line in section.splitlines()[2:] if ":" in line)
    return {name: value.strip() for name, value in pairs}


def _tables(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return inspect(connection).get_table_names()
    finally:
        engine.dispose()


@pytest.fixture
def no_database(database_url: str, tmp_path: Path) -> str:
    """A database not created yet: a SQLite file in a folder that does not exist either,
    or an empty PostgreSQL database."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'var' / 'deskmail.db'}"
    return database_url


def test_explain_without_a_database_creates_none_and_says_what_the_run_does(
    tmp_path: Path, no_database: str
) -> None:
    rule = {
        "name": "Printers",
        "conditions": [{"field": "subject", "op": "contains", "value": "printer"}],
        "set": {"priority": "high", "assignee": "helpdesk"},
    }
    config, mailbox = maildir_config(tmp_path, no_database, rules=[rule])
    mail = drop_mail(mailbox, "m1", "Stranger <nobody@example.net>", "Printer jams")

    explained = _cli("explain", str(mail), "--config", str(config))
    assert explained.exit_code == 0, explained.output
    assert "No database yet: what the first run would do, on an empty store." in explained.output
    assert "unknown sender: no person has this address" in explained.output
    assert "create incident IT-1:" in explained.output
    steps = explained.output.split("\nSteps, in order ", 1)[1].split("\nResult ", 1)[0]
    assert steps.splitlines()[1:] == [
        "  1. duplicate: -",
        "  2. thread and references: answers no ticket",
        "  3. automatic mail and bounces: -",
        "  4. processing rules: the mail answers no ticket -> new incident (processor = incident)",
        "  5. fields from the text: -",
        "  6. create new requests: -",
        "  7. flood limit: -",
        "  8. attachment policy: -",
    ]
    assert _fields(explained.output) == {
        "requester": "helpdesk (fallback user, a person the run creates)",
        "site": "Head Office",
        "group": "Service Desk",
        "assignee": "helpdesk",
        "source": "Email",
        "priority": "high",
    }
    assert "    ! group 'Service Desk' matches no group; the run creates it" in explained.output
    assert explained.output.endswith("Nothing was changed.\n")
    if no_database.startswith("sqlite"):
        assert not (tmp_path / "var").exists()
    else:
        assert _tables(no_database) == []

    assert _cli("run-once", "--config", str(config)).exit_code == 0
    shown = _cli("tickets", "show", "1", "--config", str(config)).output.splitlines()
    for line in (
        "  requester:   helpdesk",
        "  site:        Head Office",
        "  group:       Service Desk",
        "  assignee:    helpdesk",
        "  source:      Email",
        "  priority:    high",
    ):
        assert line in shown

    # Now that the run made the fallback person, explain finds it; still no change.
    again = drop_mail(mailbox, "m2", "Stranger <nobody@example.net>", "Printer again")
    second = _cli("explain", str(again), "--config", str(config))
    assert "create incident IT-2:" in second.output
    assert _fields(second.output)["requester"] == "helpdesk (fallback user)"
    assert "No database yet" not in second.output


def test_explain_refuses_a_database_of_another_version_without_upgrading_it(
    tmp_path: Path, database_url: str
) -> None:
    upgrade(database_url, "0004")
    config, mailbox = maildir_config(tmp_path, database_url)
    mail = drop_mail(mailbox, "m1", "alice@example.com", "Hello")
    result = _cli("explain", str(mail), "--config", str(config))
    assert result.exit_code == EXIT_CONFIG
    assert f"database at revision 0004, this deskmail needs {HEAD}" in result.output
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            from deskmail.store.migrate import revision_of

            assert revision_of(connection) == "0004"
    finally:
        engine.dispose()
