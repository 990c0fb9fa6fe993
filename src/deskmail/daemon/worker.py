"""One job in the daemon: own the job, run it when due or woken, back off on failure.

A job is a task of the daemon's scheduler (scheduler.py), not a thread: its
steps run on the scheduler's bounded pool, one at a time, so a thousand
jobs that wait for mail cost no thread each. Every protocol's job (IMAP,
POP3, Graph, EWS, Maildir) is scheduled the same way; IMAP IDLE and Maildir
events only wake it early.
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
from deskmail.daemon.idle import IdleHub, IdleWatcher
from deskmail.daemon.locks import JobLock
from deskmail.daemon.maildir_watch import MaildirWatcher
from deskmail.daemon.schedule import seconds_until_next
from deskmail.daemon.scheduler import Scheduler
from deskmail.intake.run import RunSummary, run_job
from deskmail.logs import job_logging
from deskmail.sources.errors import SourceError
from deskmail.store.engine import Store
from deskmail.store.errors import describe_error

log = logging.getLogger("deskmail.daemon.worker")

# Spread of the first runs after start: jobs and instances do not all connect at once.
START_SPREAD = 1.0
# An IDLE job's first pass waits for its session (see _take); at the latest this long.
READY_FALLBACK = 60.0
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
    job: JobConfig,
    wake: Callable[[], None],
    store: Store | None = None,
    hub: IdleHub | None = None,
    ready: Callable[[], None] | None = None,
) -> Watcher | None:
    """The push watcher of a job with idle = true, if its protocol has one (POP3 has none).

    `store` holds an OAuth2 job's token cache; without it such a job waits for its schedule.
    `hub`: the daemon's IDLE sessions (the process's shared one when not given).
    `ready`: called once an IMAP job's IDLE session is on (or could not be).
    """
    if not job.idle:
        return None
    if job.protocol is MailProtocol.IMAP:
        if job.oauth2 is None:
            return IdleWatcher(job, wake, hub=hub, ready=ready)
        if store is None:
            return None
        try:
            return IdleWatcher(job, wake, tokens=job_tokens(job, store), hub=hub, ready=ready)
        except (ConfigError, SourceError):  # the scheduled run reports it, with its event
            return None
    if job.protocol is MailProtocol.MAILDIR:
        return MaildirWatcher(job, wake)
    return None


class JobWorker:
    """Runs one job until stopped. start(), wake(), stop(), join().

    Not a thread: each step (take the job, run a pass, let go) runs on a thread
    of the daemon's `Scheduler`, so an idle job costs a heap entry, not a
    thread. A worker made without a scheduler gets a one-thread one of its own.
    """

    def __init__(
        self,
        store: Store,
        job: JobConfig,
        lock: JobLock,
        *,
        runner: Runner = _run,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        scheduler: Scheduler | None = None,
        hub: IdleHub | None = None,
    ) -> None:
        self.job = job
        self.name = job.name
        self._store = store
        self._lock = lock
        self._runner = runner
        self._schedule = parse_schedule(job.schedule)
        self._backoff = backoff or Backoff(JOB_BASE, JOB_CAP, rng)
        self._rng = rng or random.Random()
        self._own_scheduler = scheduler is None
        self._scheduler = scheduler or Scheduler(1, name=f"job {job.name}")
        self._hub = hub
        self._stopping = threading.Event()
        self._started = False
        self._owned = False
        self._waiting_logged = False
        self._watcher: Watcher | None = None

    def start(self, delay: float = 0.0) -> None:
        """Begin in `delay` seconds (the supervisor staggers a start of many jobs)."""
        self._started = True
        if self._own_scheduler:
            self._scheduler.start()
        self._scheduler.add(self, delay)

    def wake(self) -> None:
        """Run as soon as possible; again if a run is under way (the mail may be too new for it)."""
        self._scheduler.wake(self)

    def stop(self) -> None:
        """Ask the worker to stop: a run finishes the message in hand, then the job ends."""
        self._stopping.set()
        self._scheduler.wake(self)

    def join(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._scheduler.join(self, timeout):
            return False
        if self._own_scheduler:
            self._scheduler.stop(_left(deadline))
        watcher = self._watcher
        if watcher is not None:
            watcher.join(min(WATCHER_GRACE, _left(deadline) or WATCHER_GRACE))
        return True

    def alive(self) -> bool:
        return self._started and not self._scheduler.ended(self)

    def stopping(self) -> bool:
        return self._stopping.is_set()

    # ---- one step, on a scheduler thread ----------------------------------------

    def step(self) -> float | None:
        """Take the job, run a pass, or let go; the seconds until the next step (None: ended)."""
        with job_logging(self.name):  # the job's own log file gets the daemon's lines too
            if self._stopping.is_set():
                self._let_go()
                return None
            if not self._owned:
                return self._take()
            if not self._lock.held():
                log.warning("job %s: lost the job lock; waiting to own the job again", self.name)
                self._owned = False
                self._stop_watcher()
                return 0.0
            return self.run_once()

    def _take(self) -> float:
        """Try to own the job; when owned, start its watcher and spread its first pass."""
        if not self._lock.acquire():
            if not self._waiting_logged:
                log.info(
                    "job %s: not ours to run (another deskmail instance works it, or the"
                    " database is out of reach); trying again every %.0f s",
                    self.name,
                    LOCK_RETRY,
                )
                self._waiting_logged = True
            return LOCK_RETRY * self._rng.uniform(0.8, 1.2)
        self._owned = True
        self._waiting_logged = False
        log.info("job %s: started, %s", self.name, self._schedule)
        self._watcher = watcher_for(self.job, self.wake, self._store, self._hub, self.wake)
        if self._watcher is None:
            return self._rng.uniform(0.0, START_SPREAD)
        self._watcher.start()
        if isinstance(self._watcher, IdleWatcher):
            # The first pass comes when IDLE is on (ready): mail that arrives
            # before is fetched by it, mail after is announced. Connecting a
            # thousand sessions is staggered, and so are the first passes.
            return READY_FALLBACK * self._rng.uniform(1.0, 1.2)
        return self._rng.uniform(0.0, START_SPREAD)

    def _stop_watcher(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()  # join() waits for it, outside the scheduler's threads

    def _let_go(self) -> None:
        self._stop_watcher()
        try:
            self._lock.release()
        except Exception:  # a bug; the job is ending anyway
            log.exception("job %s: releasing the job lock", self.name)
        self._owned = False
        log.info("job %s: stopped", self.name)

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


def _left(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())
