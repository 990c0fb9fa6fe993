"""One instance works a job at a time, across hosts sharing one PostgreSQL database.

Running a job twice at once is already safe (the intake journal's unique key
decides), but it doubles the IMAP sessions and the work. A session-level
advisory lock per job, held on a connection of its own for as long as the
worker owns the job, makes the other instances wait; if the owner dies, its
connection closes and PostgreSQL frees the lock. SQLite is one host: an
exclusive lock on a file beside the database does the same between the
processes of that host (serve, run-once from cron); the kernel frees it when
its owner dies.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import BinaryIO, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from deskmail.store.engine import Store, sqlite_file

try:
    import fcntl
except ImportError:  # not POSIX: SQLite jobs go unlocked, as before
    fcntl = None  # type: ignore[assignment]

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
    """No file to lock beside (an in-memory SQLite database): the job is always ours."""

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


class FileLock:
    """SQLite: flock on a file of the job's own, held open while the job is owned."""

    def __init__(self, path: Path, job_name: str) -> None:
        self._path = path
        self._job = job_name
        self._file: BinaryIO | None = None

    def acquire(self) -> bool:
        if self._file is not None:
            return True
        try:
            file = open(self._path, "ab")  # noqa: SIM115 - held open while the job is owned
        except OSError as exc:
            log.warning("job %s: cannot open the job lock %s: %s", self._job, self._path, exc)
            return False
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # another process (or worker) owns the job
            file.close()
            return False
        self._file = file
        return True

    def held(self) -> bool:
        return self._file is not None

    def release(self) -> None:
        file, self._file = self._file, None
        if file is not None:
            file.close()  # closing lets go of the lock


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
        database = sqlite_file(store.engine.url)
        self._lock_files = database.parent if database is not None and fcntl else None
        self._lock_prefix = database.name if database is not None else ""
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
        if self._engine is not None:
            return AdvisoryLock(self._engine, job_name)
        if self._lock_files is not None:
            # Named by the key: any job name makes a safe file name.
            name = f"{self._lock_prefix}.job-{lock_key(job_name) & (2**64 - 1):016x}.lock"
            return FileLock(self._lock_files / name, job_name)
        return LocalLock()

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
