"""The per-message time budget (intake/budget.py, job key message_budget_seconds).

End to end: `deskmail run-once` on a real Dovecot mailbox, on SQLite and PostgreSQL,
with one mail made slow by the test hook of intake/faults.py (DESKMAIL_SLOW_SUBJECT):
that mail is quarantined with the budget as its reason and its raw bytes, it stays
on the server, and the mails before and after it become tickets. The same through
`deskmail serve` (a job thread woken by IDLE), without the hook: a large HTML export
against a small budget.
"""

from __future__ import annotations

import hashlib
import signal
import threading
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from deskmail.apply.context import resolve_context
from deskmail.cli import main
from deskmail.config.errors import ConfigError
from deskmail.config.fate import Fate
from deskmail.config.loader import load_config
from deskmail.config.models import JobConfig
from deskmail.intake.budget import OverBudget, limited
from deskmail.intake.parse_ahead import prepare
from deskmail.intake.process import take_in
from deskmail.sources.base import FetchedMessage
from deskmail.store.engine import Store
from deskmail.store.models import IntakeRecord, Ticket, TicketKind
from tests.support.dovecot import Dovecot
from tests.support.toml_config import job_table, write_config
from tests.test_daemon import finished_runs, imap_job, serving, wait_for

ENV = {"BUDGET_PW": Dovecot.password}
SLOW = "spins-until-stopped"


