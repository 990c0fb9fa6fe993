"""Object types, custom fields and fields from the text end to end, as a user drives them:
`run-once` on a Maildir, `tickets show`, `tickets list` and `explain`, on SQLite and
PostgreSQL (tests/support/database.py)."""

from __future__ import annotations

import logging
import mailbox
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from deskmail.cli import main
from deskmail.config.loader import load_config
from deskmail.store.engine import open_store
from deskmail.store.models import Ticket, TicketField

CONFIG = """
[database]
url = "{url}"

[storage]
attachments_dir = "blobs"

[[custom_fields]]
name = "host"
label = "Host"
all_types = true

[[custom_fields]]
name = "severity"
type = "choice"
choices = ["CRITICAL", "WARNING", "OK"]

[[custom_fields]]
name = "load"
label = "Load average"
type = "number"

[[custom_fields]]
name = "amount"
type = "number"

[[object_types]]
name = "alert"
label = "Monitoring alert"
kind = "event"
prefix = "ALR"
fields = ["severity", "load"]

[[object_types]]
name = "purchase_order"
label = "Purchase order"
prefix = "PO"
fields = ["amount"]

[[jobs]]
name = "Desk"
protocol = "maildir"
path = "box"
fallback_user = "helpdesk"
group = "Service Desk"

[[jobs.rules]]
name = "Nagios alerts"
conditions = [
  {{ field = "from", op = "domain", value = "nagios.example.com" }},
  {{ field = "subject", op = "regex", value = '(?P<host>[\\w.-]+)/\\w+ is (?P<severity>[A-Z]+)' }},
]
action = "create"
object_type = "alert"
set = {{ group = "Operations" }}
[jobs.rules.map.severity]
to = "priority"
values = {{ CRITICAL = "1 - high", WARNING = "3 - low" }}
default = "4 - none"

[[jobs.rules]]
name = "Load from the body"
conditions = [{{ field = "body", op = "regex", value = '(?m)^Load: (?P<load>\\S+)' }}]

[[jobs.rules]]
name = "Desk group"
conditions = [{{ field = "header:X-Desk-Group", op = "regex", value = '(?P<group>.+)' }}]

[[jobs.rules]]
name = "Purchase orders"
conditions = [
  {{ field = "subject", op = "regex", value = '^Purchase order' }},
  {{ field = "header:X-Order-Amount", op = "regex", value = '(?P<amount>[\\d.]+)' }},
]
action = "create"
object_type = "purchase_order"
"""


def _field(shown: str, name: str) -> str:
    """A field's value on a `tickets show` page."""
    return next(
        line.split(":", 1)[1].strip()
        for line in shown.splitlines()
        if line.startswith(f"  {name}:")
    )


def _cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _mail(sender: str, subject: str, body: str, *headers: str) -> bytes:
    lines = [f"From: {sender}", "To: desk@example.com", f"Subject: {subject}", *headers]
    lines += [f"Message-ID: <{_id(subject)}>", "", body]
    return "\r\n".join(lines).encode()


def _id(subject: str) -> str:
    return subject.replace(" ", ".").replace("/", ".") + "@example.com"


@pytest.fixture
def desk(tmp_path: Path, database_url: str) -> Path:
    config = tmp_path / "deskmail.toml"
    config.write_text(CONFIG.format(url=database_url), encoding="utf-8")
    box = mailbox.Maildir(tmp_path / "box", create=True)
    box.add(
        _mail(
            "Nagios <nagios@nagios.example.com>",
            "PROBLEM web01.example.com/HTTP is CRITICAL",
            "Load: 7.5\n",
        )
    )
    box.add(
        _mail("Nagios <nagios@nagios.example.com>", "PROBLEM db02/DISK is UNKNOWN", "Load: abc\n")
    )
    box.add(
        _mail(
            "Ann <ann@example.com>",
            "Purchase order for toner",
            "Please buy.",
            "X-Order-Amount: 120.50",
        )
    )
    box.add(_mail("Ann <ann@example.com>", "Printer broken", "Load: 3\n", "X-Desk-Group: Hackers"))
    return config


