"""Where a job's tokens are kept between token calls.

A delegated sign-in's cache (msal's serialized cache, or Authlib's token) is
JSON holding a refresh token: it lives in the database, sealed with the secret
key (keys.py), and never leaves this module unsealed except to the token source
that owns it. An application's (client credentials) holds no refresh token,
only access tokens that any run can ask for again: it stays in the memory of
the process, so an app-only run needs neither the database row nor the
sealing (`cryptography`, heavy in a Graph run's memory; README
"Performance").
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import text
from sqlalchemy.orm import Session

from deskmail.store.engine import Store
from deskmail.store.models import OAuthTokenCache, utcnow

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet


# One lock per cache in this process: the IDLE watcher and the job's run may both renew,
# and a refresh token spent twice is refused once it has rotated. The database lock
# (renewing) does the same between processes and hosts.
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

    def renewing(self) -> AbstractContextManager[None]:
        """Held around a token call that may spend a refresh token, and its save."""
        ...


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

    @contextmanager
    def renewing(self) -> Iterator[None]:
        with self.lock:  # no refresh token to spend: no other process to wait for
            yield


class StoredTokenCache:
    """Load and save one job's sealed cache, each save in its own transaction."""

    def __init__(self, store: Store, job: str, keys: MultiFernet) -> None:
        self._store = store
        self._job = job
        self._keys = keys
        self._held = threading.local()  # the renewing transaction, in the thread that holds it

    @property
    def lock(self) -> threading.Lock:
        """This process's lock on the cache: enough to read it; renewing also locks the database."""
        return _lock_for(f"{self._store.url}\0{self._job}")

    @contextmanager
    def renewing(self) -> Iterator[None]:
        """Held around load, token call and save: one renewal of this cache at a time, among
        the threads of this process and among processes and hosts. PostgreSQL: an advisory
        transaction lock on the cache's name; SQLite: the write lock (BEGIN IMMEDIATE).
        Loads and saves in the block go through that transaction, committed at its end."""
        with self.lock, self._store.transaction() as session:
            if self._store.is_postgresql:
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": self._key()})
            else:
                session.connection()  # begins now: BEGIN IMMEDIATE waits for the write lock
            self._held.session = session
            try:
                yield
            finally:
                self._held.session = None

    def _key(self) -> int:
        digest = hashlib.sha256(f"deskmail oauth2 cache\0{self._job}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    @contextmanager
    def _session(self, write: bool) -> Iterator[Session]:
        held: Session | None = getattr(self._held, "session", None)
        if held is not None:
            yield held
        elif write:
            with self._store.transaction() as session:
                yield session
        else:
            with self._store.session() as session:
                yield session

    def load(self) -> str | None:
        """The cache's JSON, or None before the first sign-in."""
        with self._session(write=False) as session:
            row = session.get(OAuthTokenCache, self._job)
            sealed = row.sealed if row is not None else None
        if sealed is None:
            return None
        return _opened(self._keys, sealed, self._job)

    def save(self, serialized: str) -> None:
        sealed = self._keys.encrypt(serialized.encode("utf-8")).decode("ascii")
        with self._session(write=True) as session:
            row = session.get(OAuthTokenCache, self._job)
            if row is None:
                session.add(OAuthTokenCache(job=self._job, sealed=sealed))
            else:
                row.sealed = sealed
                row.updated_at = utcnow()
            session.flush()

    def forget(self) -> None:
        with self._store.transaction() as session:
            row = session.get(OAuthTokenCache, self._job)
            if row is not None:
                session.delete(row)


def reseal_token_caches(store: Store, keys: MultiFernet) -> int:
    """Seal every job's token cache again with the first key (after a key rotation)."""
    from sqlalchemy import select

    count = 0
    with store.transaction() as session:
        for row in session.scalars(select(OAuthTokenCache)):
            _opened(keys, row.sealed, row.job)  # names the job a lost key sealed
            row.sealed = keys.rotate(row.sealed.encode("ascii")).decode("ascii")
            count += 1
    return count


def _opened(keys: MultiFernet, sealed: str, job: str) -> str:
    from cryptography.fernet import InvalidToken

    try:
        return keys.decrypt(sealed.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise CacheUnreadable(
            f'the token cache of job "{job}" was sealed with another key than the'
            " configured ones (DESKMAIL_SECRET_KEY or the key file): add the old key after"
            " the new one, or sign in again"
        ) from None
