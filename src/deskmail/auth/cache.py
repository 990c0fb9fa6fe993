"""Where a job's tokens are kept between token calls.

A delegated sign-in's cache (msal's serialized cache, or Authlib's token) is
JSON holding a refresh token: it lives in the database, sealed with the secret
key (keys.py), and never leaves this module unsealed except to the token source
that owns it. An application's (client credentials) holds no refresh token,
only access tokens that any run can ask for again: it stays in the memory of
the process, so an app-only run needs neither the database row nor the
sealing (`cryptography`, about 8 MiB of a Graph run's memory; README
"Performance").
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

from deskmail.store.engine import Store
from deskmail.store.models import OAuthTokenCache, utcnow

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet


# One lock per cache in this process: the IDLE watcher and the job's run may both renew,
# and a refresh token spent twice is refused once it has rotated.
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()
# App-only caches (ProcessTokenCache), by store and job, as the locks.
_HELD: dict[str, str] = {}


def _lock_for(key: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.Lock())


class CacheUnreadable(Exception):
    """The stored cache was sealed with a key that is no longer configured."""


class TokenCache(Protocol):
    """What a token source keeps its serialized cache in."""

    @property
    def lock(self) -> threading.Lock: ...

    def load(self) -> str | None: ...

    def save(self, serialized: str) -> None: ...


class ProcessTokenCache:
    """An app-only job's tokens, held by this process for as long as it runs (a daemon
    spends one access token over many runs; run-once asks for one per run)."""

    def __init__(self, store: Store, job: str) -> None:
        self._key = f"{store.url}\0{job}"

    @property
    def lock(self) -> threading.Lock:
        return _lock_for(self._key)

    def load(self) -> str | None:
        return _HELD.get(self._key)

    def save(self, serialized: str) -> None:
        _HELD[self._key] = serialized


class StoredTokenCache:
    """Load and save one job's sealed cache, each save in its own transaction."""

    def __init__(self, store: Store, job: str, keys: MultiFernet) -> None:
        self._store = store
        self._job = job
        self._keys = keys

    @property
    def lock(self) -> threading.Lock:
        """Held around load, token call and save, so this process renews one at a time."""
        return _lock_for(f"{self._store.url}\0{self._job}")

    def load(self) -> str | None:
        """The cache's JSON, or None before the first sign-in."""
        from cryptography.fernet import InvalidToken

        with self._store.session() as session:
            row = session.get(OAuthTokenCache, self._job)
            sealed = row.sealed if row is not None else None
        if sealed is None:
            return None
        try:
            return self._keys.decrypt(sealed.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise CacheUnreadable(
                f'the token cache of job "{self._job}" was sealed with another key than the'
                " configured ones (DESKMAIL_SECRET_KEY or the key file): add the old key after"
                " the new one, or sign in again"
            ) from None

    def save(self, serialized: str) -> None:
        sealed = self._keys.encrypt(serialized.encode("utf-8")).decode("ascii")
        with self._store.transaction() as session:
            row = session.get(OAuthTokenCache, self._job)
            if row is None:
                session.add(OAuthTokenCache(job=self._job, sealed=sealed))
            else:
                row.sealed = sealed
                row.updated_at = utcnow()

    def forget(self) -> None:
        with self._store.transaction() as session:
            row = session.get(OAuthTokenCache, self._job)
            if row is not None:
                session.delete(row)
