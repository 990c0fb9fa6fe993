"""When a failed delivery is tried again, and when an endpoint is disabled.

The rule, as the README states it: a delivery is tried at once, then after
5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h (8 attempts over about 28 hours,
the schedule of Svix, the scheme's authors); after the last it is marked failed
(and can be redelivered by hand). An endpoint is disabled, and an infrastructure
event opened, once every attempt to it has failed for 24 hours and at least 8
attempts in a row failed: one slow night of a receiver does not disable it, a
receiver gone for good does. Any success resets the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    # The waits after the 1st, 2nd, ... failed attempt; one attempt more than waits.
    delays: tuple[timedelta, ...] = _SCHEDULE
    disable_after: timedelta = timedelta(hours=24)
    disable_after_failures: int = 8
    timeout: float = 15.0  # seconds for one POST: connect, send, answer
    # How long an instance may hold a delivery it is posting before another may take
    # it (it crashed): well above the timeout.
    lease: timedelta = timedelta(minutes=5)

    def next_attempt(self, attempts: int, now: datetime) -> datetime | None:
        """When to try again after `attempts` failed attempts; None: give up."""
        if attempts > len(self.delays):
            return None
        return now + self.delays[attempts - 1]

    def disables(self, failing_since: datetime | None, failures: int, now: datetime) -> bool:
        if failing_since is None:
            return False
        return failures >= self.disable_after_failures and now - failing_since >= self.disable_after


DEFAULT_POLICY = RetryPolicy()

__all__ = ["DEFAULT_POLICY", "RetryPolicy"]
