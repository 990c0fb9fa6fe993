"""Webhook endpoints and their delivery log as text (`deskmail webhooks ...`)."""

from __future__ import annotations

from datetime import datetime

from deskmail.report.text import cut
from deskmail.webhooks.attempts import AttemptResult
from deskmail.webhooks.endpoints import EndpointView, NewEndpoint
from deskmail.webhooks.log import AttemptView, DeliveryView


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}" if moment is not None else "-"


def render_new(new: NewEndpoint) -> str:
    endpoint = new.endpoint
    return "\n".join(
        [
            f"webhook endpoint {endpoint.id}: {endpoint.url}",
            f"  events: {' '.join(endpoint.kinds)}",
            f"  secret: {new.secret}",
            "The secret is shown this once: give it to the receiver, which verifies the"
            " webhook-signature header with it (Standard Webhooks).",
        ]
    )


def render_endpoints(endpoints: list[EndpointView]) -> str:
    if not endpoints:
        return "no webhook endpoints"
    lines = []
    for endpoint in endpoints:
        state = "enabled" if endpoint.enabled else "disabled"
        if endpoint.failures:
            state += f", {endpoint.failures} failed in a row since {_when(endpoint.failing_since)}"
        subject = ", with subjects" if endpoint.include_subject else ""
        lines.append(f"{endpoint.id:>4}  {endpoint.url}  ({state}{subject})")
        lines.append(f"      events: {' '.join(endpoint.kinds)}")
        if endpoint.description:
            lines.append(f"      {endpoint.description}")
        if endpoint.disabled_reason and not endpoint.enabled:
            lines.append(f"      {endpoint.disabled_reason}")
    return "\n".join(lines)


def render_deliveries(deliveries: list[DeliveryView]) -> str:
    if not deliveries:
        return "no webhook deliveries"
    lines = [
        f"{'id':>6} {'endpoint':>8}  {'event':<20} {'status':<9} {'tries':>5}  "
        f"{'queued (UTC)':<19}  last answer"
    ]
    for delivery in deliveries:
        last = _answer(delivery.last) if delivery.last is not None else "-"
        if delivery.next_attempt_at is not None and delivery.attempts:
            last += f"; next try {_when(delivery.next_attempt_at)}"
        lines.append(
            f"{delivery.id:>6} {delivery.endpoint_id:>8}  {delivery.kind:<20}"
            f" {delivery.status.value:<9} {delivery.attempts:>5}  {_when(delivery.created_at)}"
            f"  {cut(last, 80)}"
        )
    return "\n".join(lines)


def render_delivery(delivery: DeliveryView, attempts: list[AttemptView]) -> str:
    lines = [
        f"delivery {delivery.id}: {delivery.kind} to endpoint {delivery.endpoint_id},"
        f" {delivery.status.value}",
        f"  webhook-id: {delivery.message_id}",
        f"  queued:     {_when(delivery.created_at)} UTC",
    ]
    if delivery.next_attempt_at is not None:
        lines.append(f"  next try:   {_when(delivery.next_attempt_at)} UTC")
    for attempt in attempts:
        lines += [
            "",
            f"attempt at {_when(attempt.attempted_at)} UTC, {attempt.duration_ms} ms:"
            f" {_answer(attempt)}",
            f"  POST {attempt.url}",
            *(f"  {name}: {value}" for name, value in attempt.request_headers.items()),
        ]
        if attempt.response_body:
            lines += ["  answer:", *(f"    {line}" for line in attempt.response_body.splitlines())]
    return "\n".join(lines)


def render_attempt(result: AttemptResult) -> str:
    outcome = "delivered" if result.delivered else f"failed: {result.error}"
    text = (
        f"delivery {result.delivery_id} ({result.message_id}) to endpoint {result.endpoint_id}:"
        f" {outcome} in {result.duration_ms} ms"
    )
    if result.next_attempt_at is not None:
        text += f"; tried again at {_when(result.next_attempt_at)} UTC"
    if result.endpoint_disabled:
        text += f"; endpoint {result.endpoint_id} is now disabled (an event reports it)"
    return text


def _answer(attempt: AttemptView) -> str:
    if attempt.error is not None and attempt.response_status is None:
        return attempt.error
    return f"HTTP {attempt.response_status}"


__all__ = [
    "render_attempt",
    "render_deliveries",
    "render_delivery",
    "render_endpoints",
    "render_new",
]
