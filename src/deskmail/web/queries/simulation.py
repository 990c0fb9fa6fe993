"""The rule simulator: what `deskmail explain` says of a mail, for an uploaded .eml or a
message deskmail keeps (a quarantined one, or a ticket's original kept as .eml).

A simulation reads through the store's read-only session: nothing can be written.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.config.models import JobConfig
from deskmail.report.explain import Explanation, explanation
from deskmail.store.blobs import BlobStore
from deskmail.store.engine import Store
from deskmail.store.models import Attachment, IntakeRecord, Ticket

MAX_EML_BYTES = 25 * 1024 * 1024  # an upload larger than any mailbox would take
EML_TYPE = "message/rfc822"


class MessageKind(StrEnum):
    QUARANTINED = "quarantined"  # an intake record whose raw bytes are kept
    ATTACHMENT = "attachment"  # a ticket's original message kept as .eml


@dataclass(frozen=True, slots=True)
class MessageRef:
    kind: MessageKind
    id: int

    @property
    def token(self) -> str:
        """How a form names it: "quarantined:12"."""
        return f"{self.kind.value}:{self.id}"

    @classmethod
    def parse(cls, token: str) -> MessageRef | None:
        kind, _, number = token.partition(":")
        try:
            return cls(MessageKind(kind), int(number))
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Pickable:
    ref: MessageRef
    label: str  # what the picker shows


def simulate(store: Store, job: JobConfig, raw: bytes) -> Explanation:
    with store.session() as session:
        return explanation(session, job, raw)


def raw_of(session: Session, blobs: BlobStore, ref: MessageRef) -> bytes | None:
    """The message's bytes, or None when there is no such kept message."""
    digest: str | None = None
    if ref.kind is MessageKind.QUARANTINED:
        record = session.get(IntakeRecord, ref.id)
        digest = record.raw_sha256 if record is not None else None
    else:
        attachment = session.get(Attachment, ref.id)
        if attachment is not None and attachment.media_type == EML_TYPE:
            digest = attachment.sha256
    if digest is None:
        return None
    try:
        with blobs.open(digest) as file:
            data: bytes = file.read()
    except FileNotFoundError:
        return None
    return data


def pickable_messages(session: Session, limit: int = 50) -> list[Pickable]:
    """The newest quarantined messages and kept originals, to simulate without an upload."""
    picked = []
    records = session.scalars(
        select(IntakeRecord)
        .where(IntakeRecord.raw_sha256.is_not(None))
        .order_by(IntakeRecord.id.desc())
        .limit(limit)
    )
    for record in records:
        label = f"quarantined #{record.id} of {record.job}, {record.received_at:%Y-%m-%d %H:%M}"
        picked.append(Pickable(MessageRef(MessageKind.QUARANTINED, record.id), label))
    originals = session.execute(
        select(Attachment, Ticket)
        .join(Ticket, Ticket.id == Attachment.ticket_id)
        .where(Attachment.media_type == EML_TYPE)
        .order_by(Attachment.id.desc())
        .limit(limit)
    ).all()
    for attachment, ticket in originals:
        label = f"{attachment.filename} (on {ticket.team.name}-{ticket.number})"
        picked.append(Pickable(MessageRef(MessageKind.ATTACHMENT, attachment.id), label))
    return picked
