"""The web sign-ins under way: "Sign in with Microsoft" started, its answer not yet back.

Each is kept in the database (store.models.PendingSignIn), so with several front ends
behind one address the identity provider's answer may land on any of them. It is found
by the state its authorization URL carries (kept as a hash), for ten minutes and for one
use: the answer is matched to it by that state alone, which nobody else knows. The flow
holds the PKCE verifier: it is sealed with the secret key (as the token caches are) and
never leaves the server.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, delete, select

from deskmail.store.engine import Store
from deskmail.store.models import PendingSignIn as PendingRow
from deskmail.store.models import utcnow

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

SIGN_IN_MINUTES = 10  # how long a started sign-in waits for its answer


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    job: str
    started_by: str  # the administrator who started it
    flow: dict[str, Any]  # the authorization-code flow (state, PKCE verifier, nonce)


class PendingSignIns:
    def __init__(self, store: Store, keys: Callable[[], MultiFernet]) -> None:
        self._store = store
        self._keys = keys  # read when used: SecretKeyError names a key that cannot be used

    def add(self, job: str, started_by: str, flow: dict[str, Any]) -> None:
        sealed = self._keys().encrypt(json.dumps(flow).encode()).decode("ascii")
        now = utcnow()
        with self._store.transaction() as session:
            session.execute(delete(PendingRow).where(PendingRow.expires_at <= now))
            session.add(
                PendingRow(
                    state_hash=_hash(str(flow["state"])),
                    job=job,
                    started_by=started_by,
                    sealed=sealed,
                    expires_at=now + timedelta(minutes=SIGN_IN_MINUTES),
                )
            )

    def take(self, state: str) -> PendingSignIn | None:
        """The sign-in this state names, once, whichever front end started it; None if
        unknown, expired, already taken, or sealed with a key no longer configured."""
        from cryptography.fernet import InvalidToken

        key = _hash(state)
        with self._store.transaction() as session:
            row = session.scalar(
                select(PendingRow).where(
                    PendingRow.state_hash == key, PendingRow.expires_at > utcnow()
                )
            )
            if row is None:
                return None
            job, started_by, sealed = row.job, row.started_by, row.sealed
            # Whoever deletes the row takes the sign-in: two answers racing get it once.
            taken = cast(
                CursorResult[Any],
                session.execute(delete(PendingRow).where(PendingRow.state_hash == key)),
            )
        if taken.rowcount != 1:
            return None
        try:
            flow = json.loads(self._keys().decrypt(sealed.encode("ascii")))
        except InvalidToken:
            return None
        return PendingSignIn(job, started_by, flow)


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()
