"""/api/v1/webhooks and /api/v1/deliveries (administrators): endpoints, their delivery log,
send test, redeliver.

The signing secret is in the answer to POST /webhooks only; nothing returns it again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field, WithJsonSchema

from deskmail.store.models import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint
from deskmail.web.api.resource import resource_router
from deskmail.web.context import context_of
from deskmail.web.ids import RowId
from deskmail.web.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Page,
    UpdatedSince,
    decode_cursor,
    encode_cursor,
)
from deskmail.web.problems import Problem, field_problem
from deskmail.web.security.roles import ApiAdmin
from deskmail.web.webhook_control import WebhookUnavailable, add, redeliver, send_test
from deskmail.webhooks.attempts import AttemptResult, DeliveryError
from deskmail.webhooks.endpoints import (
    EndpointError,
    EndpointView,
    get_endpoint,
    list_endpoints,
    remove_endpoint,
    set_enabled,
    update_endpoint,
)
from deskmail.webhooks.log import (
    AttemptView,
    DeliveryView,
    attempts_of,
    deliveries_after,
    get_delivery,
    posted_body,
)
from deskmail.webhooks.payloads import SUBSCRIBABLE, EventKind

router = resource_router(tags=["webhooks"])

# The kinds an endpoint subscribes to: every EventKind but webhook.test, which only
# "send test" posts (the document says so; check_kinds refuses it, naming the field).
EventName = Annotated[
    EventKind,
    WithJsonSchema({"type": "string", "enum": list(SUBSCRIBABLE), "title": "EventName"}),
]


class EndpointOut(BaseModel):
    id: int
    url: str
    events: list[EventName] = Field(description="the kinds of event posted to it")
    enabled: bool
    description: str
    include_subject: bool = Field(
        description="the mail's subject and the record's custom fields are added to the events"
    )
    failures: int = Field(description="attempts failed in a row")
    failing_since: datetime | None
    disabled_reason: str | None
    created_at: datetime
    updated_at: datetime = Field(description="its last change (failures counted included)")

    @classmethod
    def of(cls, view: EndpointView) -> EndpointOut:
        return cls(
            id=view.id,
            url=view.url,
            events=[EventKind(kind) for kind in view.kinds],
            enabled=view.enabled,
            description=view.description,
            include_subject=view.include_subject,
            failures=view.failures,
            failing_since=view.failing_since,
            disabled_reason=view.disabled_reason,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


class NewEndpointOut(EndpointOut):
    secret: str = Field(description="the whsec_ signing secret: in this answer only")


class EndpointIn(BaseModel):
    url: str = Field(max_length=2000, description="https:// (or http://) where events go")
    events: list[EventName] = Field(min_length=1, max_length=20)
    description: str = Field(default="", max_length=2000)
    include_subject: bool = Field(default=False, description="mail text: off unless asked")


class EndpointChange(BaseModel):
    url: str | None = Field(default=None, max_length=2000)
    events: list[EventName] | None = Field(default=None, min_length=1, max_length=20)
    description: str | None = Field(default=None, max_length=2000)
    include_subject: bool | None = None
    enabled: bool | None = Field(default=None, description="enabling resets the failure count")


class AttemptOut(BaseModel):
    id: int
    attempted_at: datetime
    url: str
    request_headers: dict[str, str] = Field(description="as sent, signature included")
    response_status: int | None = Field(description="absent when the receiver did not answer")
    response_body: str | None = Field(description="the start of the answer")
    duration_ms: int
    error: str | None

    @classmethod
    def of(cls, view: AttemptView) -> AttemptOut:
        return cls(
            id=view.id,
            attempted_at=view.attempted_at,
            url=view.url,
            request_headers=view.request_headers,
            response_status=view.response_status,
            response_body=view.response_body,
            duration_ms=view.duration_ms,
            error=view.error,
        )


class DeliveryOut(BaseModel):
    id: int
    webhook_id: str = Field(description="the webhook-id header: the same on every attempt")
    event: str = Field(description="the event kind, webhook.test for a send test")
    endpoint_id: int
    status: WebhookDeliveryStatus
    attempts: int = Field(description="since queued or last redelivered")
    created_at: datetime
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_attempt: AttemptOut | None

    @classmethod
    def of(cls, view: DeliveryView) -> DeliveryOut:
        return cls(
            id=view.id,
            webhook_id=view.message_id,
            event=view.kind,
            endpoint_id=view.endpoint_id,
            status=view.status,
            attempts=view.attempts,
            created_at=view.created_at,
            next_attempt_at=view.next_attempt_at,
            delivered_at=view.delivered_at,
            last_attempt=AttemptOut.of(view.last) if view.last else None,
        )


class DeliveryDetail(DeliveryOut):
    request_body: str = Field(description="the JSON every attempt posts")
    log: list[AttemptOut] = Field(description="every attempt, oldest first")


class AttemptResultOut(BaseModel):
    """The answer of a send test or a redelivery, posted while the request waited."""

    delivery_id: int
    webhook_id: str
    endpoint_id: int
    delivered: bool
    response_status: int | None
    error: str | None
    duration_ms: int
    next_attempt_at: datetime | None = Field(description="when it is tried again, if it failed")
    endpoint_disabled: bool = Field(description="this failure disabled the endpoint")


def _bad_input(exc: EndpointError) -> Problem:
    return field_problem(422, f"body.{exc.field}", exc.problem)


def _unavailable(exc: WebhookUnavailable) -> Problem:
    return Problem(409, "Conflict", f"the deskmail secret key cannot be used: {exc}")


def _no_endpoint(endpoint_id: int) -> Problem:
    return Problem(404, "Not found", f"no webhook endpoint {endpoint_id}")


def _kinds(events: list[EventName]) -> list[str]:
    # webhook.test is sent by "send test" alone: check_kinds refuses it, naming the field.
    return [event.value for event in events]


@router.get("/webhooks", summary="Webhook endpoints, a page at a time")
def list_all(
    request: Request,
    user: ApiAdmin,
    updated_since: UpdatedSince = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[EndpointOut]:
    after = decode_cursor(cursor, (WebhookEndpoint.id,))[0] if cursor else None
    with context_of(request).store.session() as session:
        found = [
            view
            for view in list_endpoints(session, updated_since)
            if after is None or view.id > after
        ]
    page = found[:limit]
    more = len(found) > limit
    return Page[EndpointOut](
        items=[EndpointOut.of(view) for view in page],
        next_cursor=encode_cursor([page[-1].id]) if more else None,
    )


@router.post("/webhooks", status_code=201, summary="Add an endpoint; the answer has its secret")
def create(
    request: Request, response: Response, body: EndpointIn, user: ApiAdmin
) -> NewEndpointOut:
    try:
        made = add(
            context_of(request),
            body.url,
            _kinds(body.events),
            description=body.description,
            include_subject=body.include_subject,
        )
    except EndpointError as exc:
        raise _bad_input(exc) from None
    except WebhookUnavailable as exc:
        raise _unavailable(exc) from None
    response.headers["Location"] = f"{request.url.path}/{made.endpoint.id}"
    return NewEndpointOut(**EndpointOut.of(made.endpoint).model_dump(), secret=made.secret)


@router.get("/webhooks/{endpoint_id}", summary="One endpoint (never its secret)")
def read(request: Request, endpoint_id: RowId, user: ApiAdmin) -> EndpointOut:
    with context_of(request).store.session() as session:
        found = get_endpoint(session, endpoint_id)
    if found is None:
        raise _no_endpoint(endpoint_id)
    return EndpointOut.of(found)


@router.patch("/webhooks/{endpoint_id}", summary="Change, enable or disable an endpoint")
def change(
    request: Request, endpoint_id: RowId, body: EndpointChange, user: ApiAdmin
) -> EndpointOut:
    try:
        with context_of(request).store.transaction() as session:
            changed = update_endpoint(
                session,
                endpoint_id,
                url=body.url,
                kinds=_kinds(body.events) if body.events is not None else None,
                description=body.description,
                include_subject=body.include_subject,
            )
            if changed is not None and body.enabled is not None:
                changed = set_enabled(session, endpoint_id, body.enabled)
    except EndpointError as exc:
        raise _bad_input(exc) from None
    if changed is None:
        raise _no_endpoint(endpoint_id)
    return EndpointOut.of(changed)


@router.delete("/webhooks/{endpoint_id}", status_code=204, summary="Remove an endpoint and its log")
def remove(request: Request, endpoint_id: RowId, user: ApiAdmin) -> Response:
    with context_of(request).store.transaction() as session:
        removed = remove_endpoint(session, endpoint_id)
    if not removed:
        raise _no_endpoint(endpoint_id)
    return Response(status_code=204)


@router.get(
    "/webhooks/{endpoint_id}/deliveries",
    summary="The endpoint's deliveries, oldest first, a page at a time",
)
def deliveries(
    request: Request,
    endpoint_id: RowId,
    user: ApiAdmin,
    status: WebhookDeliveryStatus | None = None,
    updated_since: Annotated[
        AwareDatetime | None,
        Query(description="only deliveries queued or attempted at or after this time"),
    ] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[DeliveryOut]:
    after = decode_cursor(cursor, (WebhookDelivery.id,))[0] if cursor else None
    with context_of(request).store.session() as session:
        if get_endpoint(session, endpoint_id) is None:
            raise _no_endpoint(endpoint_id)
        found = deliveries_after(session, endpoint_id, after, limit + 1, status, updated_since)
    page = found[:limit]
    more = len(found) > limit
    return Page[DeliveryOut](
        items=[DeliveryOut.of(view) for view in page],
        next_cursor=encode_cursor([page[-1].id]) if more else None,
    )


@router.post(
    "/webhooks/{endpoint_id}/test",
    summary="Post a webhook.test event to the endpoint now, and say how it answered",
)
def test(request: Request, endpoint_id: RowId, user: ApiAdmin) -> AttemptResultOut:
    try:
        result = send_test(context_of(request), endpoint_id)
    except DeliveryError:
        raise _no_endpoint(endpoint_id) from None
    except WebhookUnavailable as exc:
        raise _unavailable(exc) from None
    return _result(result)


@router.get("/deliveries/{delivery_id}", summary="One delivery: the body posted and every attempt")
def delivery(request: Request, delivery_id: RowId, user: ApiAdmin) -> DeliveryDetail:
    with context_of(request).store.session() as session:
        found = get_delivery(session, delivery_id)
        if found is None:
            raise Problem(404, "Not found", f"no webhook delivery {delivery_id}")
        posted = posted_body(session, delivery_id) or ""
        log = [AttemptOut.of(attempt) for attempt in attempts_of(session, delivery_id)]
    return DeliveryDetail(**DeliveryOut.of(found).model_dump(), request_body=posted, log=log)


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    summary="Post a delivery again now, under the same webhook-id",
)
def redeliver_one(request: Request, delivery_id: RowId, user: ApiAdmin) -> AttemptResultOut:
    context = context_of(request)
    with context.store.session() as session:
        if get_delivery(session, delivery_id) is None:
            raise Problem(404, "Not found", f"no webhook delivery {delivery_id}")
    try:
        result = redeliver(context, delivery_id)
    except DeliveryError as exc:
        raise Problem(409, "Conflict", str(exc)) from None
    except WebhookUnavailable as exc:
        raise _unavailable(exc) from None
    return _result(result)


def _result(result: AttemptResult) -> AttemptResultOut:
    return AttemptResultOut(
        delivery_id=result.delivery_id,
        webhook_id=result.message_id,
        endpoint_id=result.endpoint_id,
        delivered=result.delivered,
        response_status=result.status,
        error=result.error,
        duration_ms=result.duration_ms,
        next_attempt_at=result.next_attempt_at,
        endpoint_disabled=result.endpoint_disabled,
    )
