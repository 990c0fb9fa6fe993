"""Waiting longer after each consecutive failure, with jitter, up to a cap."""

from __future__ import annotations

import random

# A failing job: 5 s, 10 s, 20 s, ... up to 10 minutes between attempts.
JOB_BASE = 5.0
JOB_CAP = 600.0


class Backoff:
    """Exponential backoff with "equal jitter".

    The n-th consecutive failure waits between d/2 and d, where
    d = min(cap, base * 2**(n-1)). Half of the wait is random, so instances
    that failed together (the server went down) do not retry together; the
    other half is fixed, so each wait is at least as long as the one before.
    """

    def __init__(self, base: float, cap: float, rng: random.Random | None = None) -> None:
        if not 0 < base <= cap:
            raise ValueError("need 0 < base <= cap")
        self.base = base
        self.cap = cap
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """Count one more failure; the seconds to wait before the next attempt."""
        self.failures += 1
        ceiling = self.base * 2.0 ** min(self.failures - 1, 64)  # min(): no float overflow
        delay = min(self.cap, ceiling)
        return delay / 2 + self._rng.uniform(0.0, delay / 2)

    def reset(self) -> None:
        """A success: the next failure starts again from the base delay."""
        self.failures = 0
