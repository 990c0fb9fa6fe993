"""Errors as events, against the real Dovecot, on both databases.

A quarantined message: one event in the job's error group with the original
.eml; `quarantine retry` and `discard`. A mailbox that cannot be used: one
event while it lasts, one note an hour at most, closed when it works again.
"""

from __future__ import annotations

import threading
import time
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select, text

from deskmail.apply.events import config_error_event, mailbox_failed, mailbox_recovered
from deskmail.cli import main
from deskmail.config.fate import Fate
from deskmail.config.models import DeskmailConfig, JobConfig, SmtpConfig
from deskmail.intake import process, run
from deskmail.intake.quarantine import discard, list_quarantined, retry
from deskmail.intake.run import run_job
from deskmail.store.engine import Store
from deskmail.store.migrate import upgrade
from deskmail.store.models import (
    ActivityKind,
    IntakeRecord,
    JobHealth,
    Ticket,
    TicketKind,
    TicketStatus,
    utcnow,
)
from tests.support.dovecot import Dovecot, make_mail
from tests.support.toml_config import job_table, write_config

ERROR_GROUP = "Mail errors"


def _job(dovecot: Dovecot, user: str, **overrides: Any) -> JobConfig:
    settings: dict[str, Any] = {
        "name": "Support",
        "group": "Service Desk",
        "error_group": ERROR_GROUP,
        **overrides,
    }
    return dovecot.job(user, "imap", "ssl", **settings)


def _events(store: Store) -> list[Ticket]:
    with store.session() as s:
        query = select(Ticket).where(Ticket.kind == TicketKind.EVENT).order_by(Ticket.id)
        events = list(s.scalars(query))
        for event in events:  # loaded while the session is open
            _ = event.group, event.activities, event.attachments, event.team
        return events


def _record(store: Store, record_id: int) -> IntakeRecord:
    with store.session() as s:
        return s.get_one(IntakeRecord, record_id)


def _blob(store: Store, sha256: str) -> bytes:
    with store.blobs.open(sha256) as f:
        return f.read()