def test_run_once_makes_records_of_each_type_with_their_fields(
    desk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="deskmail"):
        run = _cli("run-once", "--config", str(desk))
    assert run.exit_code == 0, run.output
    assert "fetched 4, created 4, updated 0, quarantined 0" in run.output

    config = load_config(desk)
    store = open_store(config)
    try:
        with store.session() as session:
            tickets = {
                t.subject: t
                for t in session.scalars(select(Ticket).options(selectinload(Ticket.group)))
            }
            stored = {
                (tickets_id, name): value
                for tickets_id, name, value in session.execute(
                    select(TicketField.ticket_id, TicketField.name, TicketField.value)
                )
            }
    finally:
        store.dispose()
    alert = tickets["PROBLEM web01.example.com/HTTP is CRITICAL"]
    unknown = tickets["PROBLEM db02/DISK is UNKNOWN"]
    order = tickets["Purchase order for toner"]
    incident = tickets["Printer broken"]
    assert (alert.object_type, alert.kind.value, alert.priority) == ("alert", "event", "1 - high")
    assert (unknown.object_type, unknown.priority) == ("alert", "4 - none")
    assert (order.object_type, order.kind.value) == ("purchase_order", "incident")
    assert (incident.object_type, incident.kind.value) == (None, "incident")
    # "Hackers" names no group: a mail creates none, the job's group stays.
    assert incident.group is not None and incident.group.name == "Service Desk"
    # One team, one counter: a number names one record of the team whatever its type.
    assert sorted(t.number for t in tickets.values()) == [1, 2, 3, 4]
    assert stored == {
        (alert.id, "host"): "web01.example.com",
        (alert.id, "severity"): "CRITICAL",
        (alert.id, "load"): "7.5",
        (unknown.id, "host"): "db02",
        (order.id, "amount"): "120.5",
    }

    # Which field and why, never the value from the mail.
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    label = f"IT-{unknown.number}"
    assert (
        f"ticket {label}: field 'severity' from rule 'Nagios alerts' left empty: the value is"
        in ("\n".join(warnings))
    )
    assert any(
        w == f"ticket {label}: field 'load' from rule 'Load from the body' left empty:"
        " the value is not a number (number field)"
        for w in warnings
    )
    assert any(
        w == f"ticket IT-{incident.number}: field 'group' from rule 'Desk group' not taken:"
        " the captured value names no group (a mail does not create one)"
        for w in warnings
    )
    assert not any("abc" in w or "UNKNOWN" in w or "Hackers" in w for w in warnings)
    printer = f"IT-{incident.number}"
    assert any(
        f"ticket {printer}: field 'load'" in w and "incidents and events have no" in w
        for w in warnings
    )

    shown = _cli("tickets", "show", str(alert.number), "--config", str(desk)).output
    assert f"IT-{alert.number}  [alert] PROBLEM web01.example.com/HTTP is CRITICAL" in shown
    assert f"type:         Monitoring alert (alert, made as event), ALR-{alert.number}" in shown
    assert "Host:         web01.example.com" in shown
    assert "severity:     CRITICAL" in shown
    assert "Load average: 7.5" in shown
    assert "priority:     1 - high" in shown
    assert "group:        Operations" in shown

    shown = _cli("tickets", "show", str(unknown.number), "--config", str(desk)).output
    assert "severity:     -" in shown and "Load average: -" in shown
    assert "Values from the mail that were left out:" in shown  # the note on the ticket
    assert (
        "- field 'load' from rule 'Load from the body' left empty: the value is not a number"
        in shown
    )

    shown = _cli("tickets", "show", str(order.number), "--config", str(desk)).output
    assert f"Purchase order (purchase_order, made as incident), PO-{order.number}" in shown
    assert _field(shown, "amount") == "120.5" and _field(shown, "Host") == "-"

    listing = _cli("tickets", "list", "--config", str(desk)).output
    assert f"IT-{order.number}       purchase_order" in listing
    assert f"IT-{incident.number}       incident" in listing


def _order(desk: Path) -> tuple[int, list[str], list[tuple[str, str]]]:
    """The purchase order's number, its activities' bodies and its fields."""
    store = open_store(load_config(desk))
    try:
        with store.session() as session:
            order = session.scalars(
                select(Ticket).where(Ticket.subject == "Purchase order for toner")
            ).one()
            assert order.object_type == "purchase_order"
            bodies = [a.body for a in order.activities]
            return order.number, bodies, [(f.name, f.value) for f in order.fields]
    finally:
        store.dispose()


