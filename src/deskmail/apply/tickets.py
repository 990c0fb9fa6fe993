"""Writing a decision to the store: a new ticket, or an activity on one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from deskmail.apply.attachments import store_attachments
from deskmail.apply.context import JobContext
from deskmail.apply.people import find_person
from deskmail.classify.decide import Decision, FollowUp
from deskmail.parse.message import ParsedMessage
from deskmail.store.blobs import BlobStore
from deskmail.store.models import (
    Activity,
    ActivityKind,
    Team,
    Ticket,
    TicketKind,
    TicketStatus,
    utcnow,
)


@dataclass(frozen=True, slots=True)
class Applied:
    ticket_id: int
    ticket_number: int
    team: str
    activity_id: int | None  # None when a ticket was created

    @property
    def created(self) -> bool:
        return self.activity_id is None


def apply_decision(
    session: Session,
    blobs: BlobStore,
    context: JobContext,
    message: ParsedMessage,
    decision: Decision,
) -> Applied:
    """Must run inside the intake transaction; flushes but never commits."""
    if isinstance(decision, FollowUp):
        ticket = find_ticket(
            session, decision.reference.team or context.team_name, decision.reference.number
        )
        if ticket is not None:
            return _add_activity(session, blobs, ticket, message)
    return _create_ticket(session, blobs, context, message)


def find_ticket(session: Session, team: str, number: int) -> Ticket | None:
    return session.scalars(
        select(Ticket).join(Team).where(Team.name == team, Ticket.number == number)
    ).first()


def next_ticket_number(session: Session, team_id: int) -> int:
    # One atomic UPDATE ... RETURNING: concurrent writers can never draw the same number.
    drawn = session.execute(
        update(Team)
        .where(Team.id == team_id)
        .values(next_number=Team.next_number + 1)
        .returning(Team.next_number)
    ).scalar_one()
    return int(drawn) - 1


def _create_ticket(
    session: Session, blobs: BlobStore, context: JobContext, message: ParsedMessage
) -> Applied:
    person = find_person(session, message.sender)
    requester_id = person.id if person else context.fallback_person_id
    site_id = person.site_id if person and person.site_id else context.fallback_site_id
    now = utcnow()
    ticket = Ticket(
        team_id=context.team_id,
        number=next_ticket_number(session, context.team_id),
        kind=TicketKind.INCIDENT,
        status=TicketStatus.NEW,
        subject=message.subject[:2000],
        description=message.text,
        requester_id=requester_id,
        user_id=requester_id,
        group_id=context.group_id,
        site_id=site_id,
        source_id=context.source_id,
        sender_address=message.sender.address[:320] if message.sender else None,
        sender_name=message.sender.name[:300] if message.sender else None,
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    session.flush()
    store_attachments(session, blobs, message.attachments, ticket)
    return Applied(ticket.id, ticket.number, context.team_name, None)


def _add_activity(
    session: Session, blobs: BlobStore, ticket: Ticket, message: ParsedMessage
) -> Applied:
    author = find_person(session, message.sender)
    now = utcnow()
    activity = Activity(
        ticket=ticket,
        kind=ActivityKind.MAIL,
        author_id=author.id if author else None,
        from_address=message.sender.address[:320] if message.sender else None,
        from_name=message.sender.name[:300] if message.sender else None,
        subject=message.subject,
        body=message.text,
        occurred_at=_as_utc(message.date) or now,
        created_at=now,
    )
    session.add(activity)
    ticket.updated_at = now
    session.flush()
    store_attachments(session, blobs, message.attachments, ticket, activity)
    return Applied(ticket.id, ticket.number, ticket.team.name, activity.id)


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
