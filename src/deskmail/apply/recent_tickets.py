"""A sender's tickets of the last hour, for the flood limit (classify/flood_limit.py).

Counted from the intake journal, so only tickets this job created from mail count.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import bindparam, exists, func, select
from sqlalchemy.orm import Session

from deskmail.apply.batch import Batch
from deskmail.config.fate import Fate
from deskmail.config.models import JobConfig
from deskmail.store.engine import IN_LIST_CHUNK
from deskmail.store.models import IntakeRecord, Ticket, utcnow

WINDOW = timedelta(hours=1)

# The sender's tickets first (index on lower(sender_address)), then their journal
# rows (index on ticket_id): a join let SQLite start from the journal and scan
# every row of the last hour, once per new ticket. Built once: constructing the
# statement cost more than running it. Ids only: loading whole tickets cost more too.
_CREATED_HERE = exists().where(
    IntakeRecord.ticket_id == Ticket.id,
    IntakeRecord.job == bindparam("job"),
    IntakeRecord.outcome == Fate.CREATED,
    IntakeRecord.received_at >= bindparam("since"),
)
_SENDER = func.lower(Ticket.sender_address)
_RECENT_MANY = (
    select(_SENDER, Ticket.id)
    .where(
        _SENDER.in_(bindparam("addresses", expanding=True)),
        _CREATED_HERE,
    )
    .order_by(Ticket.created_at.desc(), Ticket.id.desc())
)


def recent_ticket_for_sender(
    session: Session,
    job: JobConfig,
    address: str,
    limit_per_hour: int | None = None,
    batch: Batch | None = None,
) -> Ticket | None:
    """The sender's most recent ticket when they opened `limit_per_hour` tickets
    through this job in the last hour (default: job.new_tickets_per_sender_per_hour);
    otherwise None, and a new ticket may be opened. `batch`: what it knows already."""
    batch = batch or Batch()
    limit = job.new_tickets_per_sender_per_hour if limit_per_hour is None else limit_per_hour
    address = address.strip().lower()
    if not address:
        return None
    prefetch_recent_tickets(session, batch, job, [address])  # asks only if not known yet
    ids = batch.recent_tickets[address][:limit]
    return session.get(Ticket, ids[0]) if len(ids) >= limit else None


def prefetch_recent_tickets(
    session: Session, batch: Batch, job: JobConfig, addresses: Iterable[str]
) -> None:
    """Each (lower-cased) address's tickets of the last hour, at once, for this batch only.

    A batch of mail asks once instead of once per new ticket; note_new_ticket
    keeps the answer current as the batch opens tickets.
    """
    known = batch.recent_tickets
    wanted = [address for address in addresses if address not in known]
    since = utcnow() - WINDOW
    for start in range(0, len(wanted), IN_LIST_CHUNK):
        chunk = wanted[start : start + IN_LIST_CHUNK]
        for address in chunk:
            known[address] = []
        rows = session.execute(_RECENT_MANY, {"job": job.name, "addresses": chunk, "since": since})
        for address, ticket_id in rows:  # newest first
            known[address].append(ticket_id)


def note_new_ticket(batch: Batch, address: str, ticket_id: int) -> None:
    """A ticket the batch just opened for this sender (see prefetch_recent_tickets)."""
    known = batch.recent_tickets.get(address.strip().lower())
    if known is not None:
        known.insert(0, ticket_id)
