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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from deskmail.config.custom_fields import FieldValue
from deskmail.store import deferred
from deskmail.store.models import (
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookMessage,
    utcnow,
)
from deskmail.webhooks.payloads import Payload, data_json, fields_json

_MESSAGE = cast(Table, WebhookMessage.__table__)
_DELIVERY = cast(Table, WebhookDelivery.__table__)
_ENDPOINT = cast(Table, WebhookEndpoint.__table__)


@dataclass(frozen=True, slots=True)
class _Subscriber:
    endpoint_id: int
    kinds: frozenset[str]
    include_subject: bool


@dataclass(slots=True)
class Subscribers:
    """The enabled endpoints, read on first use and kept for one transaction.

    A batch of intake keeps one (apply/batch.py) and asks for each mail; a caller
    without one gets a fresh read, which is right for the one-off events.
    Read on the connection, not through the ORM: an ORM query would first write a
    batch's waiting rows (store/deferred.py), which this table never needs.
    """

    _known: list[_Subscriber] | None = None

    def taking(self, session: Session, kind: str) -> list[_Subscriber]:
        if self._known is None:
            query = select(_ENDPOINT.c.id, _ENDPOINT.c.kinds, _ENDPOINT.c.include_subject).where(
                _ENDPOINT.c.enabled.is_(True)
            )
            self._known = [
                _Subscriber(row.id, frozenset(row.kinds.split()), bool(row.include_subject))
                for row in session.connection().execute(query)
            ]
        return [s for s in self._known if kind in s.kinds]


def new_message_id() -> str:
    """The webhook-id: "msg_" and 130 random bits."""
    return "msg_" + base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=").lower()


def queue_webhook(
    session: Session,
    payload: Payload,
    *,
    subject: str | None = None,
    custom_fields: Callable[[], Sequence[FieldValue]] | None = None,
    to: int | None = None,
    subscribers: Subscribers | None = None,
) -> str | None:
    """Queue `payload` for the endpoints that take its kind; the message id, or None if none.

    `subject`: the mail's subject, kept only if one of them asked for mail text.
    `custom_fields`: gives the record's custom fields (mail text too, a rule may have taken
    them from the mail), asked and kept only if one of them asked for mail text.
    `to`: this endpoint alone, whatever it subscribes to (send test).
    `subscribers`: the transaction's endpoints, when it queues several messages.
    """
    kind = payload.KIND.value
    if to is None:
        chosen = (subscribers or Subscribers()).taking(session, kind)
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
        "fields": (
            fields_json(custom_fields()) if wants_subject and custom_fields is not None else None
        ),
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


__all__ = ["Subscribers", "anything_due", "new_message_id", "queue_webhook"]
