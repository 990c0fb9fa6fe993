"""/api/v1/events: the tickets of kind event (monitoring mail, deskmail's own alerts).

The same list as /tickets with the kind fixed, and `open` to ask for the
events not yet closed (or only the closed ones).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

from fastapi import Query, Request

from deskmail.store.models import TicketKind
from deskmail.web.api.resource import resource_router
from deskmail.web.api.tickets import Filters, TicketDetail, TicketOut, read
from deskmail.web.context import context_of
from deskmail.web.ids import RowId
from deskmail.web.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page
from deskmail.web.problems import Problem, field_problem
from deskmail.web.queries.tickets import oldest_change_first
from deskmail.web.security.roles import ApiViewer

router = resource_router(prefix="/events", tags=["events"])


@router.get("", summary="Events, oldest change first, a page at a time")
def list_events(
    request: Request,
    user: ApiViewer,
    wanted: Filters,
    open: Annotated[
        bool | None, Query(description="true: new or open events only; false: closed ones only")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[TicketOut]:
    if wanted.kind is TicketKind.INCIDENT:
        raise field_problem(422, "query.kind", "events are of kind event")
    wanted = replace(wanted, kind=TicketKind.EVENT, open_only=open)
    with context_of(request).store.session() as session:
        page = oldest_change_first(session, wanted, cursor, limit)
        items = [TicketOut.of(ticket) for ticket in page.rows]
    return Page[TicketOut](items=items, next_cursor=page.next_cursor)


@router.get("/{event_id}", summary="One event with its activity trail")
def read_event(request: Request, event_id: RowId, user: ApiViewer) -> TicketDetail:
    found = read(request, event_id, user)
    if found.kind is not TicketKind.EVENT:
        raise Problem(
            404, "Not found", f"no event with id {event_id} (ticket {event_id} is an incident)"
        )
    return found
