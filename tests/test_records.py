"""The commands on what deskmail stores: `tickets show`, `people add|list|remove|import`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from deskmail.cli import main
from tests.support.toml_config import write_config


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _maildir_config(tmp_path: Path, database_url: str, **job: Any) -> tuple[str, Path]:
    """A config with one Maildir job "Support" (team IT, fallback user helpdesk)."""
    mailbox = tmp_path / "mailbox"
    for sub in ("new", "cur", "tmp"):
        (mailbox / sub).mkdir(parents=True, exist_ok=True)
    table = {
        "name": "Support",
        "protocol": "maildir",
        "path": str(mailbox),
        "after_processing": "delete",
        "fallback_user": "helpdesk",
        **job,
    }
    return str(write_config(tmp_path / "deskmail.toml", database_url, [table])), mailbox


def _drop(mailbox: Path, name: str, sender: str, subject: str, body: str = "body") -> None:
    raw = (
        f"From: {sender}\r\nTo: support@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <{name}@client.example.com>\r\n\r\n{body}\r\n"
    )
    (mailbox / "new" / f"{name}.eml").write_bytes(raw.encode())


def test_tickets_show_gives_every_field_and_links_both_ways(
    tmp_path: Path, database_url: str
) -> None:
    rule = {
        "name": "Printers",
        "conditions": [{"field": "subject", "op": "contains", "value": "printer"}],
        "set": {"assignee": "bob", "priority": "high", "category": "Hardware"},
    }
    config, mailbox = _maildir_config(
        tmp_path, database_url, group="Service Desk", fallback_site="Head Office", rules=[rule]
    )
    added = _cli(
        "people", "add", "--config", config, "--name", "Bob Chen", "--email", "bob@example.com",
        "--logon", "bob", "--agent",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    _drop(mailbox, "m1", "Alice Martin <alice@example.com>", "Printer jams")
    assert _cli("run-once", "--config", config).exit_code == 0
    # A stranger answers with the bare number: a new ticket, linked to the first.
    _drop(mailbox, "m2", "mallory@example.net", "RE: [Incident] [IT] 1 Printer jams", "me too")
    assert _cli("run-once", "--config", config).exit_code == 0

    first = _cli("tickets", "show", "1", "--config", config)
    assert first.exit_code == 0, first.output
    lines = first.output.splitlines()
    assert lines[0] == "IT-1  [incident] Printer jams"
    assert "  reference:   [Incident] [IT] 1" in lines  # never the token
    assert "  assignee:    Bob Chen" in lines
    assert "  priority:    high" in lines
    assert "  category:    Hardware" in lines
    assert "  group:       Service Desk" in lines
    assert "  site:        Head Office" in lines
    assert "  requester:   helpdesk" in lines
    assert any(line.startswith("  updated:     ") for line in lines)
    assert "  linked from: IT-2  [incident] RE: [Incident] [IT] 1 Printer jams" in lines

    second = _cli("tickets", "show", "2", "--config", config).output.splitlines()
    assert "  linked to:   IT-1  [incident] Printer jams" in second
    assert not any(line.startswith("  linked from:") for line in second)
