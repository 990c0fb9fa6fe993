"""The events list (monitoring mail, deskmail's own alerts; open or closed) and an event's page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskmail.store.models import TicketKind
from deskmail.web.ids import RowId
from deskmail.web.pages.tickets import ticket_list, ticket_page
from deskmail.web.security.roles import PageViewer

router = APIRouter(include_in_schema=False)


@router.get("/events", name="events")
def events(request: Request, user: PageViewer) -> Response:
    return ticket_list(request, user, kind=TicketKind.EVENT, title="Events", detail_route="event")


@router.get("/events/{ticket_id}", name="event")
def event(request: Request, ticket_id: RowId, user: PageViewer) -> Response:
    return ticket_page(request, user, ticket_id, list_route="events")
