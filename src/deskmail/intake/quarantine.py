"""Quarantined messages: list, show, retry, discard (`deskmail quarantine ...`).

A message that failed a stage keeps its journal row (outcome QUARANTINED)
and its raw bytes in the blob store, and stays in the mailbox. A retry runs
the stored bytes through the same intake path as a fetched message, updating
that row in place; once it succeeds, the job's next run acknowledges the
message on the server. A discarded message is given up on: no ticket, its
bytes kept for audit, and acknowledged on the server by the next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.apply.context import JobContext, resolve_context
from deskmail.apply.events import discarded
from deskmail.config.fate import Fate
from deskmail.config.files import command_line
from deskmail.config.models import DeskmailConfig
from deskmail.intake.process import MessageOutcome, take_in
from deskmail.logs import job_logging
from deskmail.parse.glance import glance_headers, printable
from deskmail.sources.base import FetchedMessage
from deskmail.store.blobs import BlobStore
from deskmail.store.engine import Store
from deskmail.store.models import IntakeRecord, Ticket, utcnow
from deskmail.webhooks.outbox import queue_webhook
from deskmail.webhooks.payloads import QuarantineDiscarded

# A discarded message is journaled IGNORED (taken care of: the next run acknowledges
# it); this prefix on its error tells it from one a processing rule ignored.
DISCARDED = "discarded"


@dataclass(frozen=True, slots=True)
class RetryResult:
    record_id: int
    job: str
    outcome: MessageOutcome | None = None  # None: it could not be retried at all
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome is not None and self.outcome.result is not Fate.QUARANTINED


def list_quarantined(session: Session, job: str | None = None) -> list[IntakeRecord]:
    query = (
        select(IntakeRecord)
        .where(IntakeRecord.outcome == Fate.QUARANTINED)
        .order_by(IntakeRecord.id)
    )
    if job is not None:
        query = query.where(IntakeRecord.job == job)
    return list(session.scalars(query))


def render_list(records: list[IntakeRecord]) -> str:
    if not records:
        return "no quarantined messages"
    lines = [f"{'id':>6} {'job':<20} {'received (UTC)':<16} {'size':>9}  reason"]
    for record in records:
        lines.append(
            f"{record.id:>6} {_cut(record.job, 20):<20} {record.received_at:%Y-%m-%d %H:%M} "
            f"{record.size:>9,}  {_cut(record.error or '', 90)}"
        )
    return "\n".join(lines)


def show(
    session: Session, blobs: BlobStore, record_id: int, config_file: Path | None = None
) -> str | None:
    """The reason, the event and the message's headers (never its body); None if unknown."""
    record = session.get(IntakeRecord, record_id)
    if record is None or record.raw_sha256 is None:  # never quarantined
        return None
    lines = [
        f'Quarantined message {record.id} of job "{record.job}": {_state(record)}',
        f"  key:        {record.source_key}",
        f"  received:   {record.received_at:%Y-%m-%d %H:%M:%S} UTC",
        f"  message-id: {record.message_id or '-'}",
        f"  size:       {record.size:,} bytes (SHA-256 {record.raw_sha256})",
        f"  reason:     {printable(record.error or '-')}",
        f"  event:      {_event(session, record.event_ticket_id)}",
        "",
    ]
    try:
        raw = read_raw(blobs, record)
    except FileNotFoundError:
        lines.append("  (the raw bytes are missing from the blob store)")
    else:
        lines += [f"  {name + ':':<11} {value}" for name, value in glance_headers(raw)]
    if record.outcome is Fate.QUARANTINED:
        lines += [
            "",
            f"{command_line(config_file, 'quarantine', 'retry', str(record.id))}"
            "    once the cause is fixed",
            f"{command_line(config_file, 'quarantine', 'show', str(record.id), '--raw')}"
            " > message.eml    the message as received",
            f"{command_line(config_file, 'quarantine', 'discard', str(record.id))}"
            "    to give up on it",
        ]
    return "\n".join(lines)


def read_raw(blobs: BlobStore, record: IntakeRecord) -> bytes:
    """The message exactly as fetched; FileNotFoundError when the blob is gone."""
    if record.raw_sha256 is None:
        raise FileNotFoundError(f"message {record.id} has no raw bytes kept")
    with blobs.open(record.raw_sha256) as file:
        return file.read()


def retry(
    store: Store,
    config: DeskmailConfig,
    which: int | Literal["all"],
    job: str | None = None,
) -> list[RetryResult]:
    """Take quarantined messages in again: one by id, or all of them (of `job`)."""
    with store.session() as session:
        if which == "all":
            records = list_quarantined(session, job)
        else:
            record = session.get(IntakeRecord, which)
            if record is None or record.outcome is not Fate.QUARANTINED:
                state = "unknown" if record is None else _state(record)
                return [RetryResult(which, "", problem=f"not a quarantined message ({state})")]
            records = [record]
    contexts: dict[str, JobContext] = {}
    return [_retry_one(store, config, record, contexts) for record in records]


def _retry_one(
    store: Store, config: DeskmailConfig, record: IntakeRecord, contexts: dict[str, JobContext]
) -> RetryResult:
    try:
        job = config.job(record.job)
    except KeyError:
        return RetryResult(record.id, record.job, problem="its job is no longer configured")
    try:
        raw = read_raw(store.blobs, record)
    except FileNotFoundError:
        return RetryResult(record.id, record.job, problem="its raw bytes are missing")
    with job_logging(job.name):
        if job.name not in contexts:
            with store.transaction() as session:
                contexts[job.name] = resolve_context(session, job)
        fetched = FetchedMessage(record.source_key, raw)
        outcome = take_in(store, job, contexts[job.name], fetched, retrying=record, config=config)
    return RetryResult(record.id, record.job, outcome)


def discard(session: Session, record_id: int) -> IntakeRecord | None:
    """Give up on a quarantined message; None when there is no such quarantined message.

    The raw bytes stay in the blob store for audit. The row becomes IGNORED, so
    the job's next run acknowledges the message on the server.
    """
    record = session.scalars(
        select(IntakeRecord).where(IntakeRecord.id == record_id).with_for_update()
    ).first()
    if record is None or record.outcome is not Fate.QUARANTINED:
        return None
    record.outcome = Fate.IGNORED
    record.error = f"{DISCARDED} {utcnow():%Y-%m-%d %H:%M} UTC; was: {record.error}"[:4000]
    discarded(session, record)
    queue_webhook(session, QuarantineDiscarded.of(record, utcnow()))
    return record


def _state(record: IntakeRecord) -> str:
    if record.outcome is Fate.QUARANTINED:
        return "quarantined"
    if record.outcome is Fate.IGNORED and (record.error or "").startswith(DISCARDED):
        return "discarded"
    return f"retried, now {record.outcome.value}"


def _event(session: Session, ticket_id: int | None) -> str:
    event = session.get(Ticket, ticket_id) if ticket_id is not None else None
    if event is None:
        return "-"
    return f"{event.team.name}-{event.number} ({event.status.value})"


def _cut(text: str, width: int) -> str:
    text = printable(text)
    return text if len(text) <= width else text[: width - 1] + "…"


__all__ = [
    "DISCARDED",
    "RetryResult",
    "discard",
    "list_quarantined",
    "read_raw",
    "render_list",
    "retry",
    "show",
]
