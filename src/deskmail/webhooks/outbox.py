"""The webhook outbox: queue_webhook() writes an event inside the caller's transaction.

Written with the ticket, activity, event, quarantine record or run it reports:
a transaction that rolls back takes its webhooks with it, and one that commits
has them queued, to be posted afterwards (delivery.py) by `deskmail serve` or
`deskmail webhooks deliver`. One message row per event, and one delivery row per
enabled endpoint that subscribes to its kind; with no such endpoint nothing is
written.

Imported by apply/ and intake/: only the store and the payloads, never httpx
nor cryptography.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from deskmail.store import deferred
from deskmail.store.models import (
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookMessage,
    utcnow,
)
from deskmail.webhooks.payloads import Payload, data_json

_MESSAGE = cast(Table, WebhookMessage.__table__)
_DELIVERY = cast(Table, WebhookDelivery.__table__)
_ENDPOINT = cast(Table, WebhookEndpoint.__table__)
_SUBSCRIBERS = "deskmail_webhook_subscribers"  # session.info: list[_Subscriber]


@dataclass(frozen=True, slots=True)
class _Subscriber:
    endpoint_id: int
    kinds: frozenset[str]
    include_subject: bool


def new_message_id() -> str:
    """The webhook-id: "msg_" and 130 random bits."""
    return "msg_" + base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=").lower()


def queue_webhook(
    session: Session, payload: Payload, *, subject: str | None = None, to: int | None = None
) -> str | None:
    """Queue `payload` for the endpoints that take its kind; the message id, or None if none.

    `subject`: the mail's subject, kept only if one of them asked for it.
    `to`: this endpoint alone, whatever it subscribes to (send test).
    """
    kind = payload.KIND.value
    if to is None:
        chosen = [s for s in _subscribers(session) if kind in s.kinds]
    else:
        chosen = [_Subscriber(to, frozenset(), include_subject=True)]
    if not chosen:
        return None
    now = utcnow()
    message_id = new_message_id()
    wants_subject = any(s.include_subject for s in chosen)
    message = {
        "id": message_id,
        "kind": kind,
        "payload": data_json(payload),
        "subject": subject[:2000] if wants_subject and subject is not None else None,
        "created_at": now,
    }
    deferred.insert(session, _MESSAGE, message)
    for subscriber in chosen:
        delivery = {
            "message_id": message_id,
            "endpoint_id": subscriber.endpoint_id,
            "status": WebhookDeliveryStatus.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        deferred.insert(session, _DELIVERY, delivery)
    return message_id


def anything_due(session: Session, now: datetime) -> bool:
    """Whether a delivery to an enabled endpoint is due (the daemon asks every few seconds,
    without importing what posts)."""
    query = (
        select(_DELIVERY.c.id)
        .join(_ENDPOINT, _DELIVERY.c.endpoint_id == _ENDPOINT.c.id)
        .where(
            _DELIVERY.c.status == WebhookDeliveryStatus.PENDING,
            _DELIVERY.c.next_attempt_at <= now,
            _ENDPOINT.c.enabled.is_(True),
        )
        .limit(1)
    )
    return session.connection().execute(query).first() is not None


def _subscribers(session: Session) -> list[_Subscriber]:
    """The enabled endpoints, read once per transaction (a batch of intake asks for each mail).

    Read on the connection, not through the ORM: an ORM query would first write a
    batch's waiting rows (store/deferred.py), which this table never needs.
    """
    known: list[_Subscriber] | None = session.info.get(_SUBSCRIBERS)
    if known is None:
        query = select(_ENDPOINT.c.id, _ENDPOINT.c.kinds, _ENDPOINT.c.include_subject).where(
            _ENDPOINT.c.enabled.is_(True)
        )
        known = [
            _Subscriber(row.id, frozenset(row.kinds.split()), bool(row.include_subject))
            for row in session.connection().execute(query)
        ]
        session.info[_SUBSCRIBERS] = known
    return known


__all__ = ["anything_due", "new_message_id", "queue_webhook"]
