"""The first pipeline end to end in-process, over a real Maildir, on both databases."""

from __future__ import annotations

import email
import hashlib
import logging
import mailbox
import os
import shutil
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from deskmail.apply.people import add_person
from deskmail.config.fate import Fate
from deskmail.config.models import AfterProcessing, DeskmailConfig, JobConfig
from deskmail.intake import process
from deskmail.intake import run as intake_run
from deskmail.intake.run import run_job
from deskmail.sources.base import FetchedMessage
from deskmail.sources.maildir import MaildirSource
from deskmail.store.blobs import BlobRef, BlobStore
from deskmail.store.engine import Store
from deskmail.store.models import (
    Activity,
    ActivityKind,
    Attachment,
    IntakeRecord,
    OutgoingMail,
    Person,
    Site,
    Team,
    Ticket,
    TicketKind,
    TicketMessage,
)
from tests.support.database import REFUSE_TICKET
from tests.support.jobs import maildir_job
from tests.support.smtp import SmtpServer


def _mail(subject: str, sender: str = "Alice <alice@example.com>", body: str = "hello\n") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@example.com"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 02 Nov 2026 09:15:00 +0100"
    msg["Message-ID"] = f"<{abs(hash((subject, sender, body)))}@client.example.com>"
    msg.set_content(body)
    return msg.as_bytes()


@pytest.fixture
def maildir(tmp_path: Path) -> mailbox.Maildir:
    return mailbox.Maildir(tmp_path / "mailbox", create=True)


@pytest.fixture
def job(maildir: mailbox.Maildir) -> JobConfig:
    return maildir_job(Path(maildir._path))


def _tickets(store: Store) -> list[Ticket]:
    with store.session() as s:
        return list(s.scalars(select(Ticket).order_by(Ticket.number)))


def test_new_mail_from_unknown_sender_uses_fallback_user_and_site(
    store: Store, job: JobConfig, maildir: mailbox.Maildir
) -> None:
    maildir.add(_mail("Printer jams", body="It jams at C:\\Users\\alice\\new\n"))
    summary = run_job(store, job)
    assert (summary.fetched, summary.created, summary.ok) == (1, 1, True)
    with store.session() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert ticket.number == 1
        assert ticket.subject == "Printer jams"
        assert "C:\\Users\\alice\\new" in ticket.description
        assert ticket.requester is not None and ticket.requester.logon == "helpdesk"
        assert ticket.user_id == ticket.requester_id
        assert ticket.site is not None and ticket.site.name == "Head Office"
        assert ticket.group is not None and ticket.group.name == "Service Desk"
        assert ticket.source is not None and ticket.source.name == "Email"
        assert ticket.team.name == "IT"
        assert ticket.sender_address == "alice@example.com"
    assert len(maildir) == 0  # acknowledged: deleted after commit


def test_known_sender_matched_case_insensitively_with_own_site(
    store: Store, job: JobConfig, maildir: mailbox.Maildir
) -> None:
    with store.transaction() as s:
        site = Site(name="Lyon")
        s.add(site)
        s.flush()
        add_person(
            s,
            "Alice Martin",
            ["alice@example.com", "a.martin@example.org"],
            logon="amartin",
            site_id=site.id,
        )
    maildir.add(_mail("VPN down", sender="Alice M <A.Martin@EXAMPLE.org>"))
    run_job(store, job)
    (ticket,) = _tickets(store)
    with store.session() as s:
        ticket = s.get_one(Ticket, ticket.id)
        assert ticket.requester is not None and ticket.requester.logon == "amartin"
        assert ticket.site is not None and ticket.site.name == "Lyon"


