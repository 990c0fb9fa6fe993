"""Posting the outbox after the commit: signed, retried under the same id, logged.

Each delivery (one message to one endpoint) is *claimed* in a short transaction:
its next_attempt_at moves a lease ahead (policy.lease), so no other instance
takes it while this one posts, and nothing is held locked during the POST. On
PostgreSQL the claim reads with FOR UPDATE SKIP LOCKED, so instances claiming
at the same moment take different rows; on SQLite the claim runs under the
single write lock. An instance that dies while posting leaves the lease to run
out: the delivery is then posted again under its webhook-id, which receivers
de-duplicate on. The answer is written in a second short transaction: the
attempt's log row, then the delivery delivered, scheduled again or failed, and
the endpoint's failure count (policy.py says when it is disabled).

Imported by `deskmail serve` (daemon/webhooks.py, once something is due) and
`deskmail webhooks`: httpx and cryptography stay out of a run-once.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail import __version__
from deskmail.apply.events import webhook_endpoint_disabled
from deskmail.config.models import DeskmailConfig
from deskmail.store.engine import Store
from deskmail.store.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookMessage,
    utcnow,
)
from deskmail.webhooks.attempts import AttemptResult, DeliveryError, DeliveryReport
from deskmail.webhooks.endpoints import EndpointError, unseal_secret
from deskmail.webhooks.outbox import queue_webhook
from deskmail.webhooks.payloads import EndpointTest, body
from deskmail.webhooks.policy import DEFAULT_POLICY, RetryPolicy
from deskmail.webhooks.signing import signed_headers

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

log = logging.getLogger(__name__)

RESPONSE_KEPT = 2000  # characters of a receiver's answer kept in the log
CLAIM_BATCH = 20  # deliveries claimed per transaction
USER_AGENT = f"deskmail-webhooks/{__version__}"


@dataclass(frozen=True, slots=True)
class _Claimed:
    """What a POST needs, read in the claim's transaction."""

    delivery_id: int
    endpoint_id: int
    attempts: int  # including this one
    message_id: str
    url: str
    secret: str
    body: bytes
    probe: bool  # a send test: posted once, not retried, not counted against the endpoint


def _error_of(response: httpx.Response) -> str | None:
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code} {response.reason_phrase}".strip()


