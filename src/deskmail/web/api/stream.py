"""GET /api/v1/stream: server-sent events as tickets are created and runs start or end.

Events (each `data:` is one JSON object):

    event: ticket.created   {"id": 42, "reference": "IT-42", "kind": "incident"}
    event: run              {"id": 7, "job": "Support", "outcome": "ok"}
    event: quarantine       {"count": 3}

The stream polls the database every few seconds, so it reports what any
instance on the same database did. It ends after `max_seconds`; an EventSource
reconnects by itself (the `retry:` field says after how long). Mail text is
never sent: tickets are named by their reference only.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from deskmail.store.engine import Store
from deskmail.web.api.resource import resource_router
from deskmail.web.context import context_of
from deskmail.web.queries.changes import Changes, Mark, changes_since, current_mark
from deskmail.web.security.roles import ApiViewer

router = resource_router(tags=["stream"])
POLL_SECONDS = 2.0
KEEP_ALIVE_SECONDS = 15.0  # a comment line, so proxies do not close an idle stream
RECONNECT_MS = 3000
MEDIA_TYPE = "text/event-stream"


@router.get(
    "/stream",
    summary="Server-sent events: tickets created, runs started and finished, quarantine size",
    response_class=StreamingResponse,
    responses={200: {"content": {MEDIA_TYPE: {"schema": {"type": "string"}}}}},
)
async def stream(
    request: Request,
    user: ApiViewer,
    max_seconds: Annotated[
        int, Query(ge=1, le=3600, description="the stream ends after this; reconnect")
    ] = 300,
) -> StreamingResponse:
    return event_stream(context_of(request).store, max_seconds)


def event_stream(store: Store, max_seconds: float) -> StreamingResponse:
    return StreamingResponse(
        events(store, max_seconds),
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def events(store: Store, max_seconds: float) -> AsyncIterator[str]:
    mark: Mark = await run_in_threadpool(_mark, store)
    yield f"retry: {RECONNECT_MS}\n: connected\n\n"
    end = time.monotonic() + max_seconds
    quiet_since = time.monotonic()
    while time.monotonic() < end:
        await asyncio.sleep(min(POLL_SECONDS, max(end - time.monotonic(), 0)))
        changes, mark = await run_in_threadpool(_changes, store, mark)
        if changes.any:
            yield "".join(_format(changes))
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= KEEP_ALIVE_SECONDS:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()


def _mark(store: Store) -> Mark:
    with store.session() as session:
        return current_mark(session)


def _changes(store: Store, mark: Mark) -> tuple[Changes, Mark]:
    with store.session() as session:
        return changes_since(session, mark)


def _format(changes: Changes) -> list[str]:
    out = [_event("ticket.created", asdict(ticket)) for ticket in changes.tickets]
    out += [_event("run", asdict(run)) for run in changes.runs]
    if changes.quarantined is not None:
        out.append(_event("quarantine", {"count": changes.quarantined}))
    return out


def _event(name: str, data: dict[str, object]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
