"""Taking in one fetched message: parse, decide, apply and journal it in one transaction.

Never raises for a bad message: anything that fails is quarantined with its raw
bytes and the reason, and the caller goes on with the next message.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from deskmail.apply.attachments import raw_message_attachment
from deskmail.apply.batch import Batch
from deskmail.apply.context import JobContext
from deskmail.apply.events import quarantine_event, retried_ok
from deskmail.apply.lookups import StoreLookups
from deskmail.apply.people import prefetch_people
from deskmail.apply.recent_tickets import note_new_ticket, prefetch_recent_tickets
from deskmail.apply.tickets import (
    Content,
    apply_plan,
    draw_numbers_in_block,
)
from deskmail.classify.mail import Mail
from deskmail.classify.plan import Recorded
from deskmail.classify.steps import classify
from deskmail.config.fate import Fate
from deskmail.config.models import DeskmailConfig, JobConfig
from deskmail.intake import journal
from deskmail.intake.faults import CrashPoint, reached
from deskmail.intake.parse_ahead import Prepared
from deskmail.intake.replies import queue_replies
from deskmail.parse.message import ParsedMessage
from deskmail.parse.parser import parse_message
from deskmail.preprocess import preprocess
from deskmail.sources.base import FetchedMessage
from deskmail.store import deferred
from deskmail.store.blobs import BlobBatch, BlobWriter
from deskmail.store.engine import Store
from deskmail.store.errors import describe_error
from deskmail.store.ids import assign_ids_up_front
from deskmail.store.models import IntakeRecord, utcnow
from deskmail.webhooks.outbox import queue_webhook
from deskmail.webhooks.payloads import MessageQuarantined, QuarantineRetried

_JOURNAL = cast(Table, IntakeRecord.__table__)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MessageOutcome:
    key: str
    result: Fate
    subject: str = ""
    sender: str = ""
    ticket: str = ""  # "IT-12"
    error: str = ""

    @property
    def acknowledge(self) -> bool:
        return self.result not in (Fate.QUARANTINED, Fate.SKIPPED)


def take_in(
    store: Store,
    job: JobConfig,
    context: JobContext,
    fetched: FetchedMessage,
    retrying: IntakeRecord | None = None,
    config: DeskmailConfig | None = None,
    prepared: Prepared | None = None,
) -> MessageOutcome:
    """One message in a transaction of its own.

    `retrying`: the quarantined journal row of this message, updated in place.
    `config`: for automatic mails (acknowledgement, denial, group notice); None sends none.
    `prepared`: the message already hashed and parsed (not parsed twice)."""
    sha256 = prepared.sha256 if prepared else hashlib.sha256(fetched.raw).hexdigest()
    try:
        message = prepared.message if prepared else parse_message(fetched.raw)
    except Exception as exc:  # a parser bug must not stop the mailbox
        return _quarantine(store, job, context, fetched, sha256, None, "parse", exc, retrying)

    stage = _Stage()
    try:
        with _transaction(store) as (session, blobs):
            args = (blobs, job, context, fetched, sha256, message, stage, retrying, config)
            outcome = _write(session, Batch(), *args)
    except _NotQuarantined:
        return MessageOutcome(fetched.key, Fate.SKIPPED, message.subject)
    except IntegrityError as exc:
        if retrying is None and _recorded_elsewhere(store, context.job, fetched.key):
            return MessageOutcome(fetched.key, Fate.SKIPPED, message.subject)
        return _quarantine(store, job, context, fetched, sha256, message, "store", exc, retrying)
    except Exception as exc:
        return _quarantine(store, job, context, fetched, sha256, message, stage.name, exc, retrying)
    reached(CrashPoint.AFTER_COMMIT)
    return outcome


def take_in_batch(
    store: Store,
    job: JobConfig,
    context: JobContext,
    batch: Sequence[FetchedMessage],
    prepared: Sequence[Prepared],
    config: DeskmailConfig | None = None,
) -> list[MessageOutcome]:
    """Several messages in one transaction: one commit (one fsync) instead of one per message.

    All or nothing, like a single message: until the commit nothing is
    acknowledged, and a crash leaves every message of the batch to be taken in
    again. If any message fails (a bad mail, a row another instance wrote
    first), the batch is rolled back and each message taken in on its own,
    where a failure quarantines that message alone. `prepared`: the batch
    already hashed and parsed, in order (ParseAhead.collect), before the
    transaction: SQLite's write lock is held for the writes only.
    """
    if len(batch) == 1:
        return [take_in(store, job, context, batch[0], config=config, prepared=prepared[0])]
    try:
        digests = [p.sha256 for p in prepared]
        messages = [p.message for p in prepared]
        senders = {m.sender.normalized for m in messages if m.sender and m.sender.normalized}
        with _transaction(store) as (session, blobs):
            kept = Batch()
            deferred.defer_rows(session)
            draw_numbers_in_block(session, kept)
            assign_ids_up_front(session)
            # What every message of the batch asks the database, asked once for all.
            kept.copies = journal.find_same_bytes_many(session, context.job, digests)
            prefetch_people(session, kept, senders)
            prefetch_recent_tickets(session, kept, job, senders)
            outcomes = []
            for fetched, sha256, message in zip(batch, digests, messages, strict=True):
                args = (blobs, job, context, fetched, sha256, message, _Stage(), None, config)
                outcomes.append(_write(session, kept, *args))
    except Exception as exc:
        log.info(
            "job %s: batch of %d rolled back (%s); taking its messages in one by one",
            context.job,
            len(batch),
            describe_error(exc),
        )
        return [
            take_in(store, job, context, fetched, config=config, prepared=one)
            for fetched, one in zip(batch, prepared, strict=True)
        ]
    for _ in outcomes:
        reached(CrashPoint.AFTER_COMMIT)
    return outcomes


class _Stage:
    """How far a message got, for the quarantine's reason."""

    name = "classify"


