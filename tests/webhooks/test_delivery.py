"""webhooks/delivery.py against a real local receiver: signed, retried under one id,
redelivered, disabled after sustained failure, never posted twice by two instances."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook, WebhookVerificationError

from deskmail.store.engine import Store
from deskmail.store.models import (
    Ticket,
    TicketKind,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    utcnow,
)
from deskmail.webhooks.attempts import DeliveryError
from deskmail.webhooks.delivery import Deliverer
from deskmail.webhooks.log import attempts_of, list_deliveries
from deskmail.webhooks.outbox import queue_webhook
from deskmail.webhooks.payloads import RunFailed
from deskmail.webhooks.policy import RetryPolicy
from deskmail.webhooks.signing import new_secret, signature
from tests.support.webhook_receiver import Receiver
from tests.webhooks.helpers import FAST, add, new_keys, verified


def _queue(store: Store, count: int = 1) -> list[str]:
    ids = []
    with store.transaction() as session:
        for n in range(count):
            now = utcnow()
            found = queue_webhook(session, RunFailed(n + 1, "Support", "folder failed", now, now))
            assert found is not None
            ids.append(found)
    return ids


def test_our_signature_is_the_reference_librarys() -> None:
    secret = new_secret()
    body = b'{"type":"run.failed","data":{"job":"Support \xc3\xa9"}}'
    header = signature(secret, "msg_1", 1_765_083_600, body)
    reference = Webhook(secret)
    assert header == reference.sign("msg_1", datetime.fromtimestamp(1_765_083_600, UTC), body)
    assert secret.startswith("whsec_") and len(secret) > 40


def test_a_delivery_is_signed_and_logged(store: Store, receiver: Receiver) -> None:
    keys = new_keys()
    endpoint = add(store, keys, receiver.url, "run.failed")
    [message_id] = _queue(store)
    with Deliverer(store, keys, FAST) as deliverer:
        report = deliverer.deliver_due()
    assert (report.delivered, report.failed) == (1, 0)
    [request] = receiver.received
    assert request.path == "/hooks/deskmail"
    assert request.webhook_id == message_id
    document = verified(request, endpoint.secret)
    assert document["type"] == "run.failed"
    assert document["data"]["job"] == "Support"
    assert document["data"]["run_id"] == 1
    # A body changed in transit, or another secret, does not verify.
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(request.body + b" ", request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(request.body, request.headers)
    with store.session() as session:
        [delivery] = list_deliveries(session)
        assert delivery.status is WebhookDeliveryStatus.DELIVERED
        [attempt] = attempts_of(session, delivery.id)
    assert attempt.response_status == 200 and attempt.error is None
    assert attempt.response_body == '{"ok": true}'
    assert attempt.url == receiver.url
    assert attempt.request_headers["webhook-id"] == message_id
    assert attempt.request_headers["webhook-signature"] == request.headers["webhook-signature"]
    assert endpoint.secret not in str(attempt) and endpoint.secret[6:] not in str(attempt)


def test_retries_then_success_keep_the_same_webhook_id(store: Store, receiver: Receiver) -> None:
    keys = new_keys()
    endpoint = add(store, keys, receiver.url, "run.failed")
    [message_id] = _queue(store)
    receiver.answers.extend([500, 503])
    with Deliverer(store, keys, FAST) as deliverer:
        report = deliverer.deliver_due()
    assert [a.status for a in report.attempts] == [500, 503, 200]
    assert [a.delivered for a in report.attempts] == [False, False, True]
    assert [r.webhook_id for r in receiver.received] == [message_id] * 3
    bodies = {r.body for r in receiver.received}
    assert len(bodies) == 1  # the same bytes every time
    for request in receiver.received:  # each attempt signed anew, each verifies
        verified(request, endpoint.secret)
    with store.session() as session:
        [delivery] = list_deliveries(session)
        attempts = attempts_of(session, delivery.id)
    assert delivery.status is WebhookDeliveryStatus.DELIVERED
    assert [(a.response_status, a.error) for a in attempts] == [
        (500, "HTTP 500 Internal Server Error"),
        (503, "HTTP 503 Service Unavailable"),
        (200, None),
    ]
    assert attempts[0].response_body == "receiver says no"
    with store.session() as session:  # a success clears the endpoint's run of failures
        row = session.get(WebhookEndpoint, endpoint.endpoint.id)
        assert row is not None and (row.failures, row.failing_since) == (0, None)


def test_a_failed_attempt_waits_for_its_backoff(store: Store, receiver: Receiver) -> None:
    keys = new_keys()
    add(store, keys, receiver.url, "run.failed")
    _queue(store)
    receiver.answers.append(500)
    policy = RetryPolicy(delays=(timedelta(minutes=5),), disable_after_failures=100)
    clock = [utcnow()]
    with Deliverer(store, keys, policy, clock=lambda: clock[0]) as deliverer:
        first = deliverer.deliver_due()
        assert [a.status for a in first.attempts] == [500]
        assert first.attempts[0].next_attempt_at == clock[0] + timedelta(minutes=5)
        assert deliverer.deliver_due().attempts == []  # not due yet
        clock[0] += timedelta(minutes=5)
        receiver.answers.append(500)
        second = deliverer.deliver_due()
    assert [a.status for a in second.attempts] == [500]
    assert second.attempts[0].next_attempt_at is None  # the schedule is spent
    with store.session() as session:
        [delivery] = list_deliveries(session)
    assert delivery.status is WebhookDeliveryStatus.FAILED
    assert len(receiver.received) == 2


def test_redelivery_posts_again_under_the_same_id(store: Store, receiver: Receiver) -> None:
    keys = new_keys()
    endpoint = add(store, keys, receiver.url, "run.failed")
    [message_id] = _queue(store)
    receiver.answers.extend([500] * 5)
    with Deliverer(store, keys, RetryPolicy(delays=(), disable_after_failures=100)) as deliverer:
        deliverer.deliver_due()
        with store.session() as session:
            [delivery] = list_deliveries(session)
        assert delivery.status is WebhookDeliveryStatus.FAILED
        receiver.answers.clear()
        result = deliverer.redeliver(delivery.id)
        with pytest.raises(DeliveryError, match="no webhook delivery 999"):
            deliverer.redeliver(999)
    assert result.delivered
    assert [r.webhook_id for r in receiver.received] == [message_id, message_id]
    verified(receiver.received[-1], endpoint.secret)
    with store.session() as session:
        [delivery] = list_deliveries(session)
        assert delivery.status is WebhookDeliveryStatus.DELIVERED
        assert len(attempts_of(session, delivery.id)) == 2


def test_an_endpoint_failing_for_long_is_disabled_and_an_event_says_so(
    store: Store, receiver: Receiver, closed_url: str
) -> None:
    keys = new_keys()
    dead = add(store, keys, closed_url + "?token=receiver-secret", "run.failed")
    watcher = add(store, keys, receiver.url, "event.opened")
    _queue(store, 2)
    with Deliverer(store, keys, FAST, report_team="Ops") as deliverer:
        report = deliverer.deliver_due()
    to_dead = [a for a in report.attempts if a.endpoint_id == dead.endpoint.id]
    assert len(to_dead) == 3  # FAST: disabled at the 3rd failure in a row
    assert all(a.status is None and "ConnectError" in (a.error or "") for a in to_dead)
    assert [a.endpoint_disabled for a in to_dead] == [False, False, True]
    with store.session() as session:
        row = session.get(WebhookEndpoint, dead.endpoint.id)
        assert row is not None and not row.enabled
        assert "3 failed attempts in a row" in (row.disabled_reason or "")
        event = session.scalars(select(Ticket).where(Ticket.kind == TicketKind.EVENT)).one()
        assert event.team.name == "Ops"
        assert f"Webhook endpoint {dead.endpoint.id}" in event.subject
        assert "receiver-secret" not in event.subject + event.description
        pending = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.endpoint_id == dead.endpoint.id)
        ).all()
    # Its deliveries wait, not posted while it is disabled.
    assert {d.status for d in pending} == {WebhookDeliveryStatus.PENDING}
    # The event that reports it is itself a webhook, to the endpoints that take it.
    [request] = receiver.wait_for(1)
    opened = verified(request, watcher.secret)
    assert opened["type"] == "event.opened"
    assert opened["data"]["cause"] == "webhook"
    assert opened["data"]["ticket_id"] == event.id
    assert "subject" not in opened["data"]


def test_send_test_posts_once_and_is_not_retried(
    store: Store, receiver: Receiver, closed_url: str
) -> None:
    keys = new_keys()
    good = add(store, keys, receiver.url, "run.failed")
    bad = add(store, keys, closed_url, "run.failed")
    with Deliverer(store, keys, FAST) as deliverer:
        ok = deliverer.send_test(good.endpoint.id)
        failed = deliverer.send_test(bad.endpoint.id)
        assert deliverer.deliver_due().attempts == []  # a failed test is not retried
        with pytest.raises(DeliveryError, match="no webhook endpoint 99"):
            deliverer.send_test(99)
    assert ok.delivered and not failed.delivered
    [request] = receiver.received
    assert verified(request, good.secret)["type"] == "webhook.test"
    with store.session() as session:
        row = session.get(WebhookEndpoint, bad.endpoint.id)
        assert row is not None and row.enabled and row.failures == 0


def test_two_instances_never_post_the_same_attempt(
    store: Store, receiver: Receiver, database_url: str
) -> None:
    keys = new_keys()
    add(store, keys, receiver.url, "run.failed")
    ids = _queue(store, 40)
    receiver.delay = 0.01  # the two overlap
    other = Store(database_url, store.blobs.root)
    start = threading.Barrier(2)
    reports = []

    def work(instance: Store) -> None:
        with Deliverer(instance, keys, FAST) as deliverer:
            start.wait()
            reports.append(deliverer.deliver_due())

    try:
        threads = [threading.Thread(target=work, args=(s,)) for s in (store, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        other.dispose()
    assert sorted(r.webhook_id for r in receiver.received) == sorted(ids)
    assert sum(len(r.attempts) for r in reports) == 40
    with store.session() as session:
        assert session.query(WebhookAttempt).count() == 40


def test_redelivery_waits_for_an_attempt_in_flight(store: Store, receiver: Receiver) -> None:
    keys = new_keys()
    add(store, keys, receiver.url, "run.failed")
    _queue(store)
    with Deliverer(store, keys, FAST) as other, Deliverer(store, keys, FAST) as this:
        [claimed] = other._claim()  # another instance, between its claim and its answer
        with pytest.raises(DeliveryError, match="is being posted right now"):
            this.redeliver(claimed.delivery_id)
        assert other._post(claimed).delivered
        assert this.redeliver(claimed.delivery_id).delivered
    assert len(receiver.received) == 2
