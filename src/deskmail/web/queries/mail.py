"""A ticket's mails and activities as the ticket page and the API show them.

The mail that made a ticket is the ticket itself (its description, its
attachments without an activity); each later mail, note or system entry is an
activity. `MailRef` names either. The raw .eml of a mail is the blob of the
intake record that made it (content-addressed by the SHA-256 of the raw bytes):
kept when the job has include_raw_message, or when it was once quarantined.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.config.fate import Fate
from deskmail.store.blobs import BlobStore
from deskmail.store.models import (
    Activity,
    ActivityKind,
    Attachment,
    IntakeRecord,
    Ticket,
)

# The headers shown above a mail, in this order, when its raw message is kept.
SHOWN_HEADERS = ("From", "To", "Cc", "Reply-To", "Date", "Subject", "Message-ID")
_HEADER_BYTES = 256 * 1024  # enough for any sane header block


@dataclass(frozen=True, slots=True)
class MailRef:
    ticket_id: int
    activity_id: int | None = None  # None: the mail that made the ticket

    @property
    def key(self) -> str:
        """A name for the mail unique on its page (the frame's name)."""
        return f"mail-{self.activity_id}" if self.activity_id else f"mail-t{self.ticket_id}"


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    id: int
    filename: str
    media_type: str
    size: int
    inline: bool
    sha256: str


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    ref: MailRef
    kind: ActivityKind
    from_address: str | None
    from_name: str | None
    subject: str | None
    occurred_at: datetime
    body: str
    has_html: bool
    raw_sha256: str | None  # None: the raw message was not kept
    attachments: list[AttachmentInfo] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def is_mail(self) -> bool:
        return self.kind is ActivityKind.MAIL


@dataclass(frozen=True, slots=True)
class MailSource:
    """What the frame is made from."""

    ref: MailRef
    subject: str
    text: str
    html: str | None  # the parser's sanitised copy
    raw_sha256: str | None
    attachments: list[AttachmentInfo]


def _info(row: Attachment) -> AttachmentInfo:
    return AttachmentInfo(row.id, row.filename, row.media_type, row.size, row.inline, row.sha256)


def raw_sha256(session: Session, blobs: BlobStore, ref: MailRef) -> str | None:
    query = select(IntakeRecord.sha256)
    if ref.activity_id is None:
        query = query.where(
            IntakeRecord.ticket_id == ref.ticket_id,
            IntakeRecord.activity_id.is_(None),
            IntakeRecord.outcome == Fate.CREATED,
        )
    else:
        query = query.where(
            IntakeRecord.ticket_id == ref.ticket_id,
            IntakeRecord.activity_id == ref.activity_id,
            IntakeRecord.outcome == Fate.UPDATED,
        )
    found = session.scalar(query.limit(1))
    return found if found is not None and blobs.exists(found) else None


def mail_headers(blobs: BlobStore, sha256: str) -> list[tuple[str, str]]:
    with blobs.open(sha256) as file:
        head = file.read(_HEADER_BYTES)
    end = head.find(b"\r\n\r\n")
    end = end if end >= 0 else head.find(b"\n\n")
    message = BytesHeaderParser(policy=default_policy).parsebytes(head[: end if end >= 0 else None])
    shown = []
    for name in SHOWN_HEADERS:
        for value in message.get_all(name, []):
            try:
                shown.append((name, str(value)))
            except (ValueError, IndexError, LookupError):  # a broken header: as written
                shown.append((name, str(message.get(name, ""))))
    return shown


def timeline(session: Session, blobs: BlobStore, ticket: Ticket) -> list[TimelineEntry]:
    """The mail that made the ticket, then its activities, in order."""
    files: dict[int | None, list[AttachmentInfo]] = {}
    for row in session.scalars(
        select(Attachment).where(Attachment.ticket_id == ticket.id).order_by(Attachment.id)
    ):
        files.setdefault(row.activity_id, []).append(_info(row))
    records = {
        activity_id: sha256
        for activity_id, sha256 in session.execute(
            select(IntakeRecord.activity_id, IntakeRecord.sha256).where(
                IntakeRecord.ticket_id == ticket.id,
                IntakeRecord.outcome.in_((Fate.CREATED, Fate.UPDATED)),
            )
        )
    }

    def kept(activity_id: int | None) -> str | None:
        sha256 = records.get(activity_id)
        return sha256 if sha256 is not None and blobs.exists(sha256) else None

    opening_raw = kept(None)
    entries = [
        TimelineEntry(
            ref=MailRef(ticket.id),
            kind=ActivityKind.MAIL,
            from_address=ticket.sender_address,
            from_name=ticket.sender_name,
            subject=ticket.subject,
            occurred_at=ticket.created_at,
            body=ticket.description,
            has_html=ticket.description_html is not None,
            raw_sha256=opening_raw,
            attachments=files.get(None, []),
            headers=mail_headers(blobs, opening_raw) if opening_raw else [],
        )
    ]
    for activity in session.scalars(
        select(Activity).where(Activity.ticket_id == ticket.id).order_by(Activity.id)
    ):
        raw = kept(activity.id) if activity.kind is ActivityKind.MAIL else None
        entries.append(
            TimelineEntry(
                ref=MailRef(ticket.id, activity.id),
                kind=activity.kind,
                from_address=activity.from_address,
                from_name=activity.from_name,
                subject=activity.subject,
                occurred_at=activity.occurred_at,
                body=activity.body,
                has_html=activity.body_html is not None,
                raw_sha256=raw,
                attachments=files.get(activity.id, []),
                headers=mail_headers(blobs, raw) if raw else [],
            )
        )
    return entries


def mail_source(session: Session, blobs: BlobStore, ref: MailRef) -> MailSource | None:
    """The mail `ref` names, or None if there is no such mail."""
    ticket = session.get(Ticket, ref.ticket_id)
    if ticket is None:
        return None
    rows = select(Attachment).where(Attachment.ticket_id == ref.ticket_id)
    if ref.activity_id is None:
        subject, text, html = ticket.subject, ticket.description, ticket.description_html
        rows = rows.where(Attachment.activity_id.is_(None))
    else:
        activity = session.get(Activity, ref.activity_id)
        if activity is None or activity.ticket_id != ref.ticket_id:
            return None
        subject, text, html = activity.subject or "", activity.body, activity.body_html
        rows = rows.where(Attachment.activity_id == ref.activity_id)
    attachments = [_info(row) for row in session.scalars(rows.order_by(Attachment.id))]
    return MailSource(ref, subject, text, html, raw_sha256(session, blobs, ref), attachments)


def attachment(session: Session, attachment_id: int) -> AttachmentInfo | None:
    row = session.get(Attachment, attachment_id)
    return _info(row) if row is not None else None
