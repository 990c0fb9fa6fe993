"""Attachments to the blob store, metadata to the attachment table."""

from __future__ import annotations

from sqlalchemy.orm import Session

from deskmail.parse.message import ParsedAttachment
from deskmail.store.blobs import BlobStore
from deskmail.store.models import Activity, Attachment, Ticket


def store_attachments(
    session: Session,
    blobs: BlobStore,
    attachments: tuple[ParsedAttachment, ...],
    ticket: Ticket,
    activity: Activity | None = None,
) -> list[Attachment]:
    """Write each file (once per content) before the transaction commits.

    A crash after a blob is written but before commit leaves an unreferenced
    blob, which is harmless; the reverse (a row without its bytes) cannot happen.
    """
    rows = []
    for part in attachments:
        ref = blobs.put(part.data)
        row = Attachment(
            ticket=ticket,
            activity=activity,
            sha256=ref.sha256,
            filename=part.filename[:500],
            media_type=part.media_type[:200],
            size=ref.size,
            inline=part.inline,
            content_id=part.content_id[:500] if part.content_id else None,
        )
        session.add(row)
        rows.append(row)
    return rows
