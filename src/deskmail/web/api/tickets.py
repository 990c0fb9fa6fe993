"""/api/v1/tickets: list (filters, cursor pagination, updated_since) and detail.

Lists are in the order (updated_at, id), oldest change first: a client that
keeps the last `updated_at` it saw and asks with `updated_since` receives every
change exactly once, whichever page it was on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import select

from deskmail.config.custom_fields import FieldValue
from deskmail.store.models import (
    Activity,
    ActivityKind,
    Person,
    Ticket,
    TicketKind,
    TicketStatus,
)
from deskmail.web.api.resource import resource_router
from deskmail.web.context import context_of
from deskmail.web.ids import RowId
from deskmail.web.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from deskmail.web.problems import Problem
from deskmail.web.queries.tickets import LOADED, TicketFilter, job_of, oldest_change_first
from deskmail.web.security.roles import ApiViewer

router = resource_router(prefix="/tickets", tags=["tickets"])


class PersonOut(BaseModel):
    id: int
    name: str
    logon: str | None

    @classmethod
    def of(cls, person: Person | None) -> PersonOut | None:
        if person is None:
            return None
        return cls(id=person.id, name=person.name, logon=person.logon)


class TicketOut(BaseModel):
    id: int
    team: str
    number: int
    reference: str  # "IT-42": team and number, as the subject tag shows it
    kind: TicketKind
    status: TicketStatus
    subject: str
    sender_address: str | None
    sender_name: str | None
    requester: PersonOut | None
    assignee: PersonOut | None
    group: str | None
    site: str | None
    priority: str | None
    category: str | None
    object_type: str | None  # a configured object type's name; None: a plain incident or event
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, ticket: Ticket) -> TicketOut:
        return cls(
            id=ticket.id,
            team=ticket.team.name,
            number=ticket.number,
            reference=f"{ticket.team.name}-{ticket.number}",
            kind=ticket.kind,
            status=ticket.status,
            subject=ticket.subject,
            sender_address=ticket.sender_address,
            sender_name=ticket.sender_name,
            requester=PersonOut.of(ticket.requester),
            assignee=PersonOut.of(ticket.assignee),
            group=ticket.group.name if ticket.group else None,
            site=ticket.site.name if ticket.site else None,
            priority=ticket.priority,
            category=ticket.category,
            object_type=ticket.object_type,
            created_at=ticket.created_at,
            updated_at=ticket.updated_at,
        )


class ActivitySummary(BaseModel):
    id: int
    kind: ActivityKind
    from_address: str | None
    from_name: str | None
    subject: str | None
    occurred_at: datetime


class TicketDetail(TicketOut):
    description: str
    # The custom fields its type has, in their declared order (config/custom_fields.py
    # FieldValue, as the webhooks give them): a number as a number, null when empty.
    fields: list[FieldValue]
    activities: list[ActivitySummary]
    linked_ticket_id: int | None
    job: str | None = None  # the job whose mail made it


def ticket_filter(
    status: TicketStatus | None = None,
    kind: TicketKind | None = None,
    team: Annotated[str | None, Query(max_length=200)] = None,
    group: Annotated[str | None, Query(max_length=200)] = None,
    site: Annotated[str | None, Query(max_length=200)] = None,
    job: Annotated[
        str | None, Query(max_length=200, description="the job whose mail made it")
    ] = None,
    created_from: Annotated[
        AwareDatetime | None, Query(description="only tickets created at or after this time")
    ] = None,
    created_to: Annotated[
        AwareDatetime | None, Query(description="only tickets created before this time")
    ] = None,
    subject: Annotated[
        str | None, Query(max_length=200, description="words the subject contains")
    ] = None,
    updated_since: Annotated[
        AwareDatetime | None, Query(description="only tickets changed at or after this time")
    ] = None,
) -> TicketFilter:
    """The list's filters, shared with /events."""
    return TicketFilter(
        status=status, kind=kind, team=team, group=group, site=site, job=job,
        created_from=created_from, created_to=created_to, subject=subject,
        updated_since=updated_since,
    )  # fmt: skip


Filters = Annotated[TicketFilter, Depends(ticket_filter)]


@router.get("", summary="Tickets, oldest change first, a page at a time")
def list_all(
    request: Request,
    user: ApiViewer,
    wanted: Filters,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[TicketOut]:
    with context_of(request).store.session() as session:
        page = oldest_change_first(session, wanted, cursor, limit)
        items = [TicketOut.of(ticket) for ticket in page.rows]
    return Page[TicketOut](items=items, next_cursor=page.next_cursor)


@router.get("/{ticket_id}", summary="One ticket with its activities (bodies not included)")
def read(request: Request, ticket_id: RowId, user: ApiViewer) -> TicketDetail:
    with context_of(request).store.session() as session:
        ticket = session.scalar(select(Ticket).options(*LOADED).where(Ticket.id == ticket_id))
        if ticket is None:
            raise Problem(404, "Not found", f"no ticket with id {ticket_id}")
        activities = session.scalars(
            select(Activity).where(Activity.ticket_id == ticket_id).order_by(Activity.id)
        )
        summary = TicketOut.of(ticket)
        return TicketDetail(
            **summary.model_dump(),
            description=ticket.description,
            fields=list(
                context_of(request).config.records.values_of(
                    ticket.object_type, {f.name: f.value for f in ticket.fields}
                )
            ),
            linked_ticket_id=ticket.linked_ticket_id,
            job=job_of(session, ticket.id),
            activities=[
                ActivitySummary(
                    id=activity.id,
                    kind=activity.kind,
                    from_address=activity.from_address,
                    from_name=activity.from_name,
                    subject=activity.subject,
                    occurred_at=activity.occurred_at,
                )
                for activity in activities
            ],
        )
