"""Tickets for the list tests, written straight to the store (fast enough for hundreds)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from deskmail.store.engine import Store
from deskmail.store.models import Team, Ticket, TicketKind, TicketStatus


def add_tickets(
    store: Store,
    count: int,
    *,
    kind: TicketKind = TicketKind.INCIDENT,
    status: TicketStatus = TicketStatus.NEW,
    subject: str = "Generated {n}",
    team: str = "IT",
) -> list[int]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    with store.transaction() as session:
        row = session.scalar(select(Team).where(Team.name == team))
        if row is None:
            row = Team(name=team, next_number=1)
            session.add(row)
            session.flush()
        made = []
        for n in range(count):
            number = row.next_number
            row.next_number += 1
            moment = start + timedelta(minutes=n)
            ticket = Ticket(
                team_id=row.id, number=number, kind=kind, status=status,
                subject=subject.format(n=n), created_at=moment, updated_at=moment,
            )  # fmt: skip
            session.add(ticket)
            made.append(ticket)
        session.flush()
        return [ticket.id for ticket in made]
