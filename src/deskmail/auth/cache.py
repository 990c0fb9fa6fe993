"""A job's token cache in the database, sealed with the secret key (keys.py).

msal's serialized cache (or Authlib's token) is JSON holding refresh tokens:
it never leaves this module unsealed except to the token source that owns it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from deskmail.store.engine import Store
from deskmail.store.models import OAuthTokenCache, utcnow

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet


# One lock per cache in this process: the IDLE watcher and the job's run may both renew,
# and a refresh token spent twice is refused once it has rotated.
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


class CacheUnreadable(Exception):
    """The stored cache was sealed with a key that is no longer configured."""


class StoredTokenCache:
    """Load and save one job's sealed cache, each save in its own transaction."""

    def __init__(self, store: Store, job: str, keys: MultiFernet) -> None:
        self._store = store
        self._job = job
        self._keys = keys

    @property
    def lock(self) -> threading.Lock:
        """Held around load, token call and save, so this process renews one at a time."""
        with _LOCKS_GUARD:
            return _LOCKS.setdefault(f"{self._store.url}\0{self._job}", threading.Lock())

    def load(self) -> str | None:
        """The cache's JSON, or None before the first sign-in."""
        with self._store.session() as session:
            row = session.get(OAuthTokenCache, self._job)
            sealed = row.sealed if row is not None else None
        if sealed is None:
            return None
        return _opened(self._keys, sealed, self._job)

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
