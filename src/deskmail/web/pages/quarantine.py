"""Quarantine: messages that could not be processed, their reason, headers and source;
retry, discard, and both in bulk (checkboxes in one form). Agents and above."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from deskmail.web.api.ids import MAX_ROW_ID, RowId
from deskmail.web.api.quarantine import raw_response
from deskmail.web.context import context_of
from deskmail.web.queries.quarantine import (
    ActionResult,
    discard_messages,
    is_quarantined,
    newest_quarantined,
    quarantined_detail,
    quarantined_jobs,
    raw_source,
    retry_messages,
    shown_source,
)
from deskmail.web.security.principal import Principal
from deskmail.web.security.roles import PageAgent
from deskmail.web.templating import render, see_other

router = APIRouter(include_in_schema=False)
MAX_NOTICE = 20  # results named one by one in the notice; the rest are counted


@router.get("/quarantine", name="quarantine")
def quarantine(
    request: Request, user: PageAgent, job: str | None = None, notice: str | None = None
) -> Response:
    store = context_of(request).store
    with store.session() as session:
        rows = newest_quarantined(session, store.blobs, job or None)
        jobs = quarantined_jobs(session)
    return render(
        request,
        "quarantine/list.html",
        user,
        title="Quarantine",
        rows=rows,
        job=job or None,
        jobs=jobs,
        notice=notice,
    )


@router.get("/quarantine/{record_id}", name="quarantined_message")
def message(request: Request, user: PageAgent, record_id: RowId) -> Response:
    store = context_of(request).store
    with store.session() as session:
        detail = quarantined_detail(session, store.blobs, record_id)
        still = is_quarantined(session, record_id)
        raw = raw_source(session, store.blobs, record_id) if detail else None
    if detail is None:
        return _not_found(request, user, record_id)
    source, cut = shown_source(raw) if raw is not None else ("", False)
    return render(
        request,
        "quarantine/detail.html",
        user,
        title=f"Quarantined message {record_id}",
        message=detail,
        quarantined=still,
        source=source,
        source_cut=cut,
    )


@router.get("/quarantine/{record_id}/raw", name="quarantined_raw")
def raw(request: Request, user: PageAgent, record_id: RowId) -> Response:
    store = context_of(request).store
    with store.session() as session:
        data = raw_source(session, store.blobs, record_id)
    if data is None:
        return _not_found(request, user, record_id)
    response = raw_response(data)
    if request.query_params.get("download"):
        response.headers["Content-Disposition"] = (
            f'attachment; filename="quarantined-{record_id}.eml"'
        )
        response.headers["Content-Type"] = "message/rfc822"
    return response


@router.post("/quarantine/{record_id}/retry", name="quarantined_retry")
def retry(request: Request, user: PageAgent, record_id: RowId) -> Response:
    context = context_of(request)
    return _done(request, "Retry", retry_messages(context.store, context.config, [record_id]))


@router.post("/quarantine/{record_id}/discard", name="quarantined_discard")
def discard(request: Request, user: PageAgent, record_id: RowId) -> Response:
    return _done(request, "Discard", discard_messages(context_of(request).store, [record_id]))


@router.post("/quarantine", name="quarantine_bulk")
def bulk(
    request: Request,
    user: PageAgent,
    action: Annotated[str, Form()],
    ids: Annotated[list[int] | None, Form()] = None,
) -> Response:
    context = context_of(request)
    # Only ids a row can have (a tampered form gets nothing done for the others).
    chosen = [i for i in dict.fromkeys(ids or []) if 1 <= i <= MAX_ROW_ID]
    if not chosen:
        return _back(request, "Tick at least one message first.")
    if action == "retry":
        return _done(request, "Retry", retry_messages(context.store, context.config, chosen))
    if action == "discard":
        return _done(request, "Discard", discard_messages(context.store, chosen))
    return _back(request, f"Unknown action {action!r}: retry or discard.")


def _done(request: Request, what: str, results: list[ActionResult]) -> Response:
    succeeded = sum(result.done for result in results)
    lines = [f"{what}: {succeeded} of {len(results)} done."]
    lines += [f"#{result.record_id}: {result.detail}" for result in results[:MAX_NOTICE]]
    return _back(request, " ".join(lines))


def _back(request: Request, notice: str) -> Response:
    url = request.url_for("quarantine").include_query_params(notice=notice[:1500])
    return see_other(request, str(url))


def _not_found(request: Request, user: Principal, record_id: int) -> Response:
    message = f"No quarantined message with id {record_id}."
    return render(request, "error.html", user, status=404, title="Not found", message=message)
