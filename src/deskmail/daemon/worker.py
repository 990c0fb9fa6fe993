"""One job's loop in the daemon: own the job, run it when due or woken, back off on failure.

Each job has its own thread, so a job stuck on a slow server delays no other
job. (The stack below, imapclient, poplib and SQLAlchemy, is blocking;
threads keep it simple and the work is I/O-bound.)
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Protocol

from deskmail.auth.tokens import job_tokens
from deskmail.config.errors import ConfigError
from deskmail.config.models import DeskmailConfig, JobConfig
from deskmail.config.models import Protocol as MailProtocol
from deskmail.config.schedule import parse_schedule
from deskmail.daemon.backoff import JOB_BASE, JOB_CAP, Backoff
from deskmail.daemon.idle import IdleWatcher
from deskmail.daemon.locks import JobLock
from deskmail.daemon.maildir_watch import MaildirWatcher
from deskmail.daemon.schedule import seconds_until_next
from deskmail.intake.run import RunSummary, run_job
from deskmail.logs import job_logging
from deskmail.sources.errors import SourceError
from deskmail.store.engine import Store
from deskmail.store.errors import describe_error

log = logging.getLogger("deskmail.daemon.worker")

# Spread of the first runs after start: jobs and instances do not all connect at once.
START_SPREAD = 1.0
# How often an instance that does not own a job tries to take it over.
LOCK_RETRY = 15.0
# A watcher blocked connecting to a silent server must not hold up a stop;
# its thread is a daemon thread and dies with the process.
WATCHER_GRACE = 5.0

Runner = Callable[[Store, JobConfig, Callable[[], bool]], RunSummary]


def _run(store: Store, job: JobConfig, should_stop: Callable[[], bool]) -> RunSummary:
    return run_job(store, job, should_stop=should_stop)


def runner_for(config: DeskmailConfig, debug_dir: Path | None = None) -> Runner:
    """A pass that also sends the automatic mails ([smtp] and templates come from config)
    and, with --debug, keeps the raw messages in debug_dir."""

    def run(store: Store, job: JobConfig, should_stop: Callable[[], bool]) -> RunSummary:
        return run_job(store, job, should_stop=should_stop, config=config, debug_dir=debug_dir)

    return run


class Watcher(Protocol):
    """What wakes a worker early (IMAP IDLE, Maildir file events)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def join(self, timeout: float | None = None) -> bool: ...


def push_of(job: JobConfig) -> str | None:
    """What wakes the job between its scheduled runs (as watcher_for decides), for people."""
    if not job.idle:
        return None
    return {MailProtocol.IMAP: "IMAP IDLE", MailProtocol.MAILDIR: "Maildir file events"}.get(
        job.protocol
    )


def watcher_for(
    job: JobConfig, wake: Callable[[], None], store: Store | None = None
) -> Watcher | None:
    """The push watcher of a job with idle = true, if its protocol has one (POP3 has none).

    `store` holds an OAuth2 job's token cache; without it such a job waits for its schedule.
    """
    if not job.idle:
        return None
    if job.protocol is MailProtocol.IMAP:
        if job.oauth2 is None:
            return IdleWatcher(job, wake)
        if store is None:
            return None
        try:
            return IdleWatcher(job, wake, tokens=job_tokens(job, store))
        except (ConfigError, SourceError):  # the scheduled run reports it, with its event
            return None
    if job.protocol is MailProtocol.MAILDIR:
        return MaildirWatcher(job, wake)
    return None


class JobWorker:
    """Runs one job until stopped. start(), wake(), stop(), join()."""

    def __init__(
        self,
        store: Store,
        job: JobConfig,
        lock: JobLock,
        *,
        runner: Runner = _run,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.job = job
        self._store = store
        self._lock = lock
        self._runner = runner
        self._schedule = parse_schedule(job.schedule)
        self._backoff = backoff or Backoff(JOB_BASE, JOB_CAP, rng)
        self._rng = rng or random.Random()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"job {job.name}", daemon=True)

    @property
    def name(self) -> str:
        return self.job.name

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Run as soon as possible; again if a run is under way (the mail may be too new for it)."""
        self._wake.set()

    def stop(self) -> None:
        """Ask the worker to stop: a run finishes the message in hand, then the job ends."""
        self._stopping.set()
        self._wake.set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stopping(self) -> bool:
        return self._stopping.is_set()

    # ---- the thread ---------------------------------------------------------

    def _main(self) -> None:
        with job_logging(self.name):  # the job's own log file gets the daemon's lines too
            self._loop()

    def _loop(self) -> None:
        waiting_logged = False
        try:
            while not self._stopping.is_set():
                if self._lock.acquire():
                    waiting_logged = False
                    self._own()
                    continue
                if not waiting_logged:
                    log.info(
                        "job %s: not ours to run (another deskmail instance works it, or the"
                        " database is out of reach); trying again every %.0f s",
                        self.name,
                        LOCK_RETRY,
                    )
                    waiting_logged = True
                self._stopping.wait(LOCK_RETRY * self._rng.uniform(0.8, 1.2))
        except Exception:  # a bug; the other jobs go on, and the log says why this one stopped
            log.exception("job %s: worker stopped by an unexpected error", self.name)
        finally:
            self._lock.release()
            log.info("job %s: stopped", self.name)

    def _own(self) -> None:
        """Work the job while this instance owns it; returns on stop or when ownership is lost."""
        log.info("job %s: started, %s", self.name, self._schedule)
        watcher = watcher_for(self.job, self.wake, self._store)
        if watcher is not None:
            watcher.start()
        try:
            due = time.monotonic() + self._rng.uniform(0.0, START_SPREAD)
            while True:
                self._wake.wait(max(0.0, due - time.monotonic()))
                if self._stopping.is_set():
                    return
                self._wake.clear()  # before the run: a wake during the run means run again
                if not self._lock.held():
                    log.warning(
                        "job %s: lost the job lock; waiting to own the job again", self.name
                    )
                    return
                due = time.monotonic() + self.run_once()
        finally:
            if watcher is not None:
                watcher.stop()
                watcher.join(WATCHER_GRACE)

    def run_once(self) -> float:
        """One pass of the job; the seconds to wait before the next scheduled one."""
        started = datetime.now()
        try:
            summary = self._runner(self._store, self.job, self.stopping)
        except (
            Exception
        ) as exc:  # run_job reports mailbox problems itself; this is e.g. the database
            summary = RunSummary(job=self.name, failure=describe_error(exc))
            log.error("job %s: the pass failed: %s", self.name, summary.failure)
            log.debug("job %s: the pass's traceback", self.name, exc_info=exc)
        return self.delay_after(summary, started)

    def delay_after(self, summary: RunSummary, started: datetime) -> float:
        """The schedule after a success; the backoff delay after a failure (run_job logged why)."""
        if summary.ok:
            if self._backoff.failures:
                log.info(
                    "job %s: working again after %d failure(s)", self.name, self._backoff.failures
                )
            self._backoff.reset()
            return seconds_until_next(self._schedule, started, self._rng)
        delay = self._backoff.next_delay()
        log.warning(
            "job %s: %d failure(s) in a row; next attempt in %.0f s",
            self.name,
            self._backoff.failures,
            delay,
        )
        return delay