def test_a_reply_threads_to_a_record_of_an_object_type_and_changes_no_field(desk: Path) -> None:
    assert _cli("run-once", "--config", str(desk)).exit_code == 0
    number, _, _ = _order(desk)
    box = mailbox.Maildir(desk.parent / "box", create=False)
    box.add(
        _mail(
            "Ann <ann@example.com>",
            "RE: Purchase order for toner",
            "Make it two.",
            f"In-Reply-To: <{_id('Purchase order for toner')}>",
            "X-Order-Amount: 999",
        )
    )
    run = _cli("run-once", "--config", str(desk))
    assert "fetched 1, created 0, updated 1" in run.output, run.output
    # The type's reference in a subject threads too: "[PO-3]".
    box.add(_mail("Ann <ann@example.com>", f"[PO-{number}] delivered?", "Any news?"))
    run = _cli("run-once", "--config", str(desk), "--show")
    assert "fetched 1, created 0, updated 1" in run.output, run.output
    assert f"updated IT-{number}" in run.output
    assert _order(desk) == (number, ["Make it two.", "Any news?"], [("amount", "120.5")])


def test_a_group_named_by_the_mail_is_taken_when_it_exists(desk: Path) -> None:
    assert _cli("run-once", "--config", str(desk)).exit_code == 0  # the alerts make Operations
    box = mailbox.Maildir(desk.parent / "box", create=False)
    box.add(_mail("Bo <bo@example.com>", "Switch down", "x", "X-Desk-Group: Operations"))
    assert "created 1" in _cli("run-once", "--config", str(desk)).output
    store = open_store(load_config(desk))
    try:
        with store.session() as session:
            ticket = session.scalars(select(Ticket).where(Ticket.subject == "Switch down")).one()
            assert ticket.group is not None and ticket.group.name == "Operations"
    finally:
        store.dispose()


def test_explain_says_what_each_rule_extracted_and_what_was_left_out(
    desk: Path, tmp_path: Path
) -> None:
    mail = tmp_path / "alert.eml"
    mail.write_bytes(
        _mail("Nagios <nagios@nagios.example.com>", "PROBLEM web01/HTTP is WARNING", "Load: high\n")
    )
    explained = _cli("explain", "--config", str(desk), str(mail))
    assert explained.exit_code == 0, explained.output
    out = explained.output
    section = out[out.index("Fields from the rules and the text") : out.index("Steps, in order")]
    assert section.splitlines()[1:-1] == [
        "  rule 'Nagios alerts': host -> custom field host = 'web01'",
        "  rule 'Nagios alerts': severity -> map.severity -> field priority = '3 - low'",
        "  rule 'Nagios alerts': severity -> custom field severity = 'WARNING'",
        "  ! rule 'Load from the body': load -> custom field load left empty:"
        " the value is not a number (number field)",
    ]
    assert "5. fields from the text: set host, priority, severity; 1 value left out" in out
    assert "create Monitoring alert (alert, made as event) IT-1, ALR-1:" in out
    assert "    priority:  3 - low" in out
    assert "    Host:      web01" in out
    assert "    severity:  WARNING" in out
    assert (
        "    ! field 'load' from rule 'Load from the body' left empty: the value is not a number"
        in out
    )


SET_CONFIG = """
[database]
url = "{url}"

[storage]
attachments_dir = "blobs"

[[custom_fields]]
name = "origin"
label = "Origin"
all_types = true

[[custom_fields]]
name = "severity"
type = "choice"
choices = ["CRITICAL", "WARNING", "OK"]

[[custom_fields]]
name = "due"
label = "Due"
type = "date"

[[custom_fields]]
name = "cost"
type = "number"

[[object_types]]
name = "alert"
kind = "event"
prefix = "ALR"
fields = ["severity", "due", "cost"]

[[jobs]]
name = "Desk"
protocol = "maildir"
path = "box"
fallback_user = "helpdesk"

[[jobs.rules]]
name = "Alerts"
conditions = [{{ field = "from", op = "domain", value = "nagios.example.com" }}]
action = "create"
object_type = "alert"
set.priority = "2 - medium"
set.custom = {{ severity = "warning", due = 2026-12-24, cost = 12.50 }}

[[jobs.rules]]
name = "Severity from the subject"
conditions = [{{ field = "subject", op = "regex", value = ' is (?P<severity>[A-Z]+)$' }}]

[[jobs.rules]]
name = "Everything"
set.custom.origin = "mail"

[[jobs.rules]]
name = "Orders"
conditions = [{{ field = "subject", value = "order" }}]
set.custom.cost = 99
"""


