"""/api/v1/quarantine: messages that could not be processed; retry, discard, in bulk.

Agents and above. Retry and discard are what `deskmail quarantine retry` and
`discard` do, message by message.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field

from deskmail.store.engine import Store
from deskmail.store.models import IntakeRecord
from deskmail.web.api.resource import resource_router
from deskmail.web.context import context_of
from deskmail.web.ids import BodyRowId, RowId
from deskmail.web.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, Rows, paginate
from deskmail.web.problems import Problem
from deskmail.web.queries.quarantine import (
    ActionResult,
    QuarantinedRow,
    discard_messages,
    is_quarantined,
    quarantined_detail,
    quarantined_query,
    raw_source,
    retry_messages,
    rows_of,
)
from deskmail.web.security.roles import ApiAgent

router = resource_router(prefix="/quarantine", tags=["quarantine"])
MAX_BULK = 500


class QuarantinedOut(BaseModel):
    id: int
    job: str
    reason: str
    sender: str
    subject: str
    received_at: datetime
    attempts: int
    size: int

    @classmethod
    def of(cls, row: QuarantinedRow) -> QuarantinedOut:
        return cls(
            id=row.id,
            job=row.job,
            reason=row.reason,
            sender=row.sender,
            subject=row.subject,
            received_at=row.received_at,
            attempts=row.attempts,
            size=row.size,
        )


class HeaderOut(BaseModel):
    name: str
    value: str


class QuarantinedDetailOut(QuarantinedOut):
    quarantined: bool  # False once retried or discarded
    source_key: str
    message_id: str | None
    sha256: str | None
    event: str | None
    headers: list[HeaderOut]
    raw_url: str | None  # the message exactly as received, text/plain


class ActionResultOut(BaseModel):
    id: int
    done: bool
    detail: str

    @classmethod
    def of(cls, result: ActionResult) -> ActionResultOut:
        return cls(id=result.record_id, done=result.done, detail=result.detail)


class BulkAction(StrEnum):
    RETRY = "retry"
    DISCARD = "discard"


class BulkIn(BaseModel):
    action: BulkAction
    ids: list[BodyRowId] = Field(min_length=1, max_length=MAX_BULK)


class BulkOut(BaseModel):
    results: list[ActionResultOut]


@router.get("", summary="Quarantined messages, oldest first, a page at a time")
def list_all(
    request: Request,
    user: ApiAgent,
    job: Annotated[str | None, Query(max_length=200)] = None,
    updated_since: Annotated[
        AwareDatetime | None, Query(description="only messages quarantined at or after this")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[QuarantinedOut]:
    store = context_of(request).store
    with store.session() as session:
        query = quarantined_query(job, updated_since)
        page: Rows[IntakeRecord] = paginate(session, query, (IntakeRecord.id,), cursor, limit)
        items = [QuarantinedOut.of(row) for row in rows_of(store.blobs, page.rows)]
    return Page[QuarantinedOut](items=items, next_cursor=page.next_cursor)


@router.get("/{record_id}", summary="One quarantined message: the reason and its headers")
def read(request: Request, record_id: RowId, user: ApiAgent) -> QuarantinedDetailOut:
    store = context_of(request).store
    with store.session() as session:
        detail = quarantined_detail(session, store.blobs, record_id)
        quarantined = is_quarantined(session, record_id)
    if detail is None:
        raise Problem(404, "Not found", f"no quarantined message with id {record_id}")
    raw_url = (
        None
        if detail.raw_missing
        else str(request.url_for("api_quarantine_raw", record_id=record_id))
    )
    return QuarantinedDetailOut(
        **QuarantinedOut.of(detail.row).model_dump(),
        quarantined=quarantined,
        source_key=detail.source_key,
        message_id=detail.message_id,
        sha256=detail.sha256,
        event=detail.event,
        headers=[HeaderOut(name=name, value=value) for name, value in detail.headers],
        raw_url=raw_url,
    )


@router.get(
    "/{record_id}/raw",
    name="api_quarantine_raw",
    summary="The message exactly as received, as text",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
def read_raw(request: Request, record_id: RowId, user: ApiAgent) -> Response:
    store = context_of(request).store
    with store.session() as session:
        raw = raw_source(session, store.blobs, record_id)
    if raw is None:
        raise Problem(404, "Not found", f"no raw message kept for id {record_id}")
    return raw_response(raw)


def raw_response(raw: bytes) -> Response:
    """Mail source as plain text: never sniffed, never rendered, no script (CSP sandbox)."""
    return Response(
        raw,
        media_type="text/plain; charset=utf-8",
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@router.post("/{record_id}/retry", summary="Take the message in again, once the cause is fixed")
def retry_one(request: Request, record_id: RowId, user: ApiAgent) -> ActionResultOut:
    context = context_of(request)
    _need_quarantined(context.store, record_id)
    (result,) = retry_messages(context.store, context.config, [record_id])
    return ActionResultOut.of(result)


@router.post("/{record_id}/discard", summary="Give up on the message (no ticket; bytes kept)")
def discard_one(request: Request, record_id: RowId, user: ApiAgent) -> ActionResultOut:
    store = context_of(request).store
    _need_quarantined(store, record_id)
    (result,) = discard_messages(store, [record_id])
    return ActionResultOut.of(result)


@router.post("/bulk", summary="Retry or discard several messages; each succeeds on its own")
def bulk(request: Request, body: BulkIn, user: ApiAgent) -> BulkOut:
    context = context_of(request)
    ids = list(dict.fromkeys(body.ids))  # each once, in the order given
    if body.action is BulkAction.RETRY:
        results = retry_messages(context.store, context.config, ids)
    else:
        results = discard_messages(context.store, ids)
    return BulkOut(results=[ActionResultOut.of(result) for result in results])


def _need_quarantined(store: Store, record_id: int) -> None:
    with store.session() as session:
        if not is_quarantined(session, record_id):
            raise Problem(404, "Not found", f"no message with id {record_id} is quarantined (now)")
