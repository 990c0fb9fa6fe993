"""Microsoft's per-mailbox limits, kept on our side so a backlog never trips them.

Graph evaluates Outlook limits per app and mailbox: at most 4 concurrent
requests, and 10,000 requests in any 10 minutes (every request of a $batch
counts on its own). The pacer keeps a sliding window of what was sent; the
concurrency limit is a semaphore held for the whole exchange. Both live as
long as the process, per mailbox, so a daemon's passes share them; a new
process starts with an empty window, and the Retry-After of a 429 covers what
an earlier process spent.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True, slots=True)
class Budget:
    requests: int  # at most this many requests ...
    seconds: float  # ... in any window of this length
    concurrent: int = 4


MICROSOFT_BUDGET = Budget(requests=10_000, seconds=600.0)
# A request is counted when the server receives it, a moment after we send it:
# the window we keep is this much longer than the server's (6 s of Microsoft's 600).
_MARGIN_SHARE = 0.01
_MARGIN_MIN_SECONDS = 0.25


class Pacer:
    """Waits before a request that would take the window past its budget."""

    def __init__(
        self,
        budget: Budget,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._budget = budget
        self._window = budget.seconds + max(_MARGIN_MIN_SECONDS, budget.seconds * _MARGIN_SHARE)
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()
        self.waited = 0.0  # seconds spent waiting, for the benchmark

    def spend(self, count: int = 1) -> None:
        """Blocks until `count` requests fit in the window, then books them."""
        count = min(count, self._budget.requests)
        with self._lock:  # held while waiting: every other request waits for budget too
            while True:
                now = self._clock()
                while self._sent and self._sent[0] <= now - self._window:
                    self._sent.popleft()
                over = len(self._sent) + count - self._budget.requests
                if over <= 0:
                    self._sent.extend([now] * count)
                    return
                # The window has room once the `over` oldest requests have left it.
                wait = self._sent[over - 1] + self._window - now
                self.waited += wait
                self._sleep(wait)


class MailboxLimits:
    """The concurrency slots and the pacer of one mailbox, shared by every job and pass
    of this process that reads it (Graph counts per app and mailbox, not per pass)."""

    def __init__(self, budget: Budget) -> None:
        self.slots = threading.BoundedSemaphore(budget.concurrent)
        self.pacer = Pacer(budget)


_limits: dict[tuple[str, str, Budget], MailboxLimits] = {}
_limits_lock = threading.Lock()


def limits_for(server: str, mailbox: str, budget: Budget) -> MailboxLimits:
    """The process-wide limits of `mailbox` on `server`: a daemon's next pass keeps
    counting where the last one left off."""
    key = (server, mailbox.casefold(), budget)
    with _limits_lock:
        found = _limits.get(key)
        if found is None:
            found = _limits[key] = MailboxLimits(budget)
        return found


def retry_after(value: str | None, default: float = 5.0) -> float:
    """Seconds to wait, from a Retry-After header in seconds or as an HTTP date."""
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
