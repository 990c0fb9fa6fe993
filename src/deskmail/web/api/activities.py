"""/api/v1: a ticket's activities with their bodies, attachments, and raw .eml files.

The mail that made a ticket is the ticket itself (GET /tickets/{id}); its raw
message is GET /tickets/{id}/raw, a later mail's GET /activities/{id}/raw.
Attachments are always sent as downloads (mail_view/downloads.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import select

from deskmail.store.models import Activity, ActivityKind, Attachment, Ticket
from deskmail.web.api.resource import resource_router
from deskmail.web.context import context_of
from deskmail.web.ids import RowId
from deskmail.web.mail_view.downloads import attachment_response, raw_response
from deskmail.web.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, Rows, paginate
from deskmail.web.problems import Problem
from deskmail.web.queries.mail import MailRef, attachment, raw_sha256
from deskmail.web.security.roles import ApiViewer

router = resource_router(tags=["activities"])

_RAW: dict[int | str, dict[str, Any]] = {
    200: {"description": "the message as received", "content": {"message/rfc822": {}}}
}
_FILE: dict[int | str, dict[str, Any]] = {
    200: {"description": "the file, as a download", "content": {"application/octet-stream": {}}}
}


class AttachmentOut(BaseModel):
    id: int
    activity_id: int | None  # None: an attachment of the mail that made the ticket
    filename: str
    media_type: str
    size: int
    inline: bool
    sha256: str


class ActivityOut(BaseModel):
    id: int
    ticket_id: int
    kind: ActivityKind
    from_address: str | None
    from_name: str | None
    subject: str | None
    body: str
    body_html: str | None  # sanitised when the mail was taken in; images refer to attachments
    occurred_at: datetime
    created_at: datetime
    raw_kept: bool
    attachments: list[AttachmentOut]


def _attachment_out(row: Attachment) -> AttachmentOut:
    return AttachmentOut(
        id=row.id, activity_id=row.activity_id, filename=row.filename,
        media_type=row.media_type, size=row.size, inline=row.inline, sha256=row.sha256,
    )  # fmt: skip


def _activity_out(activity: Activity, files: list[AttachmentOut], raw_kept: bool) -> ActivityOut:
    return ActivityOut(
        id=activity.id, ticket_id=activity.ticket_id, kind=activity.kind,
        from_address=activity.from_address, from_name=activity.from_name,
        subject=activity.subject, body=activity.body, body_html=activity.body_html,
        occurred_at=activity.occurred_at, created_at=activity.created_at,
        raw_kept=raw_kept, attachments=files,
    )  # fmt: skip


@router.get("/tickets/{ticket_id}/activities", summary="A ticket's activities with their bodies")
def list_activities(
    request: Request,
    ticket_id: RowId,
    user: ApiViewer,
    updated_since: Annotated[
        AwareDatetime | None, Query(description="only activities added at or after this time")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[ActivityOut]:
    store = context_of(request).store
    with store.session() as session:
        if session.get(Ticket, ticket_id) is None:
            raise Problem(404, "Not found", f"no ticket with id {ticket_id}")
        query = select(Activity).where(Activity.ticket_id == ticket_id)
        if updated_since is not None:
            query = query.where(Activity.created_at >= updated_since)
        page: Rows[Activity] = paginate(
            session, query, (Activity.created_at, Activity.id), cursor, limit
        )
        ids = [activity.id for activity in page.rows]
        files: dict[int, list[AttachmentOut]] = {}
        for row in session.scalars(
            select(Attachment).where(Attachment.activity_id.in_(ids)).order_by(Attachment.id)
        ):
            files.setdefault(row.activity_id or 0, []).append(_attachment_out(row))
        items = [
            _activity_out(
                activity,
                files.get(activity.id, []),
                raw_sha256(session, store.blobs, MailRef(ticket_id, activity.id)) is not None,
            )
            for activity in page.rows
        ]
    return Page[ActivityOut](items=items, next_cursor=page.next_cursor)


@router.get("/activities/{activity_id}", summary="One activity with its body and attachments")
def read_activity(request: Request, activity_id: RowId, user: ApiViewer) -> ActivityOut:
    store = context_of(request).store
    with store.session() as session:
        activity = session.get(Activity, activity_id)
        if activity is None:
            raise Problem(404, "Not found", f"no activity with id {activity_id}")
        files = [
            _attachment_out(row)
            for row in session.scalars(
                select(Attachment)
                .where(Attachment.activity_id == activity_id)
                .order_by(Attachment.id)
            )
        ]
        kept = raw_sha256(session, store.blobs, MailRef(activity.ticket_id, activity_id))
        return _activity_out(activity, files, kept is not None)


def _raw(request: Request, ref: MailRef, what: str) -> Response:
    store = context_of(request).store
    with store.session() as session:
        exists = (
            session.get(Ticket, ref.ticket_id) is not None
            if ref.activity_id is None
            else session.get(Activity, ref.activity_id) is not None
        )
        if not exists:
            raise Problem(404, "Not found", f"no {what}")
        sha256 = raw_sha256(session, store.blobs, ref)
    if sha256 is None:
        raise Problem(404, "Not found", f"the raw message of {what} was not kept")
    size = store.blobs.path(sha256).stat().st_size
    return raw_response(store.blobs.open(sha256), f"{ref.key}.eml", size, download=True)


@router.get(
    "/tickets/{ticket_id}/raw",
    summary="The raw .eml of the mail that made the ticket",
    response_class=Response,
    responses=_RAW,
)
def ticket_raw(request: Request, ticket_id: RowId, user: ApiViewer) -> Response:
    return _raw(request, MailRef(ticket_id), f"ticket {ticket_id}")


@router.get(
    "/activities/{activity_id}/raw",
    summary="The raw .eml of a mail activity",
    response_class=Response,
    responses=_RAW,
)
def activity_raw(request: Request, activity_id: RowId, user: ApiViewer) -> Response:
    with context_of(request).store.session() as session:
        ticket_id = session.scalar(select(Activity.ticket_id).where(Activity.id == activity_id))
    if ticket_id is None:
        raise Problem(404, "Not found", f"no activity with id {activity_id}")
    return _raw(request, MailRef(ticket_id, activity_id), f"activity {activity_id}")


@router.get("/tickets/{ticket_id}/attachments", summary="Every attachment of a ticket")
def list_attachments(request: Request, ticket_id: RowId, user: ApiViewer) -> list[AttachmentOut]:
    with context_of(request).store.session() as session:
        if session.get(Ticket, ticket_id) is None:
            raise Problem(404, "Not found", f"no ticket with id {ticket_id}")
        rows = session.scalars(
            select(Attachment).where(Attachment.ticket_id == ticket_id).order_by(Attachment.id)
        )
        return [_attachment_out(row) for row in rows]


@router.get(
    "/attachments/{attachment_id}",
    summary="An attachment's bytes, as a download",
    response_class=Response,
    responses=_FILE,
)
def download(request: Request, attachment_id: RowId, user: ApiViewer) -> Response:
    store = context_of(request).store
    with store.session() as session:
        info = attachment(session, attachment_id)
    if info is None or not store.blobs.exists(info.sha256):
        raise Problem(404, "Not found", f"no attachment with id {attachment_id}")
    return attachment_response(
        store.blobs.open(info.sha256), info.filename, info.media_type, info.size
    )
