"""The web sign-ins under way: "Sign in with Microsoft" started, its answer not yet back.

Each is kept in this process, under the state its authorization URL carries, for a few
minutes and for one use: the answer (posted back by the identity provider) is matched
to it by that state alone, which nobody else knows. The flow holds the PKCE verifier:
it never leaves the server.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

SIGN_IN_MINUTES = 10  # how long a started sign-in waits for its answer
_LIMIT = 100  # sign-ins under way at once; the oldest give way


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    job: str
    started_by: str  # the administrator who started it
    flow: dict[str, Any]  # msal's authorization-code flow (state, PKCE verifier, nonce)
    started: float  # time.monotonic()


class PendingSignIns:
    def __init__(self) -> None:
        self._pending: dict[str, PendingSignIn] = {}
        self._lock = threading.Lock()

    def add(self, job: str, started_by: str, flow: dict[str, Any]) -> None:
        with self._lock:
            self._expire()
            while len(self._pending) >= _LIMIT:
                self._pending.pop(next(iter(self._pending)))
            self._pending[str(flow["state"])] = PendingSignIn(
                job, started_by, flow, time.monotonic()
            )

    def take(self, state: str) -> PendingSignIn | None:
        """The sign-in this state names, once; None if unknown or expired."""
        with self._lock:
            self._expire()
            return self._pending.pop(state, None)

    def _expire(self) -> None:
        oldest = time.monotonic() - SIGN_IN_MINUTES * 60
        for state in [s for s, pending in self._pending.items() if pending.started < oldest]:
            del self._pending[state]