def where(url: str) -> str:
    """The scheme, host and port of an endpoint: what logs and events show (a URL's path or
    query may carry a receiver's token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


class Deliverer:
    """Posts due deliveries; one per process (it holds an HTTP connection pool).

    `report_team`, `report_group`: where the event that an endpoint was disabled goes.
    `clock`: the time (tests move it on).
    """

    def __init__(
        self,
        store: Store,
        keys: MultiFernet,
        policy: RetryPolicy = DEFAULT_POLICY,
        *,
        report_team: str = "IT",
        report_group: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._store = store
        self._keys = keys
        self._policy = policy
        self._team = report_team
        self._group = report_group
        self._clock = clock
        self._client = httpx.Client(
            timeout=policy.timeout,
            follow_redirects=False,  # a redirect is an answer to fix, not to follow blindly
            headers={"user-agent": USER_AGENT},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Deliverer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # ---- what the commands call -------------------------------------------------

    def deliver_due(self, should_stop: Callable[[], bool] | None = None) -> DeliveryReport:
        """Post every delivery that is due, retries included, until none is left."""
        report = DeliveryReport()
        while not (should_stop is not None and should_stop()):
            claimed = self._claim()
            if not claimed:
                break
            disabled: set[int] = set()
            for one in claimed:
                if one.endpoint_id in disabled:  # by an attempt of this batch
                    self._release(one)
                    continue
                attempt = self._post(one)
                report.attempts.append(attempt)
                if attempt.endpoint_disabled:
                    disabled.add(one.endpoint_id)
        return report

    def send_test(self, endpoint_id: int) -> AttemptResult:
        """Post a webhook.test event to the endpoint now, enabled or not; once, no retry."""
        with self._store.transaction() as session:
            if session.get(WebhookEndpoint, endpoint_id) is None:
                raise DeliveryError(f"no webhook endpoint {endpoint_id}")
            message_id = queue_webhook(
                session, EndpointTest(endpoint_id, self._clock()), to=endpoint_id
            )
            delivery_id = session.scalars(
                select(WebhookDelivery.id).where(WebhookDelivery.message_id == message_id)
            ).one()
        return self._post_now(delivery_id, probe=True)

    def redeliver(self, delivery_id: int) -> AttemptResult:
        """Post a delivery again now, under its webhook-id, with a fresh retry schedule."""
        with self._store.transaction() as session:
            delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
            if delivery is None:
                raise DeliveryError(f"no webhook delivery {delivery_id}")
            if not delivery.endpoint.enabled:
                raise DeliveryError(
                    f"endpoint {delivery.endpoint_id} is disabled; enable it first"
                    f" (deskmail webhooks enable {delivery.endpoint_id})"
                )
            if self._in_flight(session, delivery):
                raise DeliveryError(
                    f"delivery {delivery_id} is being posted right now; see its answer with"
                    f" deskmail webhooks deliveries {delivery_id}"
                )
            delivery.status = WebhookDeliveryStatus.PENDING
            delivery.attempts = 0
            delivery.next_attempt_at = self._clock()
        return self._post_now(delivery_id, probe=False)

    def _in_flight(self, session: Session, delivery: WebhookDelivery) -> bool:
        """Claimed by an instance whose answer is not logged yet, and its lease still runs."""
        claimed = delivery.last_attempt_at
        if delivery.status is not WebhookDeliveryStatus.PENDING or claimed is None:
            return False
        if claimed + self._policy.lease <= self._clock():
            return False
        logged = session.scalars(
            select(WebhookAttempt.id).where(
                WebhookAttempt.delivery_id == delivery.id, WebhookAttempt.attempted_at >= claimed
            )
        ).first()
        return logged is None

    # ---- claim, post, record ----------------------------------------------------

    def _post_now(self, delivery_id: int, *, probe: bool) -> AttemptResult:
        claimed = self._claim(only=delivery_id, probe=probe)
        if not claimed:
            raise DeliveryError(f"delivery {delivery_id} is being posted by another instance")
        return self._post(claimed[0])

    def _claim(self, only: int | None = None, *, probe: bool = False) -> list[_Claimed]:
        now = self._clock()
        query = (
            select(WebhookDelivery, WebhookMessage, WebhookEndpoint)
            .join(WebhookMessage, WebhookDelivery.message_id == WebhookMessage.id)
            .join(WebhookEndpoint, WebhookDelivery.endpoint_id == WebhookEndpoint.id)
            .where(
                WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
                WebhookDelivery.next_attempt_at <= now,
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(CLAIM_BATCH)
            # SQLite has no FOR UPDATE: BEGIN IMMEDIATE already made this the only writer.
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        )
        if only is None:
            query = query.where(WebhookEndpoint.enabled.is_(True))
        else:
            query = query.where(WebhookDelivery.id == only)
        claimed = []
        with self._store.transaction() as session:
            for delivery, message, endpoint in session.execute(query):
                delivery.attempts += 1
                delivery.last_attempt_at = now
                delivery.next_attempt_at = now + self._policy.lease
                try:
                    secret = unseal_secret(self._keys, endpoint.secret_sealed)
                except EndpointError as exc:
                    log.error("webhook endpoint %d: %s", endpoint.id, exc)
                    continue  # its lease runs out; a restored key delivers it then
                payload = body(
                    message.kind,
                    message.created_at,
                    message.payload,
                    message.subject,
                    with_subject=endpoint.include_subject,
                    custom_fields=message.fields,
                )
                claimed.append(
                    _Claimed(
                        delivery.id,
                        endpoint.id,
                        delivery.attempts,
                        message.id,
                        endpoint.url,
                        secret,
                        payload,
                        probe,
                    )
                )
        return claimed

    def _release(self, one: _Claimed) -> None:
        """Give a claimed delivery back untried: due again, its attempt not counted."""
        with self._store.transaction() as session:
            delivery = session.get(WebhookDelivery, one.delivery_id, with_for_update=True)
            if delivery is not None:
                delivery.attempts -= 1
                delivery.next_attempt_at = self._clock()

    def _post(self, one: _Claimed) -> AttemptResult:
        headers = {
            "content-type": "application/json",
            **signed_headers(one.secret, one.message_id, int(time.time()), one.body),
        }
        attempted_at = self._clock()
        started = time.monotonic()
        status: int | None = None
        answer: str | None = None
        try:
            with self._client.stream("POST", one.url, content=one.body, headers=headers) as reply:
                status = reply.status_code
                answer = _read_some(reply)
                error = _error_of(reply)
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        duration_ms = int((time.monotonic() - started) * 1000)
        sent = {**headers, "user-agent": USER_AGENT}
        result = self._record(one, attempted_at, sent, status, answer, error, duration_ms)
        if error is not None:
            log.warning(
                "webhook %s to endpoint %d (%s), attempt %d: %s",
                one.message_id,
                one.endpoint_id,
                where(one.url),
                one.attempts,
                error,
            )
        return result

    def _record(
        self,
        one: _Claimed,
        attempted_at: datetime,
        headers: dict[str, str],
        status: int | None,
        answer: str | None,
        error: str | None,
        duration_ms: int,
    ) -> AttemptResult:
        now = self._clock()
        result = AttemptResult(
            one.delivery_id, one.message_id, one.endpoint_id, status, error, duration_ms
        )
        with self._store.transaction() as session:
            delivery = session.get(WebhookDelivery, one.delivery_id, with_for_update=True)
            if delivery is None:  # its endpoint was removed meanwhile
                return result
            session.add(
                WebhookAttempt(
                    delivery_id=one.delivery_id,
                    attempted_at=attempted_at,
                    url=one.url,
                    request_headers=json.dumps(headers),
                    response_status=status,
                    response_body=answer,
                    duration_ms=duration_ms,
                    error=error,
                )
            )
            if error is None:
                delivery.status = WebhookDeliveryStatus.DELIVERED
                delivery.delivered_at = now
                delivery.next_attempt_at = now
            elif one.probe:
                delivery.status = WebhookDeliveryStatus.FAILED
                delivery.next_attempt_at = now
            else:
                again = self._policy.next_attempt(delivery.attempts, now)
                delivery.status = (
                    WebhookDeliveryStatus.FAILED if again is None else WebhookDeliveryStatus.PENDING
                )
                delivery.next_attempt_at = again or now
            disabled = False if one.probe else self._count(session, one, error, now)
            return AttemptResult(
                one.delivery_id,
                one.message_id,
                one.endpoint_id,
                status,
                error,
                duration_ms,
                delivery.next_attempt_at
                if delivery.status is WebhookDeliveryStatus.PENDING
                else None,
                disabled,
            )

    def _count(self, session: Session, one: _Claimed, error: str | None, now: datetime) -> bool:
        """The endpoint's run of failures; True when this one disabled it."""
        endpoint = session.get(WebhookEndpoint, one.endpoint_id, with_for_update=True)
        if endpoint is None:
            return False
        if error is None:
            endpoint.failing_since, endpoint.failures = None, 0
            return False
        endpoint.failing_since = endpoint.failing_since or now
        endpoint.failures += 1
        if not endpoint.enabled or not self._policy.disables(
            endpoint.failing_since, endpoint.failures, now
        ):
            return False
        endpoint.enabled = False
        endpoint.disabled_reason = (
            f"disabled at {now:%Y-%m-%d %H:%M} UTC after {endpoint.failures} failed attempts"
            f" in a row since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC; the last: {error}"
        )
        log.error(
            "webhook endpoint %d (%s) %s",
            endpoint.id,
            where(endpoint.url),
            endpoint.disabled_reason,
        )
        webhook_endpoint_disabled(
            session,
            self._team,
            self._group,
            endpoint.id,
            where(endpoint.url),
            endpoint.disabled_reason,
            now,
        )
        return True


def deliverer_for(
    store: Store, config: DeskmailConfig, policy: RetryPolicy = DEFAULT_POLICY
) -> Deliverer:
    """A Deliverer with the configuration's secret key; the event that an endpoint was
    disabled goes to the first job's team and error group. Raises SecretKeyError."""
    from deskmail.store.sealing import key_file_for, sealing_keys

    first = config.jobs[0] if config.jobs else None
    return Deliverer(
        store,
        sealing_keys(key_file_for(config.source_file)),
        policy,
        report_team=first.team if first else "IT",
        report_group=(first.error_group or first.group) if first else None,
    )


def _read_some(reply: httpx.Response) -> str:
    """The start of the answer: a receiver's error page is for the log, not kept whole."""
    kept = bytearray()
    for chunk in reply.iter_bytes():
        kept += chunk
        if len(kept) >= RESPONSE_KEPT * 4:  # UTF-8: at most 4 bytes a character
            break
    return kept.decode("utf-8", "replace")[:RESPONSE_KEPT]


__all__ = [
    "AttemptResult",
    "Deliverer",
    "DeliveryError",
    "DeliveryReport",
    "deliverer_for",
    "where",
]
