"""Live: the jobs' status and the newest tickets, updated without reloading.

The page listens to a server-sent-event stream (static/live.js) and, on each
event, asks htmx for the panel again; where EventSource is missing it polls
instead. Without JavaScript the page reads as a snapshot with a Refresh link.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from deskmail.daemon.switches import read_switches
from deskmail.report.job_status import job_statuses
from deskmail.store.models import utcnow
from deskmail.web.api.stream import event_stream
from deskmail.web.context import context_of
from deskmail.web.queries.changes import recent_tickets
from deskmail.web.security.roles import PageViewer
from deskmail.web.templating import render

router = APIRouter(include_in_schema=False)
POLL_SECONDS = 5  # the fallback without EventSource
PAGE_STREAM_SECONDS = 300  # then the browser reconnects


@router.get("/live", name="live")
def live(request: Request, user: PageViewer) -> Response:
    context = context_of(request)
    switches = read_switches(context.store)
    with context.store.session() as session:
        statuses = job_statuses(session, context.config, switches)
        tickets = recent_tickets(session)
    return render(
        request,
        "live.html",
        user,
        title="Live",
        jobs=statuses,
        tickets=tickets,
        poll_seconds=POLL_SECONDS,
        as_of=utcnow(),
    )


@router.get("/live/stream", name="live_stream")
async def stream(request: Request, user: PageViewer) -> StreamingResponse:
    return event_stream(context_of(request).store, PAGE_STREAM_SECONDS)
