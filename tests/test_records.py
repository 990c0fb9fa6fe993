"""The commands on what deskmail stores: `tickets show`, `people add|list|remove|import`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from deskmail.cli import EXIT_CONFIG, main
from tests.support.jobs import drop_mail, maildir_config


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _maildir_config(tmp_path: Path, database_url: str, **job: Any) -> tuple[str, Path]:
    config, mailbox = maildir_config(tmp_path, database_url, **job)
    return str(config), mailbox


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
    drop_mail(mailbox, "m1", "Alice Martin <alice@example.com>", "Printer jams")
    assert _cli("run-once", "--config", config).exit_code == 0
    # A stranger answers with the bare number: a new ticket, linked to the first.
    drop_mail(mailbox, "m2", "mallory@example.net", "RE: [Incident] [IT] 1 Printer jams", "me too")
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


def _add(config: str, name: str, *emails: str, logon: str | None = None) -> Result:
    args = ["people", "add", "--config", config, "--name", name]
    for email in emails:
        args += ["--email", email]
    return _cli(*args, *(["--logon", logon] if logon else []))


def test_people_add_refuses_an_address_or_logon_someone_has(
    tmp_path: Path, database_url: str
) -> None:
    config, _ = _maildir_config(tmp_path, database_url)
    assert _add(config, "Alice Martin", "alice@example.com", logon="alice").exit_code == 0

    again = _add(config, "Alice M.", "a.martin@example.com", "ALICE@Example.com")
    assert again.exit_code == EXIT_CONFIG
    assert (
        again.output == "deskmail: alice@example.com already belongs to Alice Martin (person 1)\n"
    )
    same_logon = _add(config, "Alice Two", "alice2@example.com", logon="alice")
    assert same_logon.exit_code == EXIT_CONFIG
    assert "logon alice already belongs to Alice Martin (person 1)" in same_logon.output
    bad = _add(config, "Nobody", "not-an-address")
    assert bad.exit_code == EXIT_CONFIG
    assert "'not-an-address' is not an e-mail address" in bad.output

    listing = _cli("people", "list", "--config", config).output.splitlines()
    assert len(listing) == 2  # the header and Alice: nothing of the refused ones was written
    assert listing[1].split() == ["1", "Alice", "Martin", "alice", "-", "alice@example.com"]


def test_people_remove_keeps_tickets_and_detaches_only_when_asked(
    tmp_path: Path, database_url: str
) -> None:
    config, mailbox = _maildir_config(tmp_path, database_url)
    _add(config, "Alice Martin", "alice@example.com", "a.martin@example.com")
    _add(config, "Bob Chen", "bob@example.com")
    drop_mail(mailbox, "m1", "Alice Martin <alice@example.com>", "Printer jams")
    assert _cli("run-once", "--config", config).exit_code == 0

    unknown = _cli("people", "remove", "--config", config, "carol@example.com")
    assert unknown.exit_code == 1
    assert "no person with id or address 'carol@example.com'" in unknown.output
    bob = _cli("people", "remove", "--config", config, "2")
    assert (bob.exit_code, bob.output) == (0, "removed Bob Chen (person 2)\n")

    refused = _cli("people", "remove", "--config", config, "A.Martin@example.com")
    assert refused.exit_code == EXIT_CONFIG
    assert "Alice Martin (person 1) is requester of 1 ticket; nothing removed" in refused.output
    assert "Alice Martin" in _cli("people", "list", "--config", config).output

    detached = _cli("people", "remove", "--config", config, "a.martin@example.com", "--detach")
    assert detached.exit_code == 0, detached.output
    assert detached.output == (
        "removed Alice Martin (person 1); kept without them: requester of 1 ticket\n"
    )
    assert "Alice Martin" not in _cli("people", "list", "--config", config).output
    shown = _cli("tickets", "show", "1", "--config", config).output.splitlines()
    assert "  from:        Alice Martin <alice@example.com>" in shown
    assert "  requester:   -" in shown


def test_people_import_loads_a_directory_export_in_one_go(
    tmp_path: Path, database_url: str
) -> None:
    config, _ = _maildir_config(tmp_path, database_url)
    export = tmp_path / "people.csv"
    export.write_text(
        "\ufeffName;Addresses;Logon;Site\n"
        "Alice Martin;alice@example.com a.martin@example.com;alice;Head Office\n"
        '"Chen, Bob";BOB@example.com;;Lyon\n'
        "\n"
        "Carol Diaz;carol@example.com;carol;Head Office\n",
        encoding="utf-8",
    )
    result = _cli("people", "import", "--config", config, str(export))
    assert (result.exit_code, result.output) == (0, f"imported 3 people from {export}\n")
    listing = _cli("people", "list", "--config", config).output
    assert "alice@example.com, a.martin@example.com" in listing
    assert "Chen, Bob" in listing and "bob@example.com" in listing
    assert listing.count("Head Office") == 2


def test_people_import_reports_every_bad_row_and_imports_nothing(
    tmp_path: Path, database_url: str
) -> None:
    config, _ = _maildir_config(tmp_path, database_url)
    _add(config, "Dave Old", "dave@example.com", logon="dave")
    export = tmp_path / "people.csv"
    export.write_text(
        "name,addresses,logon,site\n"
        "Alice Martin,alice@example.com,alice,Head Office\n"  # good, but not imported
        ",nobody@example.com,,\n"
        "Bob Chen,bob@,bob,\n"
        "Alice Again,ALICE@example.com,,\n"
        "David,dave@example.com,dave,\n",
        encoding="utf-8",
    )
    result = _cli("people", "import", "--config", config, str(export))
    assert result.exit_code == EXIT_CONFIG
    assert result.output.splitlines() == [
        f"deskmail: {export}: line 3: no name",
        f"deskmail: {export}: line 4: 'bob@' is not an e-mail address",
        f"deskmail: {export}: line 5: alice@example.com is also on line 2",
        f"deskmail: {export}: line 6: dave@example.com already belongs to Dave Old (person 1)",
        f"deskmail: {export}: line 6: logon dave already belongs to Dave Old (person 1)",
        f"deskmail: {export}: nothing imported (5 problems)",
    ]
    listing = _cli("people", "list", "--config", config).output.splitlines()
    assert len(listing) == 2  # the header and Dave: Alice, though good, waits for a clean file

    export.write_text("name,email\nAlice,alice@example.com\n", encoding="utf-8")
    header = _cli("people", "import", "--config", config, str(export))
    assert header.exit_code == EXIT_CONFIG
    assert header.output == (
        f"deskmail: {export}: line 1: unknown column(s) email; missing addresses"
        " (found: name, email); expected a header row with the columns name, addresses,"
        " logon, site (name, addresses required)\n"
    )
