"""What a webhook delivery attempt came to: its result, a run's report of them, and the
error of a test or redelivery that cannot be made.

Apart from delivery.py (httpx, the outbox's claims) so that the web UI and the
command line can name these without loading the HTTP client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


class DeliveryError(Exception):
    """A send test or redelivery that cannot be made; the message says why."""


@dataclass(frozen=True, slots=True)
class AttemptResult:
    delivery_id: int
    message_id: str  # the webhook-id
    endpoint_id: int
    status: int | None  # the receiver's HTTP status; None when it did not answer
    error: str | None  # why it failed: a status, a timeout, a refused connection...
    duration_ms: int
    next_attempt_at: datetime | None = None  # when it is tried again, if it failed
    endpoint_disabled: bool = False  # this failure disabled the endpoint

    @property
    def delivered(self) -> bool:
        return self.error is None


@dataclass
class DeliveryReport:
    attempts: list[AttemptResult] = field(default_factory=list)

    @property
    def delivered(self) -> int:
        return sum(1 for attempt in self.attempts if attempt.delivered)

    @property
    def failed(self) -> int:
        return len(self.attempts) - self.delivered
