"""webhooks/outbox.py: each event queued in the transaction of what it reports, and only then.

Through the real intake (Maildir, and a run-once against the test Dovecot), the
quarantine commands and the job health events; posted to a real local receiver.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import select

from deskmail.cli import main
from deskmail.config.custom_fields import CustomFieldConfig
from deskmail.config.fate import Fate, TicketKind
from deskmail.config.models import DeskmailConfig, JobConfig
from deskmail.config.object_types import ObjectTypeConfig, Records
from deskmail.intake.quarantine import discard, retry
from deskmail.intake.run import run_job
from deskmail.store.engine import Store
from deskmail.store.models import (
    IntakeRecord,
    Ticket,
    WebhookDelivery,
    WebhookMessage,
)
from deskmail.webhooks.delivery import Deliverer
from tests.support.database import REFUSE_TICKET
from tests.support.dovecot import Dovecot
from tests.support.jobs import drop_mail, maildir_job
from tests.support.toml_config import job_table, write_config
from tests.support.webhook_receiver import Receiver
from tests.webhooks.helpers import FAST, add, new_keys, outbox, verified

_ALLOW = {
    "sqlite": ["DROP TRIGGER refuse_ticket"],
    "postgresql": ["DROP TRIGGER refuse_ticket ON ticket"],
}


def _execute(store: Store, statements: dict[str, list[str]]) -> None:
    with store.engine.begin() as connection:
        for statement in statements[store.engine.dialect.name]:
            connection.exec_driver_sql(statement)


def _mailbox(tmp_path: Path) -> Path:
    path = tmp_path / "mailbox"
    for sub in ("new", "cur", "tmp"):
        (path / sub).mkdir(parents=True)
    return path


def _job(tmp_path: Path) -> JobConfig:
    return maildir_job(_mailbox(tmp_path))


def test_intake_and_the_daemon_queue_webhooks_without_importing_what_posts_them() -> None:
    probe = (
        "import sys, deskmail.cli, deskmail.intake.run, deskmail.daemon.supervisor;"
        " print(sorted(m for m in ('httpx', 'cryptography') if m in sys.modules));"
        " import deskmail.webhooks.delivery;"
        " print('httpx' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[:2] == ["[]", "True"]


def test_nothing_is_queued_without_an_endpoint(store: Store, tmp_path: Path) -> None:
    job = _job(tmp_path)
    drop_mail(job.path, "a", "alice@example.com", "Printer")  # type: ignore[arg-type]
    assert run_job(store, job).created == 1
    assert outbox(store) == []


def test_a_new_ticket_and_a_reply_are_posted_without_mail_text(
    store: Store, tmp_path: Path, receiver: Receiver
) -> None:
    keys = new_keys()
    plain = add(store, keys, receiver.url, "ticket.created", "activity.added")
    job = _job(tmp_path)
    assert job.path is not None
    drop_mail(job.path, "a", "alice@example.com", "Printer on fire", body="secret-body-text")
    assert run_job(store, job).created == 1
    drop_mail(job.path, "b", "alice@example.com", "RE: [Incident] [IT] 1 Printer on fire")
    assert run_job(store, job).updated == 1
    with Deliverer(store, keys, FAST) as deliverer:
        assert deliverer.deliver_due().delivered == 2
    created, added = (verified(r, plain.secret) for r in receiver.received)
    with store.session() as session:
        ticket = session.scalars(select(Ticket)).one()
        activity_id = ticket.activities[-1].id
    assert created["type"] == "ticket.created"
    assert created["data"] == {
        "ticket_id": ticket.id,
        "reference": "IT-1",
        "team": "IT",
        "number": 1,
        "ticket_kind": "incident",
        "job": "Support",
        "message_id": "a@client.example.com",
        "created_at": created["data"]["created_at"],
        "object_type": None,
    }
    assert added["type"] == "activity.added"
    assert (added["data"]["ticket_id"], added["data"]["activity_id"]) == (ticket.id, activity_id)
    assert added["data"]["reference"] == "IT-1"
    for request in receiver.received:
        for text in (b"Printer", b"secret-body-text", b"alice@example.com"):
            assert text not in request.body


def test_the_subject_goes_only_to_endpoints_that_ask_for_it(
    store: Store, tmp_path: Path, receiver: Receiver
) -> None:
    keys = new_keys()
    with_subject = add(store, keys, receiver.url + "?with", "ticket.created", include_subject=True)
    without = add(store, keys, receiver.url + "?without", "ticket.created")
    job = _job(tmp_path)
    assert job.path is not None
    drop_mail(job.path, "a", "alice@example.com", "Printer on fire")
    run_job(store, job)
    with Deliverer(store, keys, FAST) as deliverer:
        assert deliverer.deliver_due().delivered == 2
    by_path = {r.path.rpartition("?")[2]: r for r in receiver.received}
    assert verified(by_path["with"], with_subject.secret)["data"]["subject"] == "Printer on fire"
    assert "subject" not in verified(by_path["without"], without.secret)["data"]
    assert by_path["with"].webhook_id == by_path["without"].webhook_id  # one event, one id


_RECORDS = Records(
    object_types=(
        ObjectTypeConfig(
            name="alert", kind=TicketKind.EVENT, prefix="ALR", fields=["severity", "load"]
        ),
    ),
    custom_fields=(
        CustomFieldConfig(name="host", label="Host", all_types=True),
        CustomFieldConfig(name="severity", type="choice", choices=["CRITICAL", "WARNING"]),
        CustomFieldConfig(name="load", type="number"),
    ),
)


def test_records_carry_their_object_type_and_only_mail_text_endpoints_their_fields(
    store: Store, tmp_path: Path, receiver: Receiver
) -> None:
    keys = new_keys()
    kinds = ("ticket.created", "activity.added", "event.opened")
    text = add(store, keys, receiver.url + "?text", *kinds, include_subject=True)
    plain = add(store, keys, receiver.url + "?plain", *kinds)
    _execute(store, REFUSE_TICKET)
    rule = {
        "name": "Alerts",
        "conditions": [{"field": "subject", "op": "regex", "value": r"^(?P<host>\S+) load"}],
        "action": "create",
        "object_type": "alert",
        "set": {"custom": {"severity": "WARNING", "load": "2.50"}},
    }
    job = maildir_job(_mailbox(tmp_path), rules=[rule])
    job.set_records(_RECORDS)
    assert job.path is not None
    drop_mail(job.path, "a", "alice@example.com", "web01 load high")
    drop_mail(job.path, "b", "alice@example.com", "Refused by a trigger")
    summary = run_job(store, job)
    assert (summary.created, summary.quarantined) == (1, 1)
    drop_mail(job.path, "c", "alice@example.com", "RE: [Incident] [IT] 1 web01 load high")
    assert run_job(store, job).updated == 1
    with Deliverer(store, keys, FAST) as deliverer:
        assert deliverer.deliver_due().delivered == 6

    posted: dict[tuple[str, str], dict[str, Any]] = {}
    for request in receiver.received:
        which = request.path.rpartition("?")[2]
        document = verified(request, (text if which == "text" else plain).secret)
        posted[(which, document["type"])] = document["data"]
    fields = [
        {"name": "host", "label": "Host", "type": "text", "value": "web01"},
        {"name": "severity", "label": "severity", "type": "choice", "value": "WARNING"},
        {"name": "load", "label": "load", "type": "number", "value": 2.5},
    ]
    for kind in ("ticket.created", "activity.added"):
        assert posted[("text", kind)]["object_type"] == "alert"
        assert posted[("text", kind)]["fields"] == fields, kind
        assert posted[("plain", kind)]["object_type"] == "alert"
        assert "fields" not in posted[("plain", kind)] and "subject" not in posted[("plain", kind)]
    # deskmail's own event (the refused mail's quarantine) is a plain event, without values.
    assert posted[("text", "event.opened")]["object_type"] is None
    assert posted[("text", "event.opened")]["fields"] == []
    assert "fields" not in posted[("plain", "event.opened")]
    for request in receiver.received:
        if request.path.endswith("?plain"):
            assert b"web01" not in request.body and b"WARNING" not in request.body


def test_nothing_is_sent_for_a_transaction_that_rolled_back(
    store: Store, tmp_path: Path, receiver: Receiver
) -> None:
    keys = new_keys()
    endpoint = add(store, keys, receiver.url, "*")
    _execute(store, REFUSE_TICKET)
    job = _job(tmp_path)
    assert job.path is not None
    drop_mail(job.path, "a", "alice@example.com", "Fine")
    drop_mail(job.path, "b", "bob@example.com", "Refused by a trigger")
    summary = run_job(store, job)
    assert (summary.created, summary.quarantined) == (1, 1)
    kinds = sorted(kind for kind, _data in outbox(store))
    # The batch of both was rolled back (and its webhooks with it), then each mail
    # taken in alone: one ticket, one quarantine and its event.
    assert kinds == ["event.opened", "message.quarantined", "ticket.created"]
    with Deliverer(store, keys, FAST) as deliverer:
        deliverer.deliver_due()
    posted = [verified(r, endpoint.secret) for r in receiver.received]
    created = [p for p in posted if p["type"] == "ticket.created"]
    assert len(created) == 1
    with store.session() as session:
        fine = session.scalars(select(Ticket).where(Ticket.subject == "Fine")).one()
    assert created[0]["data"]["ticket_id"] == fine.id
    [quarantined] = [p["data"] for p in posted if p["type"] == "message.quarantined"]
    assert "trigger says no" in quarantined["reason"]
    assert quarantined["retry"] is False


def test_retry_and_discard_of_quarantined_mail_are_reported(store: Store, tmp_path: Path) -> None:
    keys = new_keys()
    add(store, keys, "https://hooks.example.com/deskmail", "*")
    _execute(store, REFUSE_TICKET)
    job = _job(tmp_path)
    assert job.path is not None
    drop_mail(job.path, "a", "alice@example.com", "Refused by a trigger")
    drop_mail(job.path, "b", "bob@example.com", "Refused by a trigger", body="other")
    assert run_job(store, job).quarantined == 2
    with store.session() as session:
        first, second = session.scalars(select(IntakeRecord).order_by(IntakeRecord.id)).all()
    config = DeskmailConfig(source_file=tmp_path / "deskmail.toml", jobs=[job])
    [again] = retry(store, config, first.id)  # still refused: quarantined again
    assert not again.ok
    _execute(store, _ALLOW)
    [done] = retry(store, config, first.id)
    assert done.ok
    with store.transaction() as session:
        assert discard(session, second.id) is not None
    events = outbox(store)
    after_run = [kind for kind, _data in events][4:]
    assert after_run == [
        "message.quarantined",  # the failed retry
        "ticket.created",
        "event.closed",
        "quarantine.retried",
        "event.closed",
        "quarantine.discarded",
    ]
    failed_retry = events[4][1]
    assert (failed_retry["quarantine_id"], failed_retry["retry"]) == (first.id, True)
    retried = next(data for kind, data in events if kind == "quarantine.retried")
    assert (retried["quarantine_id"], retried["result"]) == (first.id, "created")
    with store.session() as session:
        record = session.get(IntakeRecord, first.id)
        assert record is not None and record.outcome is Fate.CREATED
        assert retried["ticket_id"] == record.ticket_id
    discarded = next(data for kind, data in events if kind == "quarantine.discarded")
    assert discarded["quarantine_id"] == second.id


def test_a_failing_mailbox_reports_run_failed_and_health_both_ways(
    store: Store, tmp_path: Path
) -> None:
    keys = new_keys()
    add(store, keys, "https://hooks.example.com/deskmail", "*")
    job = maildir_job(tmp_path / "missing")
    assert not run_job(store, job).ok
    assert not run_job(store, job).ok  # still failing: no second health change
    for sub in ("new", "cur", "tmp"):
        (tmp_path / "missing" / sub).mkdir(parents=True)
    assert run_job(store, job).ok
    events = outbox(store)
    kinds = [kind for kind, _data in events]
    assert kinds == [
        "event.opened",
        "job.health_changed",
        "run.failed",
        "run.failed",
        "event.closed",
        "job.health_changed",
    ]
    opened, failing, failed = (data for _kind, data in events[:3])
    assert (opened["cause"], opened["job"]) == ("mailbox", "Support")
    assert (failing["healthy"], failing["event_ticket_id"]) == (False, opened["ticket_id"])
    assert failing["step"] and failing["failing_since"]
    assert failed["job"] == "Support" and failed["error"]
    closed, healthy = events[4][1], events[5][1]
    assert closed["ticket_id"] == opened["ticket_id"]
    assert (healthy["healthy"], healthy["step"], healthy["failing_since"]) == (True, None, None)


def test_a_real_run_once_against_dovecot_makes_exactly_one_delivery(
    dovecot: Dovecot, tmp_path: Path, database_url: str, receiver: Receiver
) -> None:
    user = dovecot.user("hooks")
    dovecot.append(
        user,
        b"From: Alice <alice@example.com>\r\nTo: support@example.com\r\n"
        b"Subject: Printer broken\r\nMessage-ID: <hooks-1@example.com>\r\n\r\nbody\r\n",
    )
    table = job_table(dovecot.job(user), name="Support", password_env="HOOKS_PW")
    config = str(write_config(tmp_path / "deskmail.toml", database_url, [table]))
    env = {"HOOKS_PW": dovecot.password, "DESKMAIL_SECRET_KEY": Fernet.generate_key().decode()}
    runner = CliRunner()

    def cli(*args: str) -> str:
        result = runner.invoke(main, [*args, "--config", config], env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    added = cli("webhooks", "add", receiver.url, "--event", "ticket.created")
    secret = next(line.split()[-1] for line in added.splitlines() if "secret:" in line)
    assert "created 1" in cli("run-once")
    assert "created 0" in cli("run-once")  # the same mail again: nothing new
    assert "1 delivery made, 0 attempts failed" in cli("webhooks", "deliver")
    assert "0 deliveries made" in cli("webhooks", "deliver")
    [request] = receiver.wait_for(1)
    document = verified(request, secret)
    assert (document["type"], document["data"]["reference"]) == ("ticket.created", "IT-1")
    assert document["data"]["message_id"] == "hooks-1@example.com"
    opened = Store(database_url, tmp_path / "blobs")
    try:
        with opened.session() as session:
            assert len(session.scalars(select(WebhookMessage)).all()) == 1
            assert len(session.scalars(select(WebhookDelivery)).all()) == 1
    finally:
        opened.dispose()