def _mail(subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Alice Martin <alice@example.com>"
    msg["To"] = "support@example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="client.example.com")
    msg.set_content("The printer on floor 2 jams.\n")
    return msg.as_bytes()


def test_a_mail_over_its_budget_is_quarantined_and_the_batch_goes_on(
    dovecot: Dovecot, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = dovecot.user("budget")
    table = job_table(
        dovecot.job(user),
        name="Support",
        password_env="BUDGET_PW",
        after_processing="delete",
        fallback_user="helpdesk",
        message_budget_seconds=1,
    )
    config = write_config(tmp_path / "deskmail.toml", database_url, [table])
    slow = _mail(f"Printer {SLOW}")
    for raw in (_mail("First request"), slow, _mail("Third request")):
        dovecot.append(user, raw)
    monkeypatch.setenv("DESKMAIL_SLOW_SUBJECT", SLOW)

    result = CliRunner().invoke(
        main, ["run-once", "--config", str(config)], env=ENV, catch_exceptions=False
    )

    assert result.exit_code in (0, 3), result.output
    store = Store(database_url, tmp_path / "blobs")
    with store.session() as session:
        tickets = list(session.scalars(select(Ticket)))
        subjects = sorted(t.subject for t in tickets if t.kind is TicketKind.INCIDENT)
        events = [t.subject for t in tickets if t.kind is TicketKind.EVENT]
        records = list(session.scalars(select(IntakeRecord).order_by(IntakeRecord.id)))
    assert subjects == ["First request", "Third request"]
    assert events == [f'Mail could not be processed (job "Support"): "Printer {SLOW}"']
    (held,) = [r for r in records if r.outcome is Fate.QUARANTINED]
    assert held.error == ("preprocess and classify: over the processing budget of 1 s per message")
    assert held.raw_sha256 is not None
    kept = store.blobs.path(held.raw_sha256).read_bytes()  # as the server gave it (CRLF)
    assert hashlib.sha256(kept).hexdigest() == held.raw_sha256
    assert kept.replace(b"\r\n", b"\n") == slow
    assert dovecot.count(user) == 1  # the other two were deleted once done

    # Without the hook the same mail takes no time: a retry makes its ticket.
    monkeypatch.delenv("DESKMAIL_SLOW_SUBJECT")
    retry = CliRunner().invoke(
        main, ["quarantine", "retry", str(held.id), "--config", str(config)], env=ENV
    )
    assert retry.exit_code == 0, retry.output
    with store.session() as session:
        assert session.scalar(select(Ticket).where(Ticket.subject == f"Printer {SLOW}"))
    store.dispose()


def test_a_parse_over_its_budget_in_the_parsing_worker_is_quarantined(
    dovecot: Dovecot, tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run-once --parse-worker: the budget stops the parse in the worker process."""
    user = dovecot.user("budgetw")
    table = job_table(
        dovecot.job(user),
        name="Support",
        password_env="BUDGET_PW",
        after_processing="delete",
        fallback_user="helpdesk",
        message_budget_seconds=1,
        fetch_batch=1,  # more new mail than one batch: the worker is used
    )
    config = write_config(tmp_path / "deskmail.toml", database_url, [table])
    for raw in (_mail("First request"), _mail(f"Printer {SLOW}"), _mail("Third request")):
        dovecot.append(user, raw)
    monkeypatch.setenv("DESKMAIL_SLOW_PARSE", SLOW)  # the worker inherits it

    result = CliRunner().invoke(
        main,
        ["run-once", "--config", str(config), "--parse-worker"],
        env=ENV,
        catch_exceptions=False,
    )

    assert result.exit_code in (0, 3), result.output
    store = Store(database_url, tmp_path / "blobs")
    with store.session() as session:
        incidents = session.scalars(select(Ticket).where(Ticket.kind == TicketKind.INCIDENT))
        subjects = sorted(t.subject for t in incidents)
        (held,) = session.scalars(
            select(IntakeRecord).where(IntakeRecord.outcome == Fate.QUARANTINED)
        )
    assert subjects == ["First request", "Third request"]
    assert held.error == "parse: over the processing budget of 1 s per message"
    assert dovecot.count(user) == 1
    store.dispose()


def test_a_parse_over_its_budget_is_quarantined_as_such(store: Store) -> None:
    # Long enough to parse that a budget of a microsecond always runs out.
    raw = _mail("Big") + b"".join(b"line %d of the log\n" % i for i in range(200_000))
    prepared = prepare(raw, None, budget=1e-6)
    assert prepared.message is None and prepared.sha256 == hashlib.sha256(raw).hexdigest()
    job = JobConfig(name="Support", protocol="maildir", path="mail")
    with store.transaction() as session:
        context = resolve_context(session, job)
    outcome = take_in(store, job, context, FetchedMessage("k1", raw), prepared=prepared)
    assert outcome.result is Fate.QUARANTINED
    assert outcome.error == "parse: over the processing budget of 30 s per message"
    with store.session() as session:
        (record,) = session.scalars(select(IntakeRecord))
    assert record.outcome is Fate.QUARANTINED and record.raw_sha256 == prepared.sha256
    assert store.blobs.path(prepared.sha256).read_bytes() == raw


def test_the_budget_stops_a_runaway_loop_in_a_worker_thread_too() -> None:
    stopped: list[float] = []

    def spin() -> None:
        started = time.monotonic()
        try:
            with limited(0.2):
                while time.monotonic() - started < 60:
                    pass
        except OverBudget:
            stopped.append(time.monotonic() - started)

    worker = threading.Thread(target=spin)  # a daemon's job thread: no signals there
    worker.start()
    worker.join(70)
    assert len(stopped) == 1 and stopped[0] < 30


def test_a_block_within_its_budget_leaves_nothing_armed() -> None:
    for seconds in (0.05, 0.05):
        with limited(seconds):
            total = sum(range(1000))
        time.sleep(0.1)  # an alarm left armed would raise here
    assert total == 499500

    def in_thread() -> None:
        with limited(0.05):
            pass
        time.sleep(0.1)

    worker = threading.Thread(target=in_thread)
    worker.start()
    worker.join()


def test_the_budget_must_be_positive(tmp_path: Path) -> None:
    path = tmp_path / "deskmail.toml"
    path.write_text(
        '[[jobs]]\nname = "Support"\nprotocol = "maildir"\npath = "mail"\n'
        "message_budget_seconds = 0\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert "message_budget_seconds" in str(raised.value) and "deskmail.toml" in str(raised.value)


def _report_export(rows: int) -> bytes:
    """An HTML-only mail of a large table, as an inventory or monitoring export sends one:
    honestly expensive to turn into text, many times a plain request's time."""
    table = "".join(
        f"<tr><td>asset {i}</td><td><b>ok</b> <a href='https://cmdb.example.com/{i}'>open</a>"
        "</td></tr>"
        for i in range(rows)
    )
    msg = EmailMessage()
    msg["From"] = "CMDB <reports@cmdb.example.com>"
    msg["To"] = "support@example.com"
    msg["Subject"] = "Nightly asset export"
    msg["Message-ID"] = make_msgid(domain="cmdb.example.com")
    msg.set_content(f"<html><body><table>{table}</table></body></html>", subtype="html")
    return msg.as_bytes()


def test_serve_quarantines_a_mail_over_its_budget_and_tickets_the_mails_after_it(
    dovecot: Dovecot, tmp_path: Path, database_url: str, store: Store
) -> None:
    """The daemon's path: a job thread woken by IMAP IDLE, where the budget is kept by the
    watchdog thread (no signals off the main thread). No test hook: a large HTML export
    against a small budget, which a plain request stays far below."""
    user = dovecot.user("budgetd")
    job = imap_job(
        dovecot,
        user,
        "Support",
        schedule="1h",  # only IDLE wakes it after the first pass
        idle=True,
        after_processing="delete",
        fallback_user="helpdesk",
        message_budget_seconds=0.5,
    )
    config = write_config(tmp_path / "deskmail.toml", database_url, [job])
    export = _report_export(100_000)
    with serving(config) as daemon:
        daemon.wait_for_log("waiting for new mail")
        wait_for(lambda: finished_runs(store, "Support"), "the first pass")
        for raw in (_mail("First request"), export, _mail("Third request")):
            dovecot.append(user, raw)

        def settled() -> list[IntakeRecord]:
            with store.session() as session:
                records = list(session.scalars(select(IntakeRecord).order_by(IntakeRecord.id)))
            return records if len(records) == 3 else []

        records = wait_for(settled, "the three mails taken in", timeout=120)
        daemon.send(signal.SIGTERM)
        assert daemon.exit_code() == 0, daemon.log()

    with store.session() as session:
        tickets = list(session.scalars(select(Ticket)))
    incidents = sorted(t.subject for t in tickets if t.kind is TicketKind.INCIDENT)
    events = [t.subject for t in tickets if t.kind is TicketKind.EVENT]
    assert incidents == ["First request", "Third request"]
    (event,) = events  # with the mail's subject when the budget ran out after the parse
    assert event.startswith('Mail could not be processed (job "Support")')
    (held,) = [r for r in records if r.outcome is Fate.QUARANTINED]
    # The stage it ran out in (parse, or preprocess and classify) depends on the machine.
    assert held.error is not None
    assert held.error.endswith(": over the processing budget of 0.5 s per message"), held.error
    assert held.raw_sha256 is not None
    config_store = Store(database_url, tmp_path / "blobs")  # the configuration's blob folder
    kept = config_store.blobs.path(held.raw_sha256).read_bytes()
    config_store.dispose()
    assert kept.replace(b"\r\n", b"\n") == export.replace(b"\r\n", b"\n")
    assert dovecot.count(user) == 1  # kept on the server; the other two were deleted
    assert "Nightly asset export" not in daemon.log()  # mail text stays out of the log
