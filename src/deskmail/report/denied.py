"""Denied requests (create_new_requests = false): what came in, and what was answered.

A denied mail opens no ticket, so nothing else shows it: its journal row
(outcome DENIED) keeps its raw bytes in the blob store, and its automatic
reply is the outbox row that answers its Message-ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.config.fate import Fate
from deskmail.config.files import command_line
from deskmail.outbound.compose import clean_message_id
from deskmail.outbound.outbox import MailKind
from deskmail.parse.glance import glance_headers, printable
from deskmail.report.text import cut
from deskmail.store.blobs import BlobStore
from deskmail.store.models import IntakeRecord, OutgoingMail


@dataclass(frozen=True, slots=True)
class DeniedMail:
    record_id: int
    job: str
    received_at: datetime
    size: int
    sender: str
    subject: str
    reply: str  # "sent 2026-12-07 03:10", "pending", "suppressed: ...", "none"


def list_denied(session: Session, blobs: BlobStore, job: str | None = None) -> list[DeniedMail]:
    query = (
        select(IntakeRecord).where(IntakeRecord.outcome == Fate.DENIED).order_by(IntakeRecord.id)
    )
    if job is not None:
        query = query.where(IntakeRecord.job == job)
    return [_denied(session, blobs, record) for record in session.scalars(query)]


def render_list(mails: list[DeniedMail]) -> str:
    if not mails:
        return "no denied mail"
    lines = [f"{'id':>6} {'job':<20} {'received (UTC)':<16} {'from':<30} {'reply':<22} subject"]
    for mail in mails:
        lines.append(
            f"{mail.record_id:>6} {cut(mail.job, 20):<20} {mail.received_at:%Y-%m-%d %H:%M}"
            f" {cut(mail.sender, 30):<30} {cut(mail.reply, 22):<22} {cut(mail.subject, 60)}"
        )
    return "\n".join(lines)


def show(
    session: Session, blobs: BlobStore, record_id: int, config_file: Path | None = None
) -> str | None:
    """The denied mail's headers (never its body) and its reply; None if not a denied mail."""
    record = session.get(IntakeRecord, record_id)
    if record is None or record.outcome is not Fate.DENIED:
        return None
    mail = _denied(session, blobs, record)
    lines = [
        f'Denied request {record.id} of job "{record.job}" (create_new_requests = false)',
        f"  key:        {record.source_key}",
        f"  received:   {record.received_at:%Y-%m-%d %H:%M:%S} UTC",
        f"  size:       {record.size:,} bytes (SHA-256 {record.sha256})",
        f"  reply:      {mail.reply}",
        "",
    ]
    raw = read_raw(blobs, record)
    if raw is None:
        lines.append("  (its raw bytes were not kept: denied before deskmail kept them)")
    else:
        lines += [f"  {name + ':':<11} {value}" for name, value in glance_headers(raw)]
        again = command_line(config_file, "denied", "show", str(record.id), "--raw")
        lines += ["", f"{again} > message.eml    as received"]
    return "\n".join(lines)


def read_raw(blobs: BlobStore, record: IntakeRecord) -> bytes | None:
    """The denied mail exactly as fetched; None when no bytes were kept."""
    if record.outcome is not Fate.DENIED or record.raw_sha256 is None:
        return None
    try:
        with blobs.open(record.raw_sha256) as file:
            return file.read()
    except FileNotFoundError:
        return None


def _denied(session: Session, blobs: BlobStore, record: IntakeRecord) -> DeniedMail:
    headers = dict(glance_headers(read_raw(blobs, record) or b""))
    return DeniedMail(
        record_id=record.id,
        job=record.job,
        received_at=record.received_at,
        size=record.size,
        sender=headers.get("From", "-"),
        subject=headers.get("Subject", ""),
        reply=_reply(session, record),
    )


def _reply(session: Session, record: IntakeRecord) -> str:
    answered = clean_message_id(record.message_id)
    if answered is None:
        return "none (no Message-ID)"
    reply = session.scalars(
        select(OutgoingMail)
        .where(
            OutgoingMail.job == record.job,
            OutgoingMail.kind == MailKind.DENIED.value,
            OutgoingMail.in_reply_to == answered,
        )
        .order_by(OutgoingMail.id.desc())
    ).first()
    if reply is None:
        return "none"
    if reply.sent_at is not None:
        return f"sent {reply.sent_at:%Y-%m-%d %H:%M}"
    detail = f": {printable(reply.last_error)}" if reply.last_error else ""
    return f"{reply.status.value}{detail}"
