"""What the webhooks screen and API do with endpoints, over webhooks/ (the service the CLI
uses too): the key that seals their secrets, and send test and redeliver, posted now from
this process (the scheduler of `deskmail serve` posts everything else).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from deskmail.store.sealing import SecretKeyError, key_file_for, sealing_keys
from deskmail.web.context import WebContext
from deskmail.webhooks.endpoints import NewEndpoint, add_endpoint

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

    from deskmail.webhooks.attempts import AttemptResult
    from deskmail.webhooks.delivery import Deliverer


class WebhookUnavailable(Exception):
    """The deskmail secret key cannot be read: no endpoint can be added nor posted to."""


def _keys(context: WebContext) -> MultiFernet:
    try:
        return sealing_keys(key_file_for(context.config.source_file))
    except SecretKeyError as exc:
        raise WebhookUnavailable(str(exc)) from None


def add(
    context: WebContext,
    url: str,
    kinds: Iterable[str],
    *,
    description: str = "",
    include_subject: bool = False,
) -> NewEndpoint:
    """Add an endpoint; raises EndpointError (bad input) or WebhookUnavailable."""
    keys = _keys(context)
    with context.store.transaction() as session:
        return add_endpoint(
            session, keys, url, kinds, description=description, include_subject=include_subject
        )


def _deliverer(context: WebContext) -> Deliverer:
    # Like deskmail serve's: an endpoint disabled by a failed redelivery is reported the same.
    from deskmail.webhooks.delivery import deliverer_for

    try:
        return deliverer_for(context.store, context.config)
    except SecretKeyError as exc:
        raise WebhookUnavailable(str(exc)) from None


def send_test(context: WebContext, endpoint_id: int) -> AttemptResult:
    """Post a webhook.test event to the endpoint now; raises DeliveryError or
    WebhookUnavailable."""
    with _deliverer(context) as deliverer:
        return deliverer.send_test(endpoint_id)


def redeliver(context: WebContext, delivery_id: int) -> AttemptResult:
    """Post a delivery again now, under its webhook-id; raises DeliveryError or
    WebhookUnavailable."""
    with _deliverer(context) as deliverer:
        return deliverer.redeliver(delivery_id)


__all__ = ["WebhookUnavailable", "add", "redeliver", "send_test"]
