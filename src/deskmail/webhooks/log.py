"""The delivery log: each delivery's state and each attempt's request and answer.

Typed views for the CLI (report/webhooks.py) and the web UI; read-only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from deskmail.store.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookMessage,
)
from deskmail.webhooks.payloads import body


@dataclass(frozen=True, slots=True)
class AttemptView:
    id: int
    attempted_at: datetime
    url: str
    request_headers: dict[str, str]  # as sent: webhook-id, -timestamp, -signature, ...
    response_status: int | None
    response_body: str | None  # the start of it
    duration_ms: int
    error: str | None


@dataclass(frozen=True, slots=True)
class DeliveryView:
    id: int
    message_id: str  # the webhook-id
    kind: str
    endpoint_id: int
    status: WebhookDeliveryStatus
    attempts: int  # since queued or last redelivered
    created_at: datetime
    next_attempt_at: datetime | None  # pending ones only
    delivered_at: datetime | None
    last: AttemptView | None


def list_deliveries(
    session: Session,
    endpoint_id: int | None = None,
    status: WebhookDeliveryStatus | None = None,
    limit: int = 50,
) -> list[DeliveryView]:
    """The newest `limit` deliveries, oldest first."""
    query = (
        select(WebhookDelivery, WebhookMessage.kind)
        .join(WebhookMessage, WebhookDelivery.message_id == WebhookMessage.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if endpoint_id is not None:
        query = query.where(WebhookDelivery.endpoint_id == endpoint_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    rows = list(session.execute(query))
    return [_view(session, delivery, kind) for delivery, kind in reversed(rows)]


def deliveries_after(
    session: Session,
    endpoint_id: int,
    after_id: int | None,
    limit: int,
    status: WebhookDeliveryStatus | None = None,
    changed_since: datetime | None = None,
) -> list[DeliveryView]:
    """Up to `limit` deliveries to the endpoint with an id above `after_id`, oldest first
    (a page of the API); `changed_since`: queued or attempted at or after that time."""
    query = (
        select(WebhookDelivery, WebhookMessage.kind)
        .join(WebhookMessage, WebhookDelivery.message_id == WebhookMessage.id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id)
        .limit(limit)
    )
    if after_id is not None:
        query = query.where(WebhookDelivery.id > after_id)
    if status is not None:
        query = query.where(WebhookDelivery.status == status)
    if changed_since is not None:
        query = query.where(
            or_(
                WebhookDelivery.created_at >= changed_since,
                WebhookDelivery.last_attempt_at >= changed_since,
            )
        )
    return [_view(session, delivery, kind) for delivery, kind in session.execute(query)]


def posted_body(session: Session, delivery_id: int) -> str | None:
    """The body every attempt of the delivery posts (delivery.py builds it the same way)."""
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        return None
    message = delivery.message
    posted = body(
        message.kind,
        message.created_at,
        message.payload,
        message.subject,
        with_subject=delivery.endpoint.include_subject,
        custom_fields=message.fields,
    )
    return posted.decode("utf-8")


def get_delivery(session: Session, delivery_id: int) -> DeliveryView | None:
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        return None
    return _view(session, delivery, delivery.message.kind)


def attempts_of(session: Session, delivery_id: int) -> list[AttemptView]:
    rows = session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id)
        .order_by(WebhookAttempt.id)
    )
    return [_attempt(row) for row in rows]


def _view(session: Session, delivery: WebhookDelivery, kind: str) -> DeliveryView:
    last = session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery.id)
        .order_by(WebhookAttempt.id.desc())
        .limit(1)
    ).first()
    pending = delivery.status is WebhookDeliveryStatus.PENDING
    return DeliveryView(
        delivery.id,
        delivery.message_id,
        kind,
        delivery.endpoint_id,
        delivery.status,
        delivery.attempts,
        delivery.created_at,
        delivery.next_attempt_at if pending else None,
        delivery.delivered_at,
        _attempt(last) if last is not None else None,
    )


def _attempt(row: WebhookAttempt) -> AttemptView:
    return AttemptView(
        row.id,
        row.attempted_at,
        row.url,
        json.loads(row.request_headers),
        row.response_status,
        row.response_body,
        row.duration_ms,
        row.error,
    )


__all__ = [
    "AttemptView",
    "DeliveryView",
    "attempts_of",
    "deliveries_after",
    "get_delivery",
    "list_deliveries",
    "posted_body",
]