def test_reply_with_reference_becomes_activity(
    store: Store, job: JobConfig, maildir: mailbox.Maildir
) -> None:
    maildir.add(_mail("Printer jams"))
    maildir.add(_mail("Other problem", sender="bob@example.org"))
    run_job(store, job)
    maildir.add(_mail("RE: [Incident] [IT] 1 Printer jams", body="still broken\n"))
    maildir.add(_mail("Re: Other problem [#2]", sender="bob@example.org", body="fixed\n"))
    maildir.add(_mail("RE: [Incident] [IT] 99 unknown", body="no such ticket\n"))
    summary = run_job(store, job)
    assert (summary.created, summary.updated) == (1, 2)
    with store.session() as s:
        acts = {a.ticket.number: a for a in s.scalars(select(Activity))}
        assert set(acts) == {1, 2}
        assert acts[1].body.strip() == "still broken"
        assert acts[1].from_address == "alice@example.com"
        assert acts[1].occurred_at.replace(tzinfo=None).isoformat() == "2026-11-02T08:15:00"
        assert acts[2].from_address == "bob@example.org"
        third = s.scalars(select(Ticket).where(Ticket.number == 3)).one()
        assert third.subject == "RE: [Incident] [IT] 99 unknown"


def test_attachments_stored_once_per_content(
    store: Store, job: JobConfig, maildir: mailbox.Maildir
) -> None:
    for name in ("a", "b"):
        msg = EmailMessage()
        msg["From"] = "alice@example.com"
        msg["Subject"] = f"logs {name}"
        msg.set_content("see attached")
        msg.add_attachment(
            b"same bytes" * 1000,
            maintype="application",
            subtype="octet-stream",
            filename="../../etc/passwd",
        )
        maildir.add(msg.as_bytes())
    run_job(store, job)
    with store.session() as s:
        rows = list(s.scalars(select(Attachment)))
    assert len(rows) == 2
    assert rows[0].sha256 == rows[1].sha256
    assert rows[0].filename == "../../etc/passwd"  # metadata only
    stored = store.blobs.path(rows[0].sha256)
    assert stored.read_bytes() == b"same bytes" * 1000
    assert stored.is_relative_to(store.blobs.root)