@pytest.fixture
def broken_apply(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """apply fails for every subject containing BOOM, until monkeypatch.undo()."""
    real = process.apply_plan

    def explode(session, batch, blobs, context, content, plan):  # type: ignore[no-untyped-def]
        if "BOOM" in content.message.subject:
            raise RuntimeError("simulated failure in apply")
        return real(session, batch, blobs, context, content, plan)

    monkeypatch.setattr(process, "apply_plan", explode)
    return monkeypatch


def _quarantine_one(store: Store, dovecot: Dovecot, job: JobConfig, user: str) -> bytes:
    """Deliver a good and a bad mail and run: the bad one is quarantined."""
    bad = make_mail("BOOM: the disk is full")
    dovecot.append(user, make_mail("Printer on fire"))
    dovecot.append(user, bad)
    summary = run_job(store, job)
    assert (summary.created, summary.quarantined, summary.ok) == (1, 1, True)
    return bad


def _cli(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--config", str(config)], catch_exceptions=False)


def test_quarantined_message_gets_one_event_and_a_retry_closes_it(
    store: Store,
    dovecot: Dovecot,
    database_url: str,
    tmp_path: Path,
    broken_apply: pytest.MonkeyPatch,
) -> None:
    user = dovecot.user("ev")
    job = _job(dovecot, user)
    job.set_origin(tmp_path / "my desk.toml", 0)  # as the loader does
    bad = _quarantine_one(store, dovecot, job, user)

    (event,) = _events(store)
    with store.session() as s:
        (record,) = list_quarantined(s)
    assert record.event_ticket_id == event.id
    assert event.group is not None and event.group.name == ERROR_GROUP
    assert event.status is TicketStatus.NEW
    assert "BOOM: the disk is full" in event.subject
    assert "simulated failure in apply" in event.description
    # Commands that work wherever they are run: with the job's own file.
    config = f"--config '{tmp_path}/my desk.toml'"
    assert f"deskmail quarantine retry {record.id} {config}" in event.description
    (eml,) = event.attachments
    assert eml.filename.endswith(".eml") and eml.media_type == "message/rfc822"
    assert _blob(store, eml.sha256) == bad

    # Not fetched again, so not reported again.
    assert run_job(store, job).fetched == 0
    assert len(_events(store)) == 1

    broken_apply.setenv("EVENTS_PW", dovecot.password)
    table = job_table(job, password_env="EVENTS_PW")
    config = write_config(tmp_path / "d.toml", database_url, [table], tmp_path / "attachments")
    listed = _cli(config, "quarantine", "list")
    assert f"{record.id:>6} Support" in listed.output
    shown = _cli(config, "quarantine", "show", str(record.id))
    assert "Subject:    BOOM: the disk is full" in shown.output
    assert f"IT-{event.number} (new)" in shown.output
    raw = CliRunner().invoke(
        main, ["quarantine", "show", str(record.id), "--raw", "--config", str(config)]
    )
    assert raw.stdout_bytes == bad

    still = _cli(config, "quarantine", "retry", str(record.id))
    assert still.exit_code == 3, still.output  # the fault is still there
    (event,) = _events(store)
    assert [a.kind for a in event.activities] == [ActivityKind.SYSTEM]
    assert "failed again" in event.activities[0].body

    broken_apply.undo()
    retried = _cli(config, "quarantine", "retry", "--all", "--job", "Support")
    assert retried.exit_code == 0, retried.output
    assert f'{record.id}:  created IT-{event.number + 1}: "BOOM: the disk is full"' in (
        retried.output
    )
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(IntakeRecord)) == 2  # updated in place
    after = _record(store, record.id)
    assert (after.outcome, after.error, after.acknowledged_at) == (
        Fate.CREATED,
        None,
        None,
    )
    assert after.ticket_id is not None
    (event,) = _events(store)
    assert event.status is TicketStatus.CLOSED
    assert "processed: IT-" in event.activities[-1].body

    # The next run acknowledges it on the server (IMAP default: mark seen).
    assert run_job(store, job).acknowledged == 1
    assert all("\\Seen" in flags for flags in dovecot.flags(user).values())
    assert _cli(config, "quarantine", "retry", str(record.id)).exit_code == 1


def test_discard_closes_the_event_and_keeps_the_bytes(
    store: Store, dovecot: Dovecot, broken_apply: pytest.MonkeyPatch
) -> None:
    user = dovecot.user("ev")
    job = _job(dovecot, user, after_processing="delete")
    bad = _quarantine_one(store, dovecot, job, user)
    with store.session() as s:
        (record,) = list_quarantined(s, "Support")
    with store.transaction() as s:
        assert discard(s, record.id) is not None
    with store.transaction() as s:
        assert discard(s, record.id) is None  # only once

    after = _record(store, record.id)
    assert after.outcome is Fate.IGNORED
    assert after.error is not None and after.error.startswith("discarded")
    assert after.raw_sha256 is not None and _blob(store, after.raw_sha256) == bad
    (event,) = _events(store)
    assert event.status is TicketStatus.CLOSED
    assert "kept" in event.activities[-1].body and "audit" in event.activities[-1].body
    assert retry(store, DeskmailConfig(jobs=[job]), record.id)[0].problem.endswith("(discarded)")
    # Taken care of: the next run removes it from the mailbox.
    assert dovecot.count(user) == 1
    run_job(store, job)
    assert dovecot.count(user) == 0


def test_unreachable_mailbox_one_event_hourly_notes_closed_on_recovery(
    store: Store, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = dovecot.user("ev")
    dovecot.append(user, make_mail("waiting"))
    smtp = SmtpConfig(server="smtp.example.com", from_address="d@example.com", password="smtp-pw-9")
    wrong = _job(dovecot, user, password="wrong-pw-1", smtp=smtp)
    now = utcnow()
    monkeypatch.setattr(run, "utcnow", lambda: now)

    first = run_job(store, wrong)
    assert not first.ok and "authentication" in (first.failure or "")
    (event,) = _events(store)
    assert event.kind is TicketKind.EVENT
    assert event.group is not None and event.group.name == ERROR_GROUP
    assert 'job "Support"' in event.subject and "authentication" in event.subject
    assert "deskmail check" in event.description
    (attached,) = event.attachments
    assert (attached.filename, attached.media_type) == (
        "Support configuration.toml",
        "application/toml",
    )
    data = _blob(store, attached.sha256)
    assert b"wrong-pw-1" not in data and b"smtp-pw-9" not in data
    (settings,) = tomllib.loads(data.decode())["jobs"]  # the job's own format: a [[jobs]] table
    assert settings["password"] == "***" and settings["smtp"]["password"] == "***"
    assert settings["user"] == user and settings["name"] == "Support"
    assert JobConfig.model_validate(settings).model_dump(exclude={"password", "smtp"}) == (
        wrong.model_dump(exclude={"password", "smtp"})
    )

    # Within the hour: nothing added, never a second event.
    monkeypatch.setattr(run, "utcnow", lambda: now + timedelta(minutes=30))
    assert not run_job(store, wrong).ok
    (event,) = _events(store)
    assert event.activities == []

    monkeypatch.setattr(run, "utcnow", lambda: now + timedelta(minutes=61))
    run_job(store, wrong)
    (event,) = _events(store)
    assert [a.kind for a in event.activities] == [ActivityKind.SYSTEM]
    assert "Still failing" in event.activities[0].body

    later = now + timedelta(hours=2, minutes=5)
    monkeypatch.setattr(run, "utcnow", lambda: later)
    fixed = _job(dovecot, user)
    assert run_job(store, fixed).created == 1
    (event,) = _events(store)
    assert event.status is TicketStatus.CLOSED
    assert len(event.activities) == 2
    assert "works again" in event.activities[-1].body
    assert "2 h 5 min" in event.activities[-1].body
    with store.session() as s:
        health = s.get_one(JobHealth, "Support")
        assert (health.failing_since, health.event_ticket_id) == (None, None)

    # A new outage is a new event.
    run_job(store, wrong)
    assert [e.status for e in _events(store)] == [TicketStatus.CLOSED, TicketStatus.NEW]


def test_failure_note_minutes_0_notes_every_failed_run_as_octopus(
    store: Store, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = dovecot.user("ev")
    wrong = _job(dovecot, user, password="wrong-pw-1", failure_note_minutes=0)
    now = utcnow()
    for minutes in (0, 1, 2):
        monkeypatch.setattr(run, "utcnow", lambda m=minutes: now + timedelta(minutes=m))
        assert not run_job(store, wrong).ok
    (event,) = _events(store)
    assert len(event.activities) == 2  # the second and third runs, a minute apart
    assert "on every failed run" in event.description


def test_stopped_server_raises_one_connect_event(store: Store, dovecot: Dovecot) -> None:
    server = Dovecot(dovecot.binary, "stopped", tls=False)
    server.start()
    try:
        job = server.job(dovecot.user("ev"), "imap", "none", name="Down", group="Service Desk")
        assert run_job(store, job).ok
        assert _events(store) == []
    finally:
        server.stop()
    assert not run_job(store, job).ok
    assert not run_job(store, job).ok
    (event,) = _events(store)
    assert "connect" in event.subject
    assert event.group is not None and event.group.name == "Service Desk"  # no error_group
    assert event.activities == []


def test_two_instances_failing_at_once_open_one_event(postgresql_url: str, tmp_path: Path) -> None:
    """B inserts the job's health row while A's insert is uncommitted: B takes A's row.

    PostgreSQL only: SQLite runs one write transaction at a time, so there is no race.
    """
    upgrade(postgresql_url)
    store = Store(postgresql_url, tmp_path / "blobs")
    job = JobConfig(name="Race", protocol="maildir", path=Path("unused"))
    now = utcnow()
    second: list[Ticket | None] = []

    def other_instance() -> None:
        with store.transaction() as b:
            second.append(mailbox_failed(b, store.blobs, job, "down", now))

    with store.transaction() as a:
        first = mailbox_failed(a, store.blobs, job, "down", now)
        thread = threading.Thread(target=other_instance)
        thread.start()
        assert _waits_for_a_lock(store)  # B's insert waits on A's row
    thread.join(timeout=30)
    assert first is not None and second == [None]  # reported once, by A
    assert len(_events(store)) == 1
    store.dispose()


def _waits_for_a_lock(store: Store) -> bool:
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + 10
    with store.engine.connect() as watcher:
        while time.monotonic() < deadline:
            if watcher.scalar(query):
                return True
            # pg_stat_activity is read once per transaction: each look needs a new one,
            # or a B that connects after the first look is never seen.
            watcher.rollback()
            time.sleep(0.02)
    return False


def test_configuration_error_is_one_event_until_a_good_run(store: Store) -> None:
    now = utcnow()
    with store.transaction() as s:
        first = config_error_event(s, "Octopus", "mail.xml", "line 3: mismatched tag", now=now)
    with store.transaction() as s:
        again = config_error_event(
            s, "Octopus", "mail.xml", "line 3: mismatched tag", now=now + timedelta(hours=2)
        )
    assert again.id == first.id
    (event,) = _events(store)
    assert "mail.xml: line 3" not in event.subject and "Octopus" in event.subject
    assert "line 3: mismatched tag" in event.description
    assert len(event.activities) == 1  # the note of the second run, two hours on
    job = JobConfig(name="Octopus", protocol="maildir", path=Path("unused"))
    with store.transaction() as s:
        closed = mailbox_recovered(s, job, now + timedelta(hours=3))
    assert closed is not None and closed.id == first.id
    with store.transaction() as s:
        assert mailbox_recovered(s, job, now + timedelta(hours=4)) is None
    assert _events(store)[0].status is TicketStatus.CLOSED


def test_killed_dovecot_one_event_that_grows_and_closes_when_it_returns(
    store: Store, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = Dovecot(dovecot.binary, "outage", tls=False)
    server.start()
    user = dovecot.user("ev")
    job = server.job(user, "imap", "none", name="Outage", group="Service Desk")
    now = utcnow()
    monkeypatch.setattr(run, "utcnow", lambda: now)
    try:
        assert run_job(store, job).ok
        server.kill()  # the mailbox server dies
        for minutes in (0, 20, 40):
            monkeypatch.setattr(run, "utcnow", lambda m=minutes: now + timedelta(minutes=m))
            assert not run_job(store, job).ok
        monkeypatch.setattr(run, "utcnow", lambda: now + timedelta(minutes=75))
        assert not run_job(store, job).ok
        (event,) = _events(store)  # exactly one, however many failed runs
        assert event.status is TicketStatus.NEW and "connect" in event.subject
        assert len(event.activities) == 1  # one more note after the hour
        server.revive()  # it comes back on the same ports
        server.append(user, make_mail("queued during the outage"))
        monkeypatch.setattr(run, "utcnow", lambda: now + timedelta(minutes=90))
        summary = run_job(store, job)
        assert summary.ok and summary.created == 1
    finally:
        server.stop()
    (event,) = _events(store)
    assert event.status is TicketStatus.CLOSED
    assert "works again" in event.activities[-1].body


def test_an_ews_mailbox_that_refuses_the_login_opens_one_event_naming_the_service(
    store: Store, tmp_path: Path
) -> None:
    from tests.support.ews import ews_fake, ews_job

    with ews_fake(tmp_path / "ews") as fake:
        settings = ews_job(fake, name="Exchange", password_env=None, password="wrong-pw-7")
        job = JobConfig.model_validate({**settings, "error_group": ERROR_GROUP})
        summary = run_job(store, job)
    assert not summary.ok and "authentication" in (summary.failure or "")
    (event,) = _events(store)
    assert 'job "Exchange"' in event.subject and "authentication" in event.subject
    assert f"ews EXAMPLE\\support at {fake.service_url}, folder INBOX" in event.description
    assert "wrong-pw-7" not in event.description
    (attached,) = event.attachments
    data = _blob(store, attached.sha256)
    assert b"wrong-pw-7" not in data
    (saved,) = tomllib.loads(data.decode())["jobs"]
    assert (saved["protocol"], saved["password"]) == ("ews", "***")
