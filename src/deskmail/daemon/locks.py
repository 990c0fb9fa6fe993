"""One instance works a job at a time, across hosts sharing one PostgreSQL database.

Running a job twice at once is already safe (the intake journal's unique key
decides), but it doubles the IMAP sessions and the work. A session-level
advisory lock per job, held on a connection of its own for as long as the
worker owns the job, makes the other instances wait; if the owner dies, its
connection closes and PostgreSQL frees the lock. SQLite is one host, one
process: no lock is needed.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from deskmail.store.engine import Store

log = logging.getLogger("deskmail.daemon.locks")

# TCP keepalive on the lock connection: a vanished database host is noticed
# in about a minute instead of the system default of two hours.
_KEEPALIVE = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


class JobLock(Protocol):
    def acquire(self) -> bool:
        """Take the job if no one else has it; True when this instance owns it now."""
        ...

    def held(self) -> bool:
        """Still owned (the lock's connection is alive)?"""
        ...

    def release(self) -> None: ...


class LocalLock:
    """SQLite: a single host, so the job is always ours."""

    def acquire(self) -> bool:
        return True

    def held(self) -> bool:
        return True

    def release(self) -> None:
        pass


def lock_key(job_name: str) -> int:
    """A stable signed 64-bit key for the job (advisory locks take a bigint)."""
    digest = hashlib.blake2b(f"deskmail job {job_name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryLock:
    """pg_try_advisory_lock on a dedicated connection, kept open while the job is owned."""

    def __init__(self, engine: Engine, job_name: str) -> None:
        self._engine = engine
        self._job = job_name
        self._key = lock_key(job_name)
        self._connection: Connection | None = None

    def acquire(self) -> bool:
        if self._connection is not None:
            return True
        try:
            # AUTOCOMMIT: the lock belongs to the session, and no transaction
            # is left open ("idle in transaction") for as long as we hold it.
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except SQLAlchemyError as exc:
            log.warning("job %s: cannot reach the database for the job lock: %s", self._job, exc)
            return False
        try:
            got = connection.scalar(sa.select(sa.func.pg_try_advisory_lock(self._key)))
        except SQLAlchemyError as exc:
            log.warning("job %s: cannot take the job lock: %s", self._job, exc)
            got = False
        if got:
            self._connection = connection
            return True
        connection.close()
        return False

    def held(self) -> bool:
        if self._connection is None:
            return False
        try:
            self._connection.execute(sa.text("SELECT 1"))
        except SQLAlchemyError as exc:
            # The session is gone, and the lock with it: another instance may own the job now.
            log.warning(
                "job %s: lost the database connection holding the job lock: %s", self._job, exc
            )
            self._close()
            return False
        return True

    def release(self) -> None:
        if self._connection is None:
            return
        try:
            self._connection.scalar(sa.select(sa.func.pg_advisory_unlock(self._key)))
        except SQLAlchemyError as exc:  # closing the session frees the lock anyway
            log.debug("job %s: unlocking: %s", self._job, exc)
        self._close()

    def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except SQLAlchemyError as exc:
                log.debug("job %s: closing the lock connection: %s", self._job, exc)


class JobLocks:
    """Makes the lock for each job of one store; holds the lock connections' engine."""

    def __init__(self, store: Store) -> None:
        self._engine: Engine | None = None
        if store.is_postgresql:
            # NullPool: each owned job holds one real connection, never shared,
            # and never taken from (or starving) the store's own pool.
            self._engine = sa.create_engine(
                store.engine.url,
                poolclass=NullPool,
                hide_parameters=True,
                connect_args={**_KEEPALIVE, "application_name": "deskmail job lock"},
            )

    def for_job(self, job_name: str) -> JobLock:
        if self._engine is None:
            return LocalLock()
        return AdvisoryLock(self._engine, job_name)

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