@pytest.fixture
def set_desk(tmp_path: Path, database_url: str) -> Path:
    config = tmp_path / "deskmail.toml"
    config.write_text(SET_CONFIG.format(url=database_url), encoding="utf-8")
    box = mailbox.Maildir(tmp_path / "box", create=True)
    nagios = "Nagios <nagios@nagios.example.com>"
    box.add(_mail(nagios, "web01/HTTP is CRITICAL", "down"))
    box.add(_mail(nagios, "db02/DISK is UNKNOWN", "odd"))
    box.add(_mail(nagios, "Backups done", "fine"))
    box.add(_mail("Ann <ann@example.com>", "Toner order", "Please buy."))
    return config


def _fields(desk: Path) -> dict[str, dict[str, str]]:
    """Each ticket's stored custom fields, by subject."""
    store = open_store(load_config(desk))
    try:
        with store.session() as session:
            tickets = session.scalars(select(Ticket).options(selectinload(Ticket.fields)))
            return {t.subject: {f.name: f.value for f in t.fields} for t in tickets}
    finally:
        store.dispose()


def test_a_rule_gives_custom_fields_fixed_values_a_fitting_capture_overrides(
    set_desk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="deskmail"):
        run = _cli("run-once", "--config", str(set_desk), "--show")
    assert run.exit_code == 0, run.output
    assert "fetched 4, created 4, updated 0, quarantined 0" in run.output
    alert = {"due": "2026-12-24", "cost": "12.5", "origin": "mail"}
    assert _fields(set_desk) == {
        "web01/HTTP is CRITICAL": alert | {"severity": "CRITICAL"},  # the capture fits
        "db02/DISK is UNKNOWN": alert | {"severity": "WARNING"},  # it does not: set stays
        "Backups done": alert | {"severity": "WARNING"},  # nothing captured
        "Toner order": {"origin": "mail"},  # an incident has no cost
    }
    warnings = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert (
        "field 'severity' from rule 'Severity from the subject' not taken, the value set before"
        " it stays: the value is not one of the choices (CRITICAL, WARNING, OK) (choice field)"
    ) in warnings
    assert (
        "field 'cost' from rule 'Orders' left empty: incidents and events have no field 'cost'"
    ) in warnings
    assert "UNKNOWN" not in warnings

    shown = _cli("tickets", "show", "2", "--config", str(set_desk)).output
    assert "db02/DISK is UNKNOWN" in shown
    assert _field(shown, "severity") == "WARNING"
    assert _field(shown, "Due") == "2026-12-24"
    assert _field(shown, "cost") == "12.5"
    assert _field(shown, "Origin") == "mail"
    assert _field(shown, "priority") == "2 - medium"


def test_explain_shows_a_set_value_and_the_rule_it_came_from(
    set_desk: Path, tmp_path: Path
) -> None:
    mail = tmp_path / "backup.eml"
    mail.write_bytes(_mail("Nagios <nagios@nagios.example.com>", "Backups done", "fine"))
    explained = _cli("explain", "--config", str(set_desk), str(mail))
    assert explained.exit_code == 0, explained.output
    out = explained.output
    section = out[out.index("Fields from the rules and the text") : out.index("Steps, in order")]
    assert section.splitlines()[1:-1] == [
        "  rule 'Alerts': set custom field severity = 'WARNING'",
        "  rule 'Alerts': set custom field due = '2026-12-24'",
        "  rule 'Alerts': set custom field cost = '12.5'",
        "  rule 'Everything': set custom field origin = 'mail'",
    ]
    assert (
        "  - rule 'Alerts': from domain 'nagios.example.com' matched -> create alert;"
        " set priority = '2 - medium', custom.severity = 'warning', custom.due = '2026-12-24',"
        " custom.cost = '12.5'"
    ) in out
    result = out[out.index("Result ---") :]
    assert "    severity:  WARNING" in result
    assert "    Due:       2026-12-24" in result
    assert "    Origin:    mail" in result
    # A capture that fits is shown after the set value it overrides.
    mail.write_bytes(_mail("Nagios <nagios@nagios.example.com>", "web01/HTTP is OK", "up"))
    out = _cli("explain", "--config", str(set_desk), str(mail)).output
    assert "  rule 'Severity from the subject': severity -> custom field severity = 'OK'" in out, (
        out
    )
    assert "    severity:  OK" in out
