"""What the webhook tests share: a sealing key, an endpoint, a fast retry policy."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from sqlalchemy import select
from standardwebhooks import Webhook

from deskmail.store.engine import Store
from deskmail.store.models import WebhookMessage
from deskmail.webhooks.endpoints import NewEndpoint, add_endpoint
from deskmail.webhooks.policy import RetryPolicy
from tests.support.webhook_receiver import Received

# No waits between attempts: a test's deliver_due runs the whole schedule at once.
FAST = RetryPolicy(
    delays=(timedelta(0),) * 4,
    disable_after=timedelta(0),
    disable_after_failures=3,
    timeout=5.0,
)


def new_keys() -> MultiFernet:
    return MultiFernet([Fernet(Fernet.generate_key())])


def add(store: Store, keys: MultiFernet, url: str, *kinds: str, **settings: Any) -> NewEndpoint:
    with store.transaction() as session:
        return add_endpoint(session, keys, url, kinds or ("*",), **settings)


def verified(request: Received, secret: str) -> dict[str, Any]:
    """The body, once the scheme's reference library has verified its signature."""
    document: dict[str, Any] = Webhook(secret).verify(request.body, request.headers)
    return document


def outbox(store: Store) -> list[tuple[str, dict[str, Any]]]:
    """Every queued event: (kind, data), oldest first."""
    with store.session() as session:
        rows = session.scalars(select(WebhookMessage).order_by(WebhookMessage.created_at))
        return [(row.kind, json.loads(row.payload)) for row in rows]
