"""Reads and writes of the intake journal (the IntakeRecord table)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from deskmail.config.fate import Fate
from deskmail.store.engine import IN_LIST_CHUNK
from deskmail.store.models import IntakeRecord, utcnow

# Every outcome but a quarantine: the message is taken care of and may leave the mailbox.
DONE = (
    Fate.CREATED,
    Fate.UPDATED,
    Fate.DUPLICATE,
    Fate.IGNORED,
    Fate.DENIED,
)


@dataclass(frozen=True, slots=True)
class Known:
    outcome: Fate
    acknowledged: bool

    @property
    def done(self) -> bool:
        return self.outcome in DONE


def lookup(session: Session, job: str, keys: Sequence[str]) -> dict[str, Known]:
    found: dict[str, Known] = {}
    for start in range(0, len(keys), IN_LIST_CHUNK):
        chunk = keys[start : start + IN_LIST_CHUNK]
        rows = session.execute(
            select(
                IntakeRecord.source_key, IntakeRecord.outcome, IntakeRecord.acknowledged_at
            ).where(IntakeRecord.job == job, IntakeRecord.source_key.in_(chunk))
        )
        for key, outcome, acked in rows:
            found[key] = Known(outcome, acked is not None)
    return found


def unacknowledged(session: Session, job: str) -> list[str]:
    """Keys processed but not yet confirmed as acknowledged on the server."""
    return list(
        session.scalars(
            select(IntakeRecord.source_key).where(
                IntakeRecord.job == job,
                IntakeRecord.outcome.in_(DONE),
                IntakeRecord.acknowledged_at.is_(None),
            )
        )
    )


def find_same_bytes(session: Session, job: str, sha256: str) -> IntakeRecord | None:
    """A message already taken in under another key (UIDVALIDITY reset, UIDL change)."""
    return find_same_bytes_many(session, job, [sha256]).get(sha256)


def find_same_bytes_many(
    session: Session, job: str, digests: Sequence[str]
) -> dict[str, IntakeRecord]:
    """find_same_bytes for a batch of messages, in one query per IN_LIST_CHUNK digests."""
    found: dict[str, IntakeRecord] = {}
    unique = list(dict.fromkeys(digests))
    for start in range(0, len(unique), IN_LIST_CHUNK):
        rows = session.scalars(
            select(IntakeRecord).where(
                IntakeRecord.job == job,
                IntakeRecord.sha256.in_(unique[start : start + IN_LIST_CHUNK]),
                IntakeRecord.outcome.in_(DONE),
            )
        )
        for row in rows:
            found.setdefault(row.sha256, row)
    return found


def mark_acknowledged(session: Session, job: str, keys: Iterable[str]) -> None:
    pending = list(keys)
    now = utcnow()
    for start in range(0, len(pending), IN_LIST_CHUNK):
        session.execute(
            update(IntakeRecord)
            .where(
                IntakeRecord.job == job,
                IntakeRecord.source_key.in_(pending[start : start + IN_LIST_CHUNK]),
            )
            .values(acknowledged_at=now)
        )
