"""One instance works a job at a time, across hosts sharing one PostgreSQL database.

Running a job twice at once is already safe (the intake journal's unique key
decides), but it doubles the IMAP sessions and the work. A session-level
advisory lock per job, held for as long as the worker owns the job on one
connection that holds all of the instance's job locks, makes the other
instances wait; if the owner dies, its connection closes and PostgreSQL
frees the locks. SQLite is one host: an
exclusive lock on a file beside the database does the same between the
processes of that host (serve, run-once from cron); the kernel frees it when
its owner dies.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
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

# How long a checked lock session is trusted before the next SELECT 1
# (held() comes before every pass of every job).
CHECK_EVERY = 1.0

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


class _LockSession:
    """One database session holding every advisory lock taken through one JobLocks.

    A session per job would cost a PostgreSQL connection per job (a thousand
    jobs, a thousand backends: past max_connections); one session holds them
    all. If it dies, every lock goes with it, and every worker notices on its
    next held() and takes its job again on a new session.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._guard = threading.Lock()  # one statement at a time on the connection
        self._connection: Connection | None = None
        self._held: set[int] = set()
        self._checked_at = 0.0
        self.generation = 0  # changes when the session is lost: older locks are gone

    def take(self, key: int, job: str) -> int | None:
        """The session's generation if the lock on `key` is ours now, else None."""
        with self._guard:
            if key in self._held:  # held here for another worker: advisory locks nest
                return None
            if self._connection is None:
                try:
                    # AUTOCOMMIT: the locks belong to the session, and no transaction
                    # is left open ("idle in transaction") for as long as we hold them.
                    self._connection = self._engine.connect().execution_options(
                        isolation_level="AUTOCOMMIT"
                    )
                except SQLAlchemyError as exc:
                    log.warning("job %s: cannot reach the database for the job lock: %s", job, exc)
                    return None
                self._checked_at = time.monotonic()
            try:
                got = self._connection.scalar(sa.select(sa.func.pg_try_advisory_lock(key)))
            except SQLAlchemyError as exc:
                log.warning("job %s: cannot take the job lock: %s", job, exc)
                self._lose()
                return None
            if not got:
                self._close_if_unused()
                return None
            self._held.add(key)
            return self.generation

    def alive(self, generation: int, job: str) -> bool:
        """The locks of `generation` are still held (checked at most once each CHECK_EVERY)."""
        with self._guard:
            if generation != self.generation or self._connection is None:
                return False
            if time.monotonic() - self._checked_at < CHECK_EVERY:
                return True
            try:
                self._connection.execute(sa.text("SELECT 1"))
            except SQLAlchemyError as exc:
                # The session is gone, and its locks with it: another instance may own the jobs.
                log.warning(
                    "job %s: lost the database connection holding the job locks: %s", job, exc
                )
                self._lose()
                return False
            self._checked_at = time.monotonic()
            return True

    def give_back(self, key: int, generation: int, job: str) -> None:
        with self._guard:
            if generation != self.generation or key not in self._held:
                return
            self._held.discard(key)
            assert self._connection is not None
            try:
                self._connection.scalar(sa.select(sa.func.pg_advisory_unlock(key)))
            except SQLAlchemyError as exc:  # closing the session frees the lock anyway
                log.debug("job %s: unlocking: %s", job, exc)
                self._lose()
                return
            self._close_if_unused()

    def close(self) -> None:
        with self._guard:
            self._lose()

    def _close_if_unused(self) -> None:
        if not self._held:  # run-once and the web's Run now hold no idle connection
            self._lose()

    def _lose(self) -> None:
        connection, self._connection = self._connection, None
        self._held.clear()
        self.generation += 1
        if connection is not None:
            try:
                connection.close()
            except SQLAlchemyError as exc:
                log.debug("closing the job lock connection: %s", exc)


class AdvisoryLock:
    """pg_try_advisory_lock on the JobLocks' session, held while the job is owned."""

    def __init__(self, session: _LockSession, job_name: str) -> None:
        self._session = session
        self._job = job_name
        self._key = lock_key(job_name)
        self._generation: int | None = None

    def acquire(self) -> bool:
        if self._generation is not None and self._session.alive(self._generation, self._job):
            return True
        self._generation = self._session.take(self._key, self._job)
        return self._generation is not None

    def held(self) -> bool:
        if self._generation is None:
            return False
        if self._session.alive(self._generation, self._job):
            return True
        self._generation = None
        return False

    def release(self) -> None:
        generation, self._generation = self._generation, None
        if generation is not None:
            self._session.give_back(self._key, generation, self._job)


class JobLocks:
    """Makes the lock for each job of one store; holds the lock connections' engine."""

    def __init__(self, store: Store) -> None:
        self._engine: Engine | None = None
        database = sqlite_file(store.engine.url)
        self._lock_files = database.parent if database is not None and fcntl else None
        self._lock_prefix = database.name if database is not None else ""
        self._session: _LockSession | None = None
        if store.is_postgresql:
            # NullPool: the lock session is one real connection of its own,
            # never taken from (or starving) the store's own pool.
            self._engine = sa.create_engine(
                store.engine.url,
                poolclass=NullPool,
                hide_parameters=True,
                connect_args={**_KEEPALIVE, "application_name": "deskmail job lock"},
            )

    def for_job(self, job_name: str) -> JobLock:
        if self._engine is not None:
            if self._session is None:
                self._session = _LockSession(self._engine)
            return AdvisoryLock(self._session, job_name)
        if self._lock_files is not None:
            # Named by the key: any job name makes a safe file name.
            name = f"{self._lock_prefix}.job-{lock_key(job_name) & (2**64 - 1):016x}.lock"
            return FileLock(self._lock_files / name, job_name)
        return LocalLock()

    def dispose(self) -> None:
        if self._session is not None:
            self._session.close()
        if self._engine is not None:
            self._engine.dispose()
