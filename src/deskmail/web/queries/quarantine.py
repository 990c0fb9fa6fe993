"""Quarantined messages as the Quarantine screen and /api/v1/quarantine read them, and
the retry and discard they ask for: the functions `deskmail quarantine` uses."""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from deskmail.config.fate import Fate
from deskmail.config.models import DeskmailConfig
from deskmail.intake.quarantine import RetryResult, discard, read_raw, retry
from deskmail.parse.glance import printable
from deskmail.store.blobs import BlobStore
from deskmail.store.engine import Store
from deskmail.store.models import IntakeRecord, Ticket
from deskmail.web.queries.jobs import with_database_jobs

HEAD_BYTES = 64 * 1024  # enough for any sane header block: the list reads no body
RAW_SHOWN = 256 * 1024  # the detail page shows this much of the source; the rest downloads


@dataclass(frozen=True, slots=True)
class QuarantinedRow:
    id: int
    job: str
    reason: str
    sender: str
    subject: str
    received_at: datetime
    attempts: int
    size: int


@dataclass(frozen=True, slots=True)
class QuarantinedDetail:
    row: QuarantinedRow
    source_key: str
    message_id: str | None
    sha256: str | None
    event: str | None  # "IT-12 (open)"
    headers: list[tuple[str, str]]  # every header, in order, printable
    raw_missing: bool


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What became of one message a retry or discard was asked for."""

    record_id: int
    done: bool  # retried into a ticket (or activity), or discarded
    detail: str  # one line, as the CLI prints it


def quarantined_query(
    job: str | None = None, received_since: datetime | None = None
) -> Select[IntakeRecord]:
    query = select(IntakeRecord).where(IntakeRecord.outcome == Fate.QUARANTINED)
    if job is not None:
        query = query.where(IntakeRecord.job == job)
    if received_since is not None:
        query = query.where(IntakeRecord.received_at >= received_since)
    return query


def rows_of(blobs: BlobStore, records: list[IntakeRecord]) -> list[QuarantinedRow]:
    return [_row(record, _head(blobs, record)) for record in records]


def newest_quarantined(
    session: Session, blobs: BlobStore, job: str | None = None, limit: int = 200
) -> list[QuarantinedRow]:
    query = quarantined_query(job).order_by(IntakeRecord.id.desc()).limit(limit)
    return rows_of(blobs, list(session.scalars(query)))


def quarantined_jobs(session: Session) -> list[str]:
    """The jobs that have quarantined messages now (the list's filter)."""
    query = select(IntakeRecord.job).where(IntakeRecord.outcome == Fate.QUARANTINED)
    return list(session.scalars(query.distinct().order_by(IntakeRecord.job)))


def quarantined_detail(
    session: Session, blobs: BlobStore, record_id: int
) -> QuarantinedDetail | None:
    """A quarantined message (or one that was, for a link kept from before); None if unknown."""
    record = session.get(IntakeRecord, record_id)
    if record is None or record.raw_sha256 is None:
        return None
    head = _head(blobs, record)
    event = session.get(Ticket, record.event_ticket_id) if record.event_ticket_id else None
    return QuarantinedDetail(
        row=_row(record, head),
        source_key=record.source_key,
        message_id=record.message_id,
        sha256=record.raw_sha256,
        event=f"{event.team.name}-{event.number} ({event.status.value})" if event else None,
        headers=_all_headers(head) if head is not None else [],
        raw_missing=head is None,
    )


def is_quarantined(session: Session, record_id: int) -> bool:
    record = session.get(IntakeRecord, record_id)
    return record is not None and record.outcome is Fate.QUARANTINED


def raw_source(session: Session, blobs: BlobStore, record_id: int) -> bytes | None:
    record = session.get(IntakeRecord, record_id)
    if record is None or record.raw_sha256 is None:
        return None
    try:
        return read_raw(blobs, record)
    except FileNotFoundError:
        return None


def shown_source(raw: bytes) -> tuple[str, bool]:
    """The source as text for a page (undecodable bytes replaced), and whether it was cut."""
    return raw[:RAW_SHOWN].decode("utf-8", errors="replace"), len(raw) > RAW_SHOWN


def retry_messages(
    store: Store, config: DeskmailConfig, ids: list[int] | Literal["all"]
) -> list[ActionResult]:
    """Take the messages in again, as `deskmail quarantine retry` does, one by one."""
    jobs = with_database_jobs(config, store)
    results = []
    chosen: list[int | Literal["all"]] = ["all"] if ids == "all" else list(ids)
    for which in chosen:
        for result in retry(store, jobs, which):
            results.append(ActionResult(result.record_id, result.ok, _retried(result)))
    return results


def discard_messages(store: Store, ids: list[int]) -> list[ActionResult]:
    """Give up on the messages, as `deskmail quarantine discard` does (each on its own)."""
    results = []
    for record_id in ids:
        with store.transaction() as session:
            record = discard(session, record_id)
        if record is None:
            results.append(ActionResult(record_id, False, "not a quarantined message"))
        else:
            results.append(ActionResult(record_id, True, "discarded; its raw bytes are kept"))
    return results


def _retried(result: RetryResult) -> str:
    """What a retry did, without the mail's subject or sender (this line goes in URLs)."""
    outcome = result.outcome
    if outcome is None:
        return f"cannot retry: {result.problem}"
    if outcome.result is Fate.QUARANTINED:
        return f"failed again: {printable(outcome.error)}"
    if outcome.result in (Fate.CREATED, Fate.UPDATED):
        return f"{outcome.result.value} {outcome.ticket}"
    return outcome.result.value


def _head(blobs: BlobStore, record: IntakeRecord) -> bytes | None:
    if record.raw_sha256 is None:
        return None
    try:
        with blobs.open(record.raw_sha256) as file:
            data: bytes = file.read(HEAD_BYTES)
    except FileNotFoundError:
        return None
    end = data.find(b"\r\n\r\n")
    end = data.find(b"\n\n") if end < 0 else end
    return data if end < 0 else data[:end]


def _parsed_head(head: bytes) -> email.message.EmailMessage:
    parser = email.parser.BytesHeaderParser(policy=email.policy.default)
    parsed: email.message.EmailMessage = parser.parsebytes(head + b"\r\n\r\n")
    return parsed


def _header(parsed: email.message.EmailMessage, name: str) -> str:
    try:
        value = parsed[name]
    except Exception:  # a header the parser cannot decode
        return "(unreadable)"
    return printable(str(value)) if value is not None else ""


def _all_headers(head: bytes) -> list[tuple[str, str]]:
    parsed = _parsed_head(head)
    shown = []
    for name, value in parsed.raw_items():
        try:
            text = str(parsed.policy.header_fetch_parse(name, value))
        except Exception:  # undecodable: shown as it came
            text = str(value)
        shown.append((name, printable(text)))
    return shown


def _row(record: IntakeRecord, head: bytes | None) -> QuarantinedRow:
    parsed = _parsed_head(head) if head is not None else None
    return QuarantinedRow(
        id=record.id,
        job=record.job,
        reason=printable(record.error or ""),
        sender=_header(parsed, "From") if parsed is not None else "",
        subject=_header(parsed, "Subject") if parsed is not None else "",
        received_at=record.received_at,
        attempts=record.attempts,
        size=record.size,
    )
