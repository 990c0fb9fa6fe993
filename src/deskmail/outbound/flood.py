"""The per-sender limit on new tickets: past it, further mail joins the sender's last ticket.

A mail loop with a system that answers each mail with a fresh one, or a
script gone wrong, would otherwise open a ticket per mail. Counted from the
intake journal, so only tickets this job created from mail count.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from deskmail.config.models import JobConfig
from deskmail.store.models import IntakeOutcome, IntakeRecord, Ticket, utcnow

WINDOW = timedelta(hours=1)


def recent_ticket_for_sender(
    session: Session, job: JobConfig, address: str, limit_per_hour: int | None = None
) -> Ticket | None:
    """The sender's most recent ticket when they opened `limit_per_hour` tickets
    through this job in the last hour (default: job.new_tickets_per_sender_per_hour);
    otherwise None, and a new ticket may be opened."""
    limit = job.new_tickets_per_sender_per_hour if limit_per_hour is None else limit_per_hour
    address = address.strip().lower()
    if not address:
        return None
    # The sender's tickets first (index on lower(sender_address)), then their
    # journal rows (index on ticket_id): a join lets SQLite start from the
    # journal and scan every row of the last hour, once per new ticket.
    created_here = exists().where(
        IntakeRecord.ticket_id == Ticket.id,
        IntakeRecord.job == job.name,
        IntakeRecord.outcome == IntakeOutcome.CREATED,
        IntakeRecord.received_at >= utcnow() - WINDOW,
    )
    recent = (
        select(Ticket.id)
        .where(func.lower(Ticket.sender_address) == address, created_here)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    ids = session.scalars(recent).all()  # ids only: loading whole tickets cost more than the query
    return session.get(Ticket, ids[0]) if len(ids) >= limit else None
