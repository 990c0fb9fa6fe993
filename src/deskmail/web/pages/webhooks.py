"""Webhooks (admins): endpoints added (the secret shown once), edited, disabled, removed;
the event kinds per endpoint; the delivery log with each attempt; send test; redeliver."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from deskmail.web.context import context_of
from deskmail.web.ids import RowId
from deskmail.web.security.principal import Principal
from deskmail.web.security.roles import PageAdmin
from deskmail.web.templating import render, see_other
from deskmail.web.webhook_control import WebhookUnavailable, add, redeliver, send_test
from deskmail.webhooks.attempts import AttemptResult, DeliveryError
from deskmail.webhooks.endpoints import (
    EndpointError,
    get_endpoint,
    list_endpoints,
    remove_endpoint,
    set_enabled,
    update_endpoint,
)
from deskmail.webhooks.log import attempts_of, get_delivery, list_deliveries, posted_body
from deskmail.webhooks.payloads import SUBSCRIBABLE, EventKind

router = APIRouter(include_in_schema=False)

LOG_SHOWN = 100  # the newest deliveries on an endpoint's page

# What each kind of event means, beside its checkbox.
KIND_HELP = {
    EventKind.TICKET_CREATED: "a mail made a ticket",
    EventKind.ACTIVITY_ADDED: "a reply was added to a ticket",
    EventKind.EVENT_OPENED: "deskmail opened an event about a problem",
    EventKind.EVENT_CLOSED: "that event was closed",
    EventKind.MESSAGE_QUARANTINED: "a mail could not be processed",
    EventKind.QUARANTINE_RETRIED: "a quarantined mail was taken in on retry",
    EventKind.QUARANTINE_DISCARDED: "a quarantined mail was discarded",
    EventKind.RUN_FAILED: "a run of a job could not finish",
    EventKind.JOB_HEALTH_CHANGED: "a mailbox started or stopped failing",
}


def _kinds() -> list[tuple[str, str]]:
    return [(kind, KIND_HELP.get(EventKind(kind), "")) for kind in SUBSCRIBABLE]


def _list_page(
    request: Request, user: Principal, *, status: int = 200, **values: object
) -> Response:
    with context_of(request).store.session() as session:
        endpoints = list_endpoints(session)
    values.setdefault("form", {"url": "", "description": "", "events": (), "subject": False})
    return render(
        request,
        "webhooks.html",
        user,
        status=status,
        title="Webhooks",
        endpoints=endpoints,
        kinds=_kinds(),
        **values,
    )


def _endpoint_page(
    request: Request, user: Principal, endpoint_id: int, *, status: int = 200, **values: object
) -> Response:
    with context_of(request).store.session() as session:
        endpoint = get_endpoint(session, endpoint_id)
        if endpoint is None:
            return _missing(request, user, endpoint_id)
        deliveries = list(reversed(list_deliveries(session, endpoint_id, limit=LOG_SHOWN)))
    return render(
        request,
        "webhooks_endpoint.html",
        user,
        status=status,
        title=f"Webhook endpoint {endpoint.id}",
        endpoint=endpoint,
        deliveries=deliveries,
        kinds=_kinds(),
        **values,
    )


def _missing(request: Request, user: Principal, endpoint_id: int) -> Response:
    return _list_page(request, user, status=404, error=f"No webhook endpoint {endpoint_id}.")


def _outcome(result: AttemptResult, what: str) -> str:
    if result.delivered:
        return f"{what}: delivered (HTTP {result.status}) in {result.duration_ms} ms."
    return f"{what}: failed ({result.error}) after {result.duration_ms} ms."


@router.get("/webhooks", name="webhooks")
def webhooks(request: Request, user: PageAdmin, notice: str | None = None) -> Response:
    return _list_page(request, user, notice=notice)


@router.post("/webhooks", name="webhook_add")
def add_one(
    request: Request,
    user: PageAdmin,
    url: Annotated[str, Form(max_length=2000)],
    description: Annotated[str, Form(max_length=2000)] = "",
    events: Annotated[list[str] | None, Form()] = None,
    include_subject: Annotated[bool, Form()] = False,
) -> Response:
    form = {
        "url": url,
        "description": description,
        "events": events or (),
        "subject": include_subject,
    }
    try:
        made = add(
            context_of(request),
            url,
            events or (),
            description=description,
            include_subject=include_subject,
        )
    except (EndpointError, WebhookUnavailable) as exc:
        return _list_page(request, user, status=422, error=str(exc), form=form)
    # The one answer that carries the secret; pages are sent with Cache-Control: no-store.
    return _list_page(request, user, new_secret=made.secret, new_endpoint=made.endpoint)


@router.get("/webhooks/{endpoint_id}", name="webhook")
def endpoint(
    request: Request, user: PageAdmin, endpoint_id: RowId, notice: str | None = None
) -> Response:
    return _endpoint_page(request, user, endpoint_id, notice=notice)


def _to_endpoint(request: Request, endpoint_id: int, notice: str) -> Response:
    url = request.url_for("webhook", endpoint_id=endpoint_id).include_query_params(notice=notice)
    return see_other(request, str(url))


@router.post("/webhooks/{endpoint_id}", name="webhook_edit")
def edit(
    request: Request,
    user: PageAdmin,
    endpoint_id: RowId,
    url: Annotated[str, Form(max_length=2000)],
    description: Annotated[str, Form(max_length=2000)] = "",
    events: Annotated[list[str] | None, Form()] = None,
    include_subject: Annotated[bool, Form()] = False,
) -> Response:
    try:
        with context_of(request).store.transaction() as session:
            changed = update_endpoint(
                session,
                endpoint_id,
                url=url,
                kinds=events or (),
                description=description,
                include_subject=include_subject,
            )
    except EndpointError as exc:
        return _endpoint_page(request, user, endpoint_id, status=422, error=str(exc))
    if changed is None:
        return _missing(request, user, endpoint_id)
    return _to_endpoint(request, endpoint_id, "Saved.")


@router.post("/webhooks/{endpoint_id}/switch", name="webhook_switch")
def switch(
    request: Request, user: PageAdmin, endpoint_id: RowId, enabled: Annotated[bool, Form()]
) -> Response:
    with context_of(request).store.transaction() as session:
        changed = set_enabled(session, endpoint_id, enabled)
    if changed is None:
        return _missing(request, user, endpoint_id)
    return _to_endpoint(request, endpoint_id, "Enabled." if enabled else "Disabled.")


@router.post("/webhooks/{endpoint_id}/remove", name="webhook_remove")
def remove(request: Request, user: PageAdmin, endpoint_id: RowId) -> Response:
    with context_of(request).store.transaction() as session:
        removed = remove_endpoint(session, endpoint_id)
    if not removed:
        return _missing(request, user, endpoint_id)
    notice = f"Endpoint {endpoint_id} removed, with its delivery log."
    return see_other(request, str(request.url_for("webhooks").include_query_params(notice=notice)))


@router.post("/webhooks/{endpoint_id}/test", name="webhook_test")
def test(request: Request, user: PageAdmin, endpoint_id: RowId) -> Response:
    try:
        result = send_test(context_of(request), endpoint_id)
    except DeliveryError:
        return _missing(request, user, endpoint_id)
    except WebhookUnavailable as exc:
        return _endpoint_page(request, user, endpoint_id, status=409, error=str(exc))
    return _to_endpoint(request, endpoint_id, _outcome(result, "Test event"))


def _delivery_page(
    request: Request, user: Principal, delivery_id: int, *, status: int = 200, **values: object
) -> Response:
    with context_of(request).store.session() as session:
        found = get_delivery(session, delivery_id)
        if found is None:
            return _list_page(
                request, user, status=404, error=f"No webhook delivery {delivery_id}."
            )
        attempts = list(reversed(attempts_of(session, delivery_id)))
        body = posted_body(session, delivery_id)
        endpoint = get_endpoint(session, found.endpoint_id)
    return render(
        request,
        "webhooks_delivery.html",
        user,
        status=status,
        title=f"Delivery {found.id} ({found.kind})",
        delivery=found,
        attempts=attempts,
        body=body,
        endpoint=endpoint,
        **values,
    )


@router.get("/webhooks/deliveries/{delivery_id}", name="webhook_delivery")
def delivery(
    request: Request, user: PageAdmin, delivery_id: RowId, notice: str | None = None
) -> Response:
    return _delivery_page(request, user, delivery_id, notice=notice)


@router.post("/webhooks/deliveries/{delivery_id}/redeliver", name="webhook_redeliver")
def redeliver_one(request: Request, user: PageAdmin, delivery_id: RowId) -> Response:
    try:
        result = redeliver(context_of(request), delivery_id)
    except (DeliveryError, WebhookUnavailable) as exc:
        # Refused (its endpoint is disabled, ...): the delivery's page says why.
        return _delivery_page(request, user, delivery_id, status=409, error=str(exc))
    url = request.url_for("webhook_delivery", delivery_id=delivery_id)
    notice = _outcome(result, "Redelivered")
    return see_other(request, str(url.include_query_params(notice=notice)))
