"""The tickets list (filters, subject search, pages) and a ticket's page (its timeline).

The events screen (pages/events.py) is the same list and page for tickets of
kind event; the parts they share are here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.exceptions import HTTPException

from deskmail.report.tickets import custom_field_values, object_type_label
from deskmail.store.models import StoredJob, Ticket, TicketKind, TicketStatus
from deskmail.web.context import context_of
from deskmail.web.ids import RowId
from deskmail.web.queries.mail import timeline
from deskmail.web.queries.tickets import (
    LOADED,
    TicketFilter,
    filter_choices,
    job_of,
    latest_change_first,
)
from deskmail.web.security.principal import Principal
from deskmail.web.security.roles import PageViewer
from deskmail.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50

E = TypeVar("E", bound=StrEnum)


class BadFilter(ValueError):
    """A filter of the list's form that cannot be read; the page says which."""


def _choice(kind: type[E], value: str | None, label: str) -> E | None:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise BadFilter(f"{label}: {value!r} is not one of {allowed}") from None


def _day(value: str | None, label: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
    except ValueError:
        raise BadFilter(f"{label}: {value!r} is not a date (YYYY-MM-DD)") from None


@dataclass(frozen=True, slots=True)
class ListForm:
    """The list's query string as sent, to fill the form and the next page's link in again."""

    q: str = ""
    status: str = ""
    kind: str = ""
    team: str = ""
    group: str = ""
    job: str = ""
    created_from: str = ""
    created_to: str = ""

    def to_filter(self, *, kind: TicketKind | None = None) -> TicketFilter:
        to_day = _day(self.created_to, "to")
        return TicketFilter(
            status=_choice(TicketStatus, self.status, "status"),
            kind=kind or _choice(TicketKind, self.kind, "type"),
            team=self.team or None,
            group=self.group or None,
            job=self.job or None,
            created_from=_day(self.created_from, "from"),
            created_to=to_day + timedelta(days=1) if to_day else None,  # the whole day
            subject=self.q or None,
        )

    def query(self) -> dict[str, str]:
        return {key: value for key, value in _fields(self).items() if value}


def _fields(form: ListForm) -> dict[str, str]:
    return {name: getattr(form, name) for name in ListForm.__dataclass_fields__}


def read_form(request: Request) -> ListForm:
    given = request.query_params
    return ListForm(
        **{name: given.get(name, "").strip()[:200] for name in ListForm.__dataclass_fields__}
    )


def job_names(request: Request) -> list[str]:
    context = context_of(request)
    names = {job.name for job in context.config.jobs}
    with context.store.session() as session:
        names.update(session.scalars(select(StoredJob.name)))
    return sorted(names, key=str.casefold)


def ticket_list(
    request: Request, user: Principal, *, kind: TicketKind | None, title: str, detail_route: str
) -> Response:
    form = read_form(request)
    cursor = request.query_params.get("cursor") or None
    store = context_of(request).store
    with store.session() as session:
        choices = filter_choices(session, job_names(request))
        try:
            wanted = form.to_filter(kind=kind)
        except BadFilter as exc:
            return render(
                request, "tickets.html", user, status=422, title=title, error=str(exc),
                form=form, choices=choices, tickets=[], next_url=None, kind=kind,
                statuses=list(TicketStatus), kinds=list(TicketKind), detail_prefix="",
            )  # fmt: skip
        page = latest_change_first(session, wanted, cursor, PAGE_SIZE)
        rows = list(page.rows)
        next_url = None
        if page.next_cursor:
            route = request.url_for(request.scope["route"].name)
            next_url = str(route.include_query_params(**form.query(), cursor=page.next_cursor))
        # One url_for, not one a row: Starlette's walks every route each time.
        detail_prefix = str(request.url_for(detail_route, ticket_id=0)).removesuffix("0")
        return render(
            request, "tickets.html", user, title=title, form=form, choices=choices,
            tickets=rows, next_url=next_url, kind=kind, first_page=cursor is None,
            statuses=list(TicketStatus), kinds=list(TicketKind), detail_prefix=detail_prefix,
        )  # fmt: skip


def ticket_page(request: Request, user: Principal, ticket_id: int, *, list_route: str) -> Response:
    store = context_of(request).store
    images = request.query_params.get("images")  # the mail key whose remote images to show
    with store.session() as session:
        ticket = session.scalar(select(Ticket).options(*LOADED).where(Ticket.id == ticket_id))
        if ticket is None:
            raise HTTPException(404, f"There is no ticket {ticket_id}.")
        entries = timeline(session, store.blobs, ticket)
        records = context_of(request).config.records
        object_type = object_type_label(ticket, records) if ticket.object_type else None
        fields = custom_field_values(ticket.fields, ticket.object_type, records)
        return render(
            request, "ticket.html", user, title=f"{ticket.team.name}-{ticket.number}",
            ticket=ticket, entries=entries, job=job_of(session, ticket.id),
            images=images, list_route=list_route, object_type=object_type, fields=fields,
        )  # fmt: skip


@router.get("/tickets", name="tickets")
def tickets(request: Request, user: PageViewer) -> Response:
    return ticket_list(request, user, kind=None, title="Tickets", detail_route="ticket")


@router.get("/tickets/{ticket_id}", name="ticket")
def ticket(request: Request, ticket_id: RowId, user: PageViewer) -> Response:
    return ticket_page(request, user, ticket_id, list_route="tickets")