@contextmanager
def _transaction(store: Store) -> Iterator[tuple[Session, BlobBatch]]:
    """The intake transaction and its attachments' blobs, written in the background
    (store/blobs.py): the commit waits until they are on disk."""
    with store.blobs.batch() as blobs, store.transaction() as session:
        yield session, blobs
        deferred.write_pending(session)  # the batch's last rows while the disk catches up
        blobs.wait()


def _write(
    session: Session,
    batch: Batch,
    blobs: BlobWriter,
    job: JobConfig,
    context: JobContext,
    fetched: FetchedMessage,
    sha256: str,
    message: ParsedMessage,
    stage: _Stage,
    retrying: IntakeRecord | None,
    config: DeskmailConfig | None,
) -> MessageOutcome:
    """Journal row, ticket or activity, automatic mails: flushed into the caller's transaction.

    `batch.copies`: a batch's earlier messages by digest, looked up in one query
    (journal.find_same_bytes_many) and kept up to date here; None asks the database.
    """
    seen = batch.copies
    record = _journal_row(session, context, fetched, sha256, message, retrying)
    ticket = ""

    def same_bytes(digest: str) -> Recorded | None:
        if seen is None:
            same = journal.find_same_bytes(session, context.job, digest)
        else:
            same = seen.get(digest)
        return Recorded(same.ticket_id, same.activity_id) if same is not None else None

    text = preprocess(message.text, job.preprocessing).text
    plan = classify(Mail(job, message, text, sha256), StoreLookups(session, batch, job, same_bytes))
    if seen is not None:
        seen.setdefault(sha256, record)
    if plan.fate is Fate.DUPLICATE:
        earlier = plan.duplicate_of
        assert earlier is not None  # set with the action
        record.outcome = Fate.DUPLICATE
        record.ticket_id, record.activity_id = earlier.ticket_id, earlier.activity_id
    else:
        stage.name = "apply"
        raw = (
            raw_message_attachment(fetched.raw, message.subject)
            if job.include_raw_message
            else None
        )
        content = Content(message, text, plan.attachments, raw)
        applied = apply_plan(session, batch, blobs, context, content, plan)
        record.rules = ", ".join(plan.rules_fired)[:4000] or None
        record.auto_reply_due = plan.auto_reply_due
        if applied is None:
            record.outcome = Fate.DENIED if plan.fate is Fate.DENIED else Fate.IGNORED
            if record.outcome is Fate.DENIED:
                # No ticket holds it: kept as received, for `deskmail denied show --raw`.
                blobs.put(fetched.raw, sha256)
                record.raw_sha256 = sha256
        else:
            record.outcome = Fate.CREATED if applied.created else Fate.UPDATED
            record.ticket_id, record.activity_id = applied.ticket_id, applied.activity_id
            ticket = applied.label
            if applied.created and message.sender is not None:
                note_new_ticket(batch, message.sender.normalized, applied.ticket_id)
        if config is not None:
            queue_replies(session, config, job, message, plan, applied)
    if seen is None:
        session.add(record)
        session.flush()  # alone: its errors show here
    else:
        deferred.insert(session, _JOURNAL, _journal_values(record))  # with the batch's rows
    if retrying is not None:
        retried_ok(session, record, ticket or record.outcome.value)
        queue_webhook(session, QuarantineRetried.of(record, utcnow()))
    reached(CrashPoint.IN_TRANSACTION)
    return MessageOutcome(
        fetched.key,
        record.outcome,
        message.subject,
        str(message.sender or ""),
        ticket,
    )


