"""Run now and Enable/Disable, as the Jobs screen and the API ask for them, for the
file's jobs and the database's (the catalog: jobs/catalog.py).

Under `deskmail serve` a Run now wakes the job's worker in this process (the
daemon owns the job's lock, so nothing else may run it). Under `deskmail web`,
or when this process has no worker for the job, it runs the job once in a
background thread, holding the job lock exactly as `deskmail run-once` does:
a job that another instance is working is left to it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import StrEnum

from deskmail.config.models import DeskmailConfig, JobConfig
from deskmail.daemon.switches import set_switch
from deskmail.jobs.catalog import JobCatalog
from deskmail.jobs.running import load_one
from deskmail.store.engine import Store

log = logging.getLogger("deskmail.web")


class RunNow(StrEnum):
    WOKEN = "woken"  # the daemon's worker runs it now
    STARTED = "started"  # a pass started in the background
    ALREADY = "already-running"  # a pass started from here is still going
    BUSY = "busy"  # another run or instance holds the job lock


class JobControl:
    def __init__(
        self,
        config: DeskmailConfig,
        store: Store,
        wake: Callable[[str], bool] | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self.catalog = JobCatalog(config, store)
        self._wake = wake  # the daemon's: True when this process's worker took it
        self._running: set[str] = set()
        self._guard = threading.Lock()

    def run_now(self, name: str) -> RunNow:
        """Run the job (KeyError for an unknown name) as soon as possible.

        A database job whose settings cannot be loaded raises ConfigError,
        UnreadableSecrets or SecretKeyError, saying why.
        """
        job = self.runnable(name)
        if self._wake is not None and self._wake(name):
            return RunNow.WOKEN
        with self._guard:
            if name in self._running:
                return RunNow.ALREADY
            self._running.add(name)
        from deskmail.daemon.locks import JobLocks

        locks = JobLocks(self._store)
        lock = locks.for_job(name)
        if not lock.acquire():
            locks.dispose()
            with self._guard:
                self._running.discard(name)
            return RunNow.BUSY

        def run() -> None:
            from deskmail.intake.run import run_job

            try:
                run_job(self._store, job, config=self._config)
            except Exception as exc:  # recorded on the run; the thread must not die loudly
                log.error("job %s: run now failed: %s", name, type(exc).__name__)
            finally:
                lock.release()
                locks.dispose()
                with self._guard:
                    self._running.discard(name)

        threading.Thread(target=run, name=f"run now {name}", daemon=True).start()
        return RunNow.STARTED

    def runnable(self, name: str) -> JobConfig:
        """The job as a run takes it (a database job with its secrets opened); KeyError if
        there is none of that name."""
        if self.is_file_job(name):
            return self._config.job(name)
        rows = self.catalog.stored_rows({name})
        if not rows:
            raise KeyError(name)
        return load_one(self.catalog, rows[0])

    def is_file_job(self, name: str) -> bool:
        return any(job.name == name for job in self._config.jobs)

    def set_enabled(self, name: str, enabled: bool, changed_by: str) -> None:
        """A file job gets a switch (the file stays as written); a database job's own
        setting changes (a new revision, which running daemons pick up)."""
        if self.is_file_job(name):
            set_switch(self._store, name, enabled, changed_by)
        else:
            from deskmail.jobs.catalog import JobNotFound

            try:
                self.catalog.set_enabled(name, enabled)
            except JobNotFound:
                raise KeyError(name) from None
        log.info("job %s: %s by %s", name, "enabled" if enabled else "disabled", changed_by)
