"""webhooks/endpoints.py: bad input named by field; the secret sealed, never shown again."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from deskmail.store.engine import Store
from deskmail.store.models import WebhookEndpoint, utcnow
from deskmail.webhooks.endpoints import (
    EndpointError,
    check_kinds,
    check_url,
    get_endpoint,
    list_endpoints,
    remove_endpoint,
    set_enabled,
    unseal_secret,
)
from deskmail.webhooks.outbox import queue_webhook
from deskmail.webhooks.payloads import SUBSCRIBABLE, RunFailed
from tests.webhooks.helpers import add, new_keys


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (
            "ftp://example.com/x",
            "url: must start with https:// or http:// (got 'ftp://example.com/x')",
        ),
        ("hooks.example.com", "url: must start with https:// or http://"),
        ("https:///path", "url: has no host name"),
        ("https://user:pw@example.com/", "url: must not carry a user name or password"),
        ("https://example.com/" + "a" * 2000, "url: is 2020 characters long; at most 2000"),
    ],
)
def test_a_bad_url_is_refused_naming_the_field(url: str, problem: str) -> None:
    with pytest.raises(EndpointError, match="^" + re.escape(problem)) as raised:
        check_url(url)
    assert raised.value.field == "url"


def test_event_kinds_are_checked_and_star_means_all() -> None:
    assert check_kinds(["*"]) == SUBSCRIBABLE
    assert check_kinds(["run.failed", "ticket.created"]) == ("ticket.created", "run.failed")
    with pytest.raises(
        EndpointError, match=re.escape("events: unknown event kind 'ticket.deleted'")
    ):
        check_kinds(["ticket.created", "ticket.deleted"])
    with pytest.raises(EndpointError, match=re.escape("events: unknown event kind 'webhook.test'")):
        check_kinds(["webhook.test"])  # sent by send test only
    with pytest.raises(EndpointError, match="events: name at least one"):
        check_kinds([" "])


def test_the_secret_is_sealed_and_views_never_hold_it(store: Store) -> None:
    keys = new_keys()
    new = add(store, keys, "https://hooks.example.com/in", "run.failed", description=" CMDB ")
    with store.session() as session:
        row = session.scalars(select(WebhookEndpoint)).one()
        views = [*list_endpoints(session), get_endpoint(session, new.endpoint.id)]
    assert new.secret.startswith("whsec_")
    assert new.secret not in row.secret_sealed
    assert unseal_secret(keys, row.secret_sealed) == new.secret
    assert all(new.secret not in repr(view) for view in views)
    assert views[0] == new.endpoint and new.endpoint.description == "CMDB"
    with pytest.raises(EndpointError, match="secret: was sealed with another key"):
        unseal_secret(new_keys(), row.secret_sealed)


def test_a_disabled_endpoint_gets_nothing_queued_until_enabled(store: Store) -> None:
    keys = new_keys()
    new = add(store, keys, "https://hooks.example.com/in", "run.failed")

    def queued() -> str | None:
        with store.transaction() as session:
            return queue_webhook(session, RunFailed(1, "Support", "x", utcnow(), utcnow()))

    with store.transaction() as session:
        view = set_enabled(session, new.endpoint.id, False)
    assert view is not None and not view.enabled and view.disabled_reason == "disabled by hand"
    assert queued() is None
    with store.transaction() as session:
        view = set_enabled(session, new.endpoint.id, True)
        assert set_enabled(session, 99, True) is None
    assert view is not None and view.enabled and view.disabled_reason is None
    assert queued() is not None
    with store.transaction() as session:
        assert remove_endpoint(session, new.endpoint.id)
        assert not remove_endpoint(session, new.endpoint.id)
    assert queued() is None