def test_failing_message_is_quarantined_and_batch_goes_on(
    store: Store,
    job: JobConfig,
    maildir: mailbox.Maildir,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    real = process.apply_plan

    def explode(session, batch, blobs, context, content, plan):  # type: ignore[no-untyped-def]
        if "BOOM" in content.message.subject:
            raise RuntimeError("simulated failure in apply")
        return real(session, batch, blobs, context, content, plan)

    monkeypatch.setattr(process, "apply_plan", explode)
    bad = _mail("BOOM please")
    maildir.add(_mail("first"))
    maildir.add(bad)
    maildir.add(_mail("third"))
    with caplog.at_level(logging.INFO, logger="deskmail.intake.process"):
        summary = run_job(store, job)
    assert (summary.created, summary.quarantined) == (2, 1)
    # The three shared one transaction; the failure undid it and each was taken in alone.
    assert "batch of 3 rolled back (RuntimeError: simulated failure in apply)" in caplog.text
    with store.session() as s:
        record = s.scalars(
            select(IntakeRecord).where(IntakeRecord.outcome == Fate.QUARANTINED)
        ).one()
        assert record.error is not None and "simulated failure in apply" in record.error
        assert record.ticket_id is None
        assert record.raw_sha256 is not None
    with store.blobs.open(record.raw_sha256) as f:
        assert f.read() == bad
    # Not acknowledged: the bad mail stays in the mailbox; nothing was half-written.
    assert [m["Subject"] for m in maildir] == ["BOOM please"]
    incidents = [t.subject for t in _tickets(store) if t.kind is TicketKind.INCIDENT]
    assert incidents == ["first", "third"]
    # The rolled-back batch had drawn numbers 1-3 in a block: forgotten with it, no gap.
    assert [t.number for t in _tickets(store)] == [1, 2, 3]  # 3: the quarantine's event
    with store.session() as s:
        assert s.scalars(select(Team.next_number).where(Team.name == "IT")).one() == 4
    # A second run neither re-processes nor deletes it.
    again = run_job(store, job)
    assert (again.fetched, again.quarantined) == (0, 0)
    assert len(maildir) == 1


class _Commits:
    """Counts the store's commits while in use."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine
        self.count = 0

    def _seen(self, _connection: object) -> None:
        self.count += 1

    def __enter__(self) -> _Commits:
        event.listen(self.engine, "commit", self._seen)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "commit", self._seen)


def test_a_batch_is_one_commit(store: Store, job: JobConfig, maildir: mailbox.Maildir) -> None:
    with _Commits(store) as commits:
        maildir.add(_mail("warm-up"))
        run_job(store, job)  # the run's own bookkeeping: start, context, health, finish
        fixed = commits.count
        for n in range(10):
            maildir.add(_mail(f"request {n}"))
        commits.count = 0
        assert run_job(store, job.model_copy(update={"fetch_batch": 50})).created == 10
        assert commits.count == fixed  # ten mails, one intake transaction, as for one mail
        for n in range(10):
            maildir.add(_mail(f"more {n}"))
        commits.count = 0
        assert run_job(store, job.model_copy(update={"fetch_batch": 4})).created == 10
        assert commits.count == fixed - 1 + 3  # batches of 4, 4 and 2
        # Numbers drawn in blocks per batch, written back at each commit: 1..21, no gap.
        tickets = _tickets(store)
        assert [t.number for t in tickets] == list(range(1, 22))
        # Ids handed out before the INSERTs (max + 1 on SQLite, the sequence on PostgreSQL).
        assert len({t.id for t in tickets}) == 21
        assert [t.id for t in tickets] == sorted(t.id for t in tickets)
        with store.session() as s:
            assert s.scalars(select(Team.next_number)).one() == 22


def _with_file(subject: str, data: bytes) -> bytes:
    msg = EmailMessage()
    msg["From"] = "alice@example.com"
    msg["Subject"] = subject
    msg.set_content("see attached")
    msg.add_attachment(data, maintype="application", subtype="pdf", filename=f"{subject}.pdf")
    return msg.as_bytes()


@pytest.mark.parametrize("fetch_batch", [1, 10])
def test_a_commit_waits_until_its_files_are_on_disk(
    store: Store,
    job: JobConfig,
    maildir: mailbox.Maildir,
    monkeypatch: pytest.MonkeyPatch,
    fetch_batch: int,
) -> None:
    # Blobs are written in background threads (store/blobs.py BlobBatch); slowed
    # down here, a commit that did not wait for them would find one still running.
    real = BlobStore._submit
    running: list[int] = []
    committed_while_writing: list[int] = []

    def slow_submit(self: BlobStore, work: Callable[..., BlobRef], *args: object) -> object:
        running.append(1)  # counted when handed over, not when the thread starts

        def slowly(*args: object) -> BlobRef:
            time.sleep(0.1)
            try:
                return work(*args)
            finally:
                running.pop()

        return real(self, slowly, *args)

    def committing(_connection: object) -> None:
        if running:
            committed_while_writing.append(len(running))

    monkeypatch.setattr(BlobStore, "_submit", slow_submit)
    event.listen(store.engine, "commit", committing)
    for n in range(3):
        maildir.add(_with_file(f"report {n}", os.urandom(5000)))
    summary = run_job(store, job.model_copy(update={"fetch_batch": fetch_batch}))
    event.remove(store.engine, "commit", committing)
    assert summary.created == 3
    assert committed_while_writing == []
    with store.session() as s:
        rows = list(s.scalars(select(Attachment)))
    assert len(rows) == 3
    assert all(store.blobs.path(row.sha256).stat().st_size == row.size for row in rows)


def test_a_file_that_cannot_be_stored_quarantines_its_mail_only(
    store: Store, job: JobConfig, maildir: mailbox.Maildir, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The failure shows in a background thread; the commit must still not happen.
    doomed = os.urandom(5000)
    real = BlobStore._install

    def disk_full_for_one(self: BlobStore, ref: BlobRef, tmp: Path) -> None:
        if ref.sha256 == hashlib.sha256(doomed).hexdigest():
            tmp.unlink()
            raise OSError(28, "No space left on device")
        real(self, ref, tmp)

    monkeypatch.setattr(BlobStore, "_install", disk_full_for_one)
    maildir.add(_with_file("report 0", os.urandom(5000)))
    maildir.add(_with_file("report 1", doomed))
    maildir.add(_with_file("report 2", os.urandom(5000)))
    summary = run_job(store, job.model_copy(update={"fetch_batch": 10}))
    assert (summary.created, summary.quarantined) == (2, 1)
    with store.session() as s:
        record = s.scalars(
            select(IntakeRecord).where(IntakeRecord.outcome == Fate.QUARANTINED)
        ).one()
        kept = sorted(s.scalars(select(Attachment.filename)))
    assert "No space left on device" in (record.error or "")
    assert record.raw_sha256 is not None and store.blobs.exists(record.raw_sha256)
    # The two mails' files, and the quarantine event's copy of the raw mail.
    assert kept == ["report 0.pdf", "report 1.eml", "report 2.pdf"]
    assert len(list(maildir.keys())) == 1  # the quarantined mail stays on the server


def test_rows_that_refer_to_a_batch_s_new_tickets_are_written_after_them(
    store: Store,
    job: JobConfig,
    maildir: mailbox.Maildir,
    smtp_server: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A batch's new tickets wait as plain rows (store/deferred.py parents); the
    # acknowledgements (ORM rows), a note about a file too big and a reply to a
    # ticket of the same batch all refer to them. PostgreSQL checks each key.
    first = _mail("printer on fire")
    maildir.add(first)
    reply = EmailMessage()
    reply["From"] = "Alice <alice@example.com>"
    reply["Subject"] = "Re: printer on fire"
    reply["In-Reply-To"] = email.message_from_bytes(first)["Message-ID"]
    reply.set_content("still burning")
    maildir.add(reply.as_bytes())
    maildir.add(_with_file("scan attached", os.urandom(5000)))
    config = DeskmailConfig(smtp=smtp_server.config())
    settings = {"fetch_batch": 10, "max_attachment_size": 1000, "address": "desk@example.net"}
    settings["send_acknowledgement"] = True
    batch = job.model_copy(update=settings)
    with caplog.at_level(logging.INFO):
        summary = run_job(store, batch, config=config)
    assert "rolled back" not in caplog.text
    assert (summary.created, summary.updated, summary.sent) == (2, 1, 2)
    with store.session() as s:
        tickets = {t.subject: t for t in s.scalars(select(Ticket))}
        fire, scan = tickets["printer on fire"], tickets["scan attached"]
        mails = s.scalars(select(OutgoingMail).order_by(OutgoingMail.id)).all()
        assert [m.ticket_id for m in mails] == [fire.id, scan.id]
        # The acknowledgement was written from the ticket's values: the token stored.
        assert fire.token in mails[0].subject and scan.token in mails[1].subject
        notes = {(a.ticket_id, a.kind, a.body.splitlines()[0]) for a in s.scalars(select(Activity))}
    assert (scan.id, ActivityKind.SYSTEM, "Not kept:") in notes
    assert (fire.id, ActivityKind.MAIL, "still burning") in notes


def test_a_note_in_a_batch_takes_its_id_from_the_batch_s_block(
    store: Store, job: JobConfig, maildir: mailbox.Maildir, caplog: pytest.LogCaptureFixture
) -> None:
    # The reply's activity waits as a plain row with an id handed out up front;
    # the note about a file too big, an ORM row flushed before it, must not take
    # the same id from SQLite's max(id) + 1.
    first = _mail("printer on fire")
    maildir.add(first)
    run_job(store, job)
    reply = EmailMessage()
    reply["From"] = "Alice <alice@example.com>"
    reply["Subject"] = "Re: printer on fire"
    reply["In-Reply-To"] = email.message_from_bytes(first)["Message-ID"]
    reply.set_content("still burning")
    maildir.add(_mail("toner low"))  # the batch's first ticket: its lookups are cached now
    maildir.add(reply.as_bytes())
    maildir.add(_with_file("scan attached", os.urandom(5000)))
    batch = job.model_copy(update={"fetch_batch": 10, "max_attachment_size": 1000})
    with caplog.at_level(logging.INFO):
        summary = run_job(store, batch)
    assert "rolled back" not in caplog.text
    assert (summary.created, summary.updated) == (2, 1)
    with store.session() as s:
        kinds = sorted(a.kind for a in s.scalars(select(Activity)))
    assert kinds == [ActivityKind.MAIL, ActivityKind.SYSTEM]


def test_a_batch_is_let_go_before_the_next_one_is_fetched(
    store: Store, job: JobConfig, maildir: mailbox.Maildir, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Holding the last batch's mail through the next FETCH set a run's peak memory.
    class Batch(list[FetchedMessage]):  # a list that can be watched by weak reference
        pass

    real = intake_run._batches
    still_held: list[bool] = []

    def watched(*args: Any) -> Iterator[list[FetchedMessage]]:
        for batch in real(*args):
            watching = Batch(batch)
            gone = weakref.ref(watching)
            del batch
            yield watching
            del watching
            still_held.append(gone() is not None)  # before the next batch is fetched

    monkeypatch.setattr(intake_run, "_batches", watched)
    for n in range(6):
        maildir.add(_mail(f"request {n}"))
    assert run_job(store, job.model_copy(update={"fetch_batch": 2})).created == 6
    assert still_held == [False, False, False]


def test_acknowledgements_are_grouped_and_follow_their_commits(
    store: Store, job: JobConfig, maildir: mailbox.Maildir, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One round trip per ACKNOWLEDGE_EVERY messages, the rest at the end of the pass;
    # each key committed to the journal before the server hears of it.
    monkeypatch.setattr(intake_run, "ACKNOWLEDGE_EVERY", 4)
    real = MaildirSource.acknowledge
    calls: list[tuple[int, int]] = []

    def acknowledge(self: MaildirSource, keys: Iterable[str]) -> None:
        keys = list(keys)
        with store.session() as s:
            recorded = s.scalar(select(func.count()).where(IntakeRecord.source_key.in_(keys)))
        calls.append((len(keys), recorded or 0))
        real(self, keys)

    monkeypatch.setattr(MaildirSource, "acknowledge", acknowledge)
    for n in range(10):
        maildir.add(_mail(f"request {n}"))
    summary = run_job(store, job.model_copy(update={"fetch_batch": 2}))
    assert (summary.created, summary.acknowledged) == (10, 10)
    assert calls == [(4, 4), (4, 4), (2, 2)]
    assert len(maildir) == 0


def test_a_pass_that_fails_leaves_its_committed_mail_to_the_next_to_acknowledge(
    store: Store, job: JobConfig, maildir: mailbox.Maildir, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = process.take_in_batch
    batches = 0

    def failing_third(*args: Any, **kwargs: Any) -> list[process.MessageOutcome]:
        nonlocal batches
        batches += 1
        if batches == 3:
            raise RuntimeError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(intake_run, "take_in_batch", failing_third)
    for n in range(6):
        maildir.add(_mail(f"request {n}"))
    first = run_job(store, job.model_copy(update={"fetch_batch": 2}))
    assert first.failure is not None and (first.created, first.acknowledged) == (4, 0)
    assert len(maildir) == 6  # committed, not yet acknowledged: still there
    monkeypatch.setattr(intake_run, "take_in_batch", real)
    second = run_job(store, job.model_copy(update={"fetch_batch": 2}))
    assert (second.created, second.acknowledged) == (2, 6)
    assert len(maildir) == 0
    assert len(_tickets(store)) == 6  # none taken in twice


def _reply(to: bytes, sender: str, body: str, *, cc: str = "", message_id: str = "") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = "Re: printer on fire"
    msg["In-Reply-To"] = email.message_from_bytes(to)["Message-ID"]
    if message_id:
        msg["Message-ID"] = message_id
    msg.set_content(body)
    return msg.as_bytes()


def test_replies_in_a_batch_see_its_waiting_rows_without_writing_them_early(
    store: Store, job: JobConfig, maildir: mailbox.Maildir
) -> None:
    # A reply to a ticket of an earlier batch is looked up without writing the batch's
    # waiting rows (store/deferred.py): each table gets one INSERT, at the commit. What
    # the waiting rows know still counts: a colleague Cc'd by the first reply may post,
    # and a Message-ID seen twice is recorded once.
    first = _mail("printer on fire", sender="alice@example.com")
    maildir.add(first)
    run_job(store, job)
    maildir.add(_mail("toner low"))
    maildir.add(
        _reply(
            first,
            "alice@example.com",
            "still burning",
            cc="bob@example.com",
            message_id="<same@client.example.com>",
        )
    )
    maildir.add(_mail("screen dark"))
    maildir.add(
        _reply(first, "bob@example.com", "I can smell it", message_id="<same@client.example.com>")
    )
    inserts: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.startswith("INSERT INTO ticket "):
            inserts.append(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    summary = run_job(store, job.model_copy(update={"fetch_batch": 10}))
    event.remove(store.engine, "before_cursor_execute", seen)
    assert (summary.created, summary.updated) == (2, 2)
    assert len(inserts) == 1  # the batch's two tickets, together, once
    with store.session() as s:
        fire = s.scalars(select(Ticket).where(Ticket.subject == "printer on fire")).one()
        bodies = s.scalars(select(Activity.body).where(Activity.ticket_id == fire.id)).all()
        same = s.scalars(
            select(TicketMessage).where(TicketMessage.message_id == "same@client.example.com")
        ).all()
    assert sorted(body.strip() for body in bodies) == ["I can smell it", "still burning"]
    assert len(same) == 1


def test_replies_to_a_ticket_of_the_same_batch_wait_with_it(
    store: Store, job: JobConfig, maildir: mailbox.Maildir
) -> None:
    # A reply to a ticket made earlier in the same batch finds it among the waiting
    # rows: the ticket is neither written early nor loaded back, and its row, written
    # once at the commit, carries the reply's time as its last update.
    first = _mail("printer on fire", sender="alice@example.com")
    maildir.add(first)
    maildir.add(_reply(first, "alice@example.com", "still burning", cc="bob@example.com"))
    maildir.add(_reply(first, "bob@example.com", "I can smell it"))
    maildir.add(_reply(first, "mallory@evil.example", "let me in"))  # may not post
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    summary = run_job(store, job.model_copy(update={"fetch_batch": 10}))
    event.remove(store.engine, "before_cursor_execute", seen)
    assert (summary.created, summary.updated) == (2, 2)  # mallory's mail: a ticket of its own
    assert sum(s.startswith("INSERT INTO ticket ") for s in statements) == 1
    assert sum(s.startswith("INSERT INTO activity ") for s in statements) == 1
    assert not any(s.startswith("SELECT ticket.id, ticket.team_id") for s in statements)
    with store.session() as s:
        fire = s.scalars(select(Ticket).where(Ticket.subject == "printer on fire")).one()
        bodies = s.scalars(
            select(Activity.body).where(Activity.ticket_id == fire.id).order_by(Activity.id)
        ).all()
        last = s.scalars(select(func.max(Activity.created_at))).one()
    assert [body.strip() for body in bodies] == ["still burning", "I can smell it"]
    assert fire.updated_at == last > fire.created_at


def test_a_batch_ends_before_the_mail_that_would_take_it_past_its_bytes(
    store: Store, job: JobConfig, maildir: mailbox.Maildir, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _Commits(store) as commits:
        maildir.add(_mail("warm-up"))
        run_job(store, job)
        fixed = commits.count
        sizes = []
        for n, body in enumerate(["a" * 900] * 4 + ["b" * 5000, "c" * 900]):
            raw = _mail(f"sized {n}", body=body + "\n")
            sizes.append(len(raw))
            maildir.add(raw)
        # Two small mails fit, a third would not; the big one is alone.
        monkeypatch.setattr(intake_run, "BATCH_BYTES", sizes[0] + sizes[1] + sizes[2] // 2)
        commits.count = 0
        assert run_job(store, job).created == 6
        assert commits.count == fixed - 1 + 4  # [0, 1], [2, 3], [4], [5]


def test_same_bytes_twice_in_one_batch_make_one_ticket(
    store: Store, job: JobConfig, maildir: mailbox.Maildir
) -> None:
    raw = _mail("twice in one batch")
    maildir.add(raw)
    maildir.add(raw)
    summary = run_job(store, job)
    assert (summary.created, summary.duplicates) == (1, 1)
    with store.session() as s:
        rows = list(s.scalars(select(IntakeRecord).order_by(IntakeRecord.id)))
        assert [r.outcome for r in rows] == [Fate.CREATED, Fate.DUPLICATE]
        assert rows[0].ticket_id == rows[1].ticket_id is not None


def test_rerun_and_same_bytes_under_new_key_make_no_duplicate(
    store: Store, job: JobConfig, maildir: mailbox.Maildir
) -> None:
    job = job.model_copy(update={"after_processing": AfterProcessing.KEEP})
    key = maildir.add(_mail("only once"))
    assert run_job(store, job).created == 1
    assert run_job(store, job).fetched == 0
    # The same file delivered again under another name (as after a UIDVALIDITY reset).
    src = Path(maildir._path) / "new" / key
    shutil.copy(src, Path(maildir._path) / "new" / f"{key}-copy")
    summary = run_job(store, job)
    assert (summary.fetched, summary.duplicates, summary.created) == (1, 1, 0)
    assert len(_tickets(store)) == 1
    with store.session() as s:
        outcomes = sorted(r.outcome.value for r in s.scalars(select(IntakeRecord)))
        assert outcomes == ["created", "duplicate"]


def test_run_is_recorded_with_counts(
    store: Store, job: JobConfig, maildir: mailbox.Maildir
) -> None:
    from deskmail.store.models import Run

    maildir.add(_mail("one"))
    maildir.add(_mail("two"))
    run_job(store, job)
    with store.session() as s:
        run = s.scalars(select(Run)).one()
        assert (run.job, run.status, run.fetched, run.created, run.acknowledged) == (
            "Support",
            "ok",
            2,
            2,
            2,
        )
        assert run.finished_at is not None
        assert s.scalar(select(func.count(Person.id))) == 1  # the fallback user


def test_a_database_error_never_puts_the_mail_in_a_log_reason_or_event(
    store: Store,
    maildir: mailbox.Maildir,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from deskmail.config.models import LoggingConfig
    from deskmail.logs import configure_logging

    marker = f"private-{os.urandom(8).hex()}"
    with store.engine.begin() as connection:
        for statement in REFUSE_TICKET[store.engine.dialect.name]:
            connection.exec_driver_sql(statement)
    job = maildir_job(Path(maildir._path), log_file=tmp_path / "logs" / "support.log")
    config = DeskmailConfig(
        source_file=tmp_path / "deskmail.toml",
        logging=LoggingConfig(file=tmp_path / "logs" / "all.log", level="debug"),
        jobs=[job],
    )
    maildir.add(_mail("fine"))
    raw = _mail("Refused by a trigger", body=f"The secret is {marker}, do not log it.\n")
    maildir.add(raw)
    configure_logging(config, verbose=1)  # stderr at info, the files at debug
    try:
        summary = run_job(store, job)
    finally:
        configure_logging(None)  # closes the files
    assert (summary.created, summary.quarantined) == (1, 1)

    logs = {path.name: path.read_text("utf-8") for path in (tmp_path / "logs").iterdir()}
    assert set(logs) == {"all.log", "support.log"}
    stderr = capsys.readouterr().err
    with store.session() as s:
        record = s.scalars(
            select(IntakeRecord).where(IntakeRecord.outcome == Fate.QUARANTINED)
        ).one()
        event = s.get(Ticket, record.event_ticket_id)
        assert event is not None
        texts = [record.error or "", event.subject, event.description, event.description_html]
        texts += [a.body for a in event.activities] + [a.body_html for a in event.activities]
        files = [
            store.blobs.path(a.sha256).read_bytes()
            for a in event.attachments
            if a.sha256 != hashlib.sha256(raw).hexdigest()  # the original .eml, kept on purpose
        ]
    for where, text in [*logs.items(), ("stderr", stderr), *enumerate(texts)]:
        assert marker not in (text or ""), where
    for file in files:
        assert marker.encode() not in file
    # Still useful: the stage, the error class and the database's own message.
    assert record.error is not None
    assert record.error.split(": ")[0] in ("store", "apply")
    assert "trigger says no" in record.error
    assert f"Reason: {record.error}" in event.description
    assert f"({record.error})" in stderr  # the ERROR line, at the default level too
    # The traceback is for debugging only: in the debug-level file, not on an info stderr.
    assert "Traceback" in logs["all.log"] and "Traceback" not in stderr
