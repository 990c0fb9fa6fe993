"""The routes of a mail's parts: the frame, the raw .eml, the attachments (viewers and up)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from deskmail.web.context import context_of
from deskmail.web.ids import RowId
from deskmail.web.mail_view.content import frame_content
from deskmail.web.mail_view.downloads import attachment_response, raw_response
from deskmail.web.mail_view.frame import frame_response
from deskmail.web.queries.mail import MailRef, attachment, mail_source
from deskmail.web.security.roles import PageViewer

router = APIRouter(include_in_schema=False)


def _frame(request: Request, ref: MailRef, images: str | None) -> Response:
    store = context_of(request).store
    with store.session() as session:
        source = mail_source(session, store.blobs, ref)
    if source is None:
        raise HTTPException(404, "No such mail.")
    remote = images == "remote"
    content = frame_content(store.blobs, source, remote_images=remote)
    return frame_response(content, title=source.subject or "(no subject)", remote_images=remote)


def _raw(request: Request, ref: MailRef, download: bool) -> Response:
    store = context_of(request).store
    with store.session() as session:
        source = mail_source(session, store.blobs, ref)
    if source is None or source.raw_sha256 is None:
        raise HTTPException(404, "The original message of this mail was not kept.")
    size = store.blobs.path(source.raw_sha256).stat().st_size
    name = f"{ref.key}.eml"
    return raw_response(store.blobs.open(source.raw_sha256), name, size, download=download)


@router.get("/tickets/{ticket_id}/frame", name="mail_frame")
def opening_frame(
    request: Request, ticket_id: int, user: PageViewer, images: str | None = None
) -> Response:
    return _frame(request, MailRef(ticket_id), images)


@router.get("/tickets/{ticket_id}/activities/{activity_id}/frame", name="activity_frame")
def activity_frame(
    request: Request, ticket_id: int, activity_id: int, user: PageViewer, images: str | None = None
) -> Response:
    return _frame(request, MailRef(ticket_id, activity_id), images)


@router.get("/tickets/{ticket_id}/raw", name="mail_raw")
def opening_raw(
    request: Request, ticket_id: int, user: PageViewer, download: bool = False
) -> Response:
    return _raw(request, MailRef(ticket_id), download)


@router.get("/tickets/{ticket_id}/activities/{activity_id}/raw", name="activity_raw")
def activity_raw(
    request: Request, ticket_id: int, activity_id: int, user: PageViewer, download: bool = False
) -> Response:
    return _raw(request, MailRef(ticket_id, activity_id), download)


@router.get("/attachments/{attachment_id}", name="attachment")
def download(request: Request, attachment_id: RowId, user: PageViewer) -> Response:
    store = context_of(request).store
    with store.session() as session:
        info = attachment(session, attachment_id)
    if info is None or not store.blobs.exists(info.sha256):
        raise HTTPException(404, "No such attachment.")
    file = store.blobs.open(info.sha256)
    return attachment_response(file, info.filename, info.media_type, info.size)
