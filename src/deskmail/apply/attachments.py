"""Attachments to the blob store, metadata to the attachment table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, exists, or_, select
from sqlalchemy.orm import Session

from deskmail.classify.plan import DroppedAttachment
from deskmail.parse.attachments import WHOLE_MAIL_NAME, eml_attachment
from deskmail.parse.filenames import eml_name
from deskmail.parse.message import ParsedAttachment
from deskmail.store import deferred
from deskmail.store.blobs import BlobWriter
from deskmail.store.ids import next_id
from deskmail.store.models import Activity, ActivityKind, Attachment, Ticket, utcnow

_ATTACHMENTS = cast(Table, Attachment.__table__)


def store_attachments(
    session: Session,
    blobs: BlobWriter,
    attachments: Sequence[ParsedAttachment],
    ticket: Ticket,
    activity: Activity | None = None,
) -> None:
    """Write each file (once per content) before the transaction commits.

    A crash after a blob is written but before commit leaves an unreferenced
    blob, which is harmless; the reverse (a row without its bytes) cannot happen.
    """
    if attachments:
        deferred.ensure_ids(session, ticket, activity)
    for part in attachments:
        if part.spooled is not None:  # decoded into a file by the parser: renamed, not copied
            ref = blobs.adopt(part.spooled.path, part.sha256, part.spooled.size)
        else:
            ref = blobs.put(part.data, part.sha256)
        row = {
            "ticket_id": ticket.id,
            "activity_id": activity.id if activity else None,
            "sha256": ref.sha256,
            "filename": part.filename[:500],
            "media_type": part.media_type[:200],
            "size": ref.size,
            "inline": part.inline,
            "content_id": part.content_id[:500] if part.content_id else None,
        }
        deferred.insert(session, _ATTACHMENTS, row)


def note_dropped(session: Session, ticket: Ticket, dropped: Sequence[DroppedAttachment]) -> None:
    """Files refused by a size limit are said on the ticket, so nobody waits for them."""
    lines = [d.reason for d in dropped if d.notify]
    if lines:
        session.add(
            Activity(
                # Its id from the batch's block, if any: SQLite's own would be one handed out.
                id=next_id(session, "activity"),
                ticket_id=ticket.id,  # not ticket=: a ticket of a batch is not in the session
                kind=ActivityKind.SYSTEM,
                body="Not kept:\n" + "\n".join(f"- {line}" for line in lines),
                occurred_at=utcnow(),
                created_at=utcnow(),
            )
        )


def inline_seen_from(session: Session, sender: str | None, sha256: str) -> bool:
    """Did this sender already send this exact inline image (a signature logo)?"""
    if not sender:
        return False
    address = sender.lower()
    return bool(
        session.scalar(
            select(
                exists()
                .where(Attachment.sha256 == sha256, Attachment.inline.is_(True))
                .where(
                    or_(
                        Attachment.ticket.has(Ticket.sender_address.ilike(address)),
                        Attachment.activity.has(Activity.from_address.ilike(address)),
                    )
                )
            )
        )
    )


def raw_message_attachment(raw: bytes, subject: str) -> ParsedAttachment:
    """The original mail as an .eml attachment (Octopus IncludeRawMessageAsAttachment)."""
    named = f"original-message - {subject}" if subject.strip() else ""
    return eml_attachment(raw, eml_name(named, WHOLE_MAIL_NAME))