def _record(
    context: JobContext, fetched: FetchedMessage, sha256: str, message: ParsedMessage | None
) -> IntakeRecord:
    message_id = message.message_id if message else None
    return IntakeRecord(
        job=context.job,
        source_key=fetched.key,
        message_id=message_id[:1000] if message_id else None,
        sha256=sha256,
        size=len(fetched.raw),
    )


def _journal_values(record: IntakeRecord) -> dict[str, Any]:
    """The columns set on a new journal row (not added to the session); the rest default."""
    state = record.__dict__  # SQLAlchemy keeps an object's attribute values here
    return {column.key: state[column.key] for column in _JOURNAL.columns if column.key in state}


class _NotQuarantined(Exception):
    """The row being retried was retried or discarded meanwhile (another operator)."""


def _journal_row(
    session: Session,
    context: JobContext,
    fetched: FetchedMessage,
    sha256: str,
    message: ParsedMessage | None,
    retrying: IntakeRecord | None,
) -> IntakeRecord:
    """A new journal row, or the quarantined one being retried, locked and refreshed."""
    fresh = _record(context, fetched, sha256, message)
    if retrying is None:
        return fresh
    row = session.scalars(
        select(IntakeRecord).where(IntakeRecord.id == retrying.id).with_for_update()
    ).first()
    if row is None or row.outcome is not Fate.QUARANTINED:
        raise _NotQuarantined
    row.message_id, row.sha256, row.size = fresh.message_id, fresh.sha256, fresh.size
    row.error = None
    return row


def _recorded_elsewhere(store: Store, job: str, key: str) -> bool:
    with store.transaction() as session:
        return key in journal.lookup(session, job, [key])


def _quarantine(
    store: Store,
    job: JobConfig,
    context: JobContext,
    fetched: FetchedMessage,
    sha256: str,
    message: ParsedMessage | None,
    stage: str,
    exc: Exception,
    retrying: IntakeRecord | None = None,
) -> MessageOutcome:
    """Keep the raw bytes and the reason, and report it; the message stays on the server."""
    # Kept, logged and put in the event: the stage and the error, never the row's values.
    reason = f"{stage}: {describe_error(exc)}"[:4000]
    log.error("job %s: message %s quarantined (%s)", context.job, fetched.key, reason)
    log.debug("job %s: message %s: the error's traceback", context.job, fetched.key, exc_info=exc)
    store.blobs.put(fetched.raw, sha256)
    subject = message.subject if message else ""
    try:
        with store.transaction() as session:
            record = _journal_row(session, context, fetched, sha256, message, retrying)
            record.outcome = Fate.QUARANTINED
            record.error = reason
            record.raw_sha256 = sha256
            record.attempts = (record.attempts or 0) + 1 if retrying is not None else 1
            session.add(record)
            session.flush()
            _report(session, store, job, record, fetched.raw, subject)
            quarantined = MessageQuarantined.of(record, utcnow(), retry=retrying is not None)
            queue_webhook(session, quarantined, subject=subject)
    except _NotQuarantined:
        return MessageOutcome(fetched.key, Fate.SKIPPED, subject)
    except IntegrityError:
        if retrying is None and _recorded_elsewhere(store, context.job, fetched.key):
            return MessageOutcome(fetched.key, Fate.SKIPPED)
        raise
    return MessageOutcome(
        fetched.key,
        Fate.QUARANTINED,
        subject,
        str(message.sender or "") if message else "",
        error=reason,
    )


def _report(
    session: Session, store: Store, job: JobConfig, record: IntakeRecord, raw: bytes, subject: str
) -> None:
    """The error event, in the quarantine's transaction; if it fails, the quarantine still holds."""
    try:
        with session.begin_nested():
            quarantine_event(session, store.blobs, job, record, raw, subject=subject)
    except Exception as exc:
        log.error(
            "job %s: no event for quarantined message %s (%s)",
            job.name,
            record.source_key,
            describe_error(exc),
        )
        log.debug("job %s: the event's traceback", job.name, exc_info=exc)
