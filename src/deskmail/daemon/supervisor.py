"""`deskmail serve`: one worker per enabled job, until a signal says stop.

The workers are tasks of one scheduler with a bounded pool of threads
(scheduler.py), and every IMAP IDLE session is kept by one hub (idle.py): the
daemon's threads do not grow with its jobs. Which jobs this instance runs is
asked of holdings.py.

- SIGTERM / SIGINT: every worker finishes the message in hand and its
  commit, acknowledges what was committed, logs out; then exit 0.
- SIGHUP: re-read the configuration file. Workers of removed or changed
  jobs stop (gracefully, as above), new jobs start, unchanged ones keep
  running untouched. A file that does not load is refused with a log line
  naming the file, key and problem, and the running configuration stays.
- Jobs kept in the database (the jobs catalog) are followed without a signal:
  their revisions are read every few seconds (stored_jobs.py), and a job
  added, changed, disabled or deleted there is started, restarted or stopped
  alone, as a reload does. On PostgreSQL a change is also heard at once
  (LISTEN/NOTIFY). SIGUSR1 makes the daemon read them now.
- Every TICK seconds: the scheduler's heartbeat is written, and jobs turned
  off or on in the web UI (daemon/switches.py) are stopped or started.

Signals are taken synchronously: they are blocked in every thread and the
main thread waits for them with sigtimedwait() (waking to read the revisions
and ping the watchdog), so no handler ever runs in the middle of a worker's
transaction.

Under systemd (`Type=notify`, see deploy/systemd/) the main thread also says
READY, RELOADING and STOPPING, and pings the watchdog while every worker
and the pool and hub threads are alive: a daemon whose worker died is restarted by systemd.
"""

from __future__ import annotations

import logging
import resource
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deskmail.config.errors import ConfigError
from deskmail.config.files import load_configuration
from deskmail.config.models import DeskmailConfig, JobConfig
from deskmail.daemon.heartbeat import Heartbeat
from deskmail.daemon.holdings import enabled_jobs, holdings_for
from deskmail.daemon.idle import IdleHub
from deskmail.daemon.locks import JobLocks
from deskmail.daemon.notify import notify, watchdog_interval
from deskmail.daemon.scheduler import Scheduler
from deskmail.daemon.stored_jobs import POLL_SECONDS, ChangeListener, StoredJobs
from deskmail.daemon.switches import read_switches, switched
from deskmail.daemon.webhooks import WebhookWorker
from deskmail.daemon.worker import JobWorker, runner_for
from deskmail.store.engine import Store, open_store

log = logging.getLogger("deskmail.daemon")

EXIT_OK = 0
# Stopping waits this long in all for the workers. A worker still blocked on
# a silent server after that is abandoned: safe, since nothing is acknowledged
# before its commit and an uncommitted transaction dies with the process.
STOP_GRACE = 30.0
_STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
_SIGNALS = _STOP_SIGNALS | {signal.SIGHUP, signal.SIGUSR1}
# How often the main loop writes the heartbeat and reads the web UI's job switches.
TICK = 5.0
# Settings whose change cannot be applied to a running daemon.
_RESTART_ONLY = ("database", "storage", "cluster")


def serve(
    config_path: Path,
    *,
    config: DeskmailConfig | None = None,
    store: Store | None = None,
    on_reload: Callable[[DeskmailConfig], None] | None = None,
    debug_dir: Path | None = None,
    on_started: Callable[[DeskmailConfig], None] | None = None,
    poll_seconds: float = POLL_SECONDS,
    alongside: Callable[[Supervisor], Callable[[], None]] | None = None,
) -> int:
    """Run every enabled job until SIGTERM or SIGINT; SIGHUP reloads `config_path`.

    `debug_dir`: keep every fetched message there, byte for byte (--debug).

    `config` and `store`, when given, are the already loaded configuration
    and opened store (the command line prepares them to report problems its
    own way). Otherwise raises ConfigError for a bad file and
    SchemaVersionError for a database that needs `deskmail db upgrade`.
    `on_reload` is called with each accepted new configuration before the
    jobs change (the command line re-opens its log files there); `on_started`
    once the workers are started, with the jobs run (the command line says so).
    `poll_seconds`: how often the database jobs' revisions are read.
    `alongside` starts something that runs with the jobs (the web server) and
    returns how to stop it; it is stopped before the workers.
    Returns the exit code: 0 after a clean stop.
    """
    if config is None:
        config = load_configuration(config_path)
    _raise_open_files_limit()
    if store is None:
        store = open_store(config)
        store.require_current_schema()
    # Blocked before the first worker thread starts: threads inherit the mask.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    main_thread = threading.main_thread().ident
    assert main_thread is not None

    def wake() -> None:
        """Wake the main thread's sigtimedwait with the signal a person would send."""
        signal.pthread_kill(main_thread, signal.SIGUSR1)

    supervisor = Supervisor(config_path, config, store, on_reload, debug_dir, wake=wake)
    listener = ChangeListener(store, wake) if store.is_postgresql else None
    webhooks = WebhookWorker(store, config)
    stop_alongside: Callable[[], None] | None = None
    try:
        supervisor.start()
        if listener is not None:
            listener.start()
        webhooks.start()
        if alongside is not None:
            stop_alongside = alongside(supervisor)
        if on_started is not None:
            on_started(supervisor.running)
        notify("READY=1", f"STATUS={supervisor.status()}")
        ping_every = watchdog_interval()
        wait = min(poll_seconds, TICK, ping_every or TICK)
        next_tick = time.monotonic() + TICK
        while True:
            received = _wait_for_signal(wait)
            if received is None or received == signal.SIGUSR1:
                if time.monotonic() >= next_tick:
                    supervisor.tick()
                    next_tick = time.monotonic() + TICK
                # On every wake, not only timeouts: a stream of changes must not starve it.
                if ping_every is not None and supervisor.all_alive():
                    notify("WATCHDOG=1")
                moved = supervisor.follow_database()
                if supervisor.follow_leases() or moved:
                    notify(f"STATUS={supervisor.status()}")
                continue
            if received in _STOP_SIGNALS:
                log.info(
                    "%s: finishing the messages in hand, then stopping",
                    signal.Signals(received).name,
                )
                break
            notify("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")
            supervisor.reload()
            notify("READY=1", f"STATUS={supervisor.status()}")
    finally:
        notify("STOPPING=1")
        if stop_alongside is not None:
            stop_alongside()
        if listener is not None:
            listener.stop()
        webhooks.stop()
        supervisor.shutdown(webhooks)
        if listener is not None:
            listener.join(STOP_GRACE)
        # A wake still pending would kill the process once unblocked (SIGUSR1's default).
        while signal.sigtimedwait({signal.SIGUSR1}, 0) is not None:
            pass
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    log.info("stopped")
    return EXIT_OK


def _raise_open_files_limit() -> None:
    """Soft limit up to the hard one: each IMAP IDLE job holds a socket and, on SQLite, a
    lock file, and systemd's default soft limit of 1,024 would stop at about 500 jobs."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:  # e.g. an infinite hard limit the kernel refuses
            log.debug("open files limit left at %d: %s", soft, exc)


def _wait_for_signal(timeout: float) -> int | None:
    """The next of our signals, or None when `timeout` seconds pass first."""
    info = signal.sigtimedwait(_SIGNALS, timeout)
    return None if info is None else info.si_signo


def _fingerprint(config: DeskmailConfig, job: JobConfig) -> dict[str, Any]:
    """What a worker depends on: the job's settings and the global ones (SMTP, templates...).

    model_dump, not ==: pydantic's equality also compares the job's position
    in the file, and moving a job is no reason to restart it. [logging] is
    left out: on_reload applies it without stopping anyone.
    """
    return {
        "job": job.model_dump(mode="json"),
        "settings": config.model_dump(mode="json", exclude={"jobs", "source_file", "logging"}),
    }


class Supervisor:
    """The running workers, by job name, and how to change them to match a configuration."""

    def __init__(
        self,
        config_path: Path,
        config: DeskmailConfig,
        store: Store,
        on_reload: Callable[[DeskmailConfig], None] | None = None,
        debug_dir: Path | None = None,
        *,
        wake: Callable[[], None] | None = None,
    ) -> None:
        """`wake`: wakes the main loop (from another thread) to follow the leases now."""
        self._debug_dir = debug_dir
        self._path = config_path
        self._config = config
        self._store = store
        self._on_reload = on_reload
        self._locks = JobLocks(store)
        self._workers: dict[str, tuple[JobWorker, dict[str, Any]]] = {}
        # Every job's passes share one bounded pool, every IDLE session one hub.
        self._scheduler = Scheduler()
        self._scheduler.start()
        self._hub = IdleHub()
        self._stored = StoredJobs(store)
        self.running = config  # the file's jobs and the database's, as last applied
        self._heartbeat = Heartbeat(store)
        self._switches = self._read_switches()
        self._wake = wake
        self._leases_moved = threading.Event()
        # Which jobs this instance runs: all enabled (SQLite), or its leases (PostgreSQL).
        self._holdings = holdings_for(store, config, self._on_leases_moved)

    def _on_leases_moved(self) -> None:
        """The lease keeper's thread took, lost or hands over a job."""
        self._leases_moved.set()
        if self._wake is not None:
            self._wake()

    def follow_leases(self) -> bool:
        """Start and stop workers as the leases moved since the last look; True if they did."""
        if not self._leases_moved.is_set():
            return False
        self._leases_moved.clear()
        self.apply(self.running)
        return True

    def _read_switches(self) -> dict[str, bool]:
        try:
            return read_switches(self._store)
        except Exception as exc:  # the database is out of reach: keep what we had
            log.warning("job switches not read: %s", type(exc).__name__)
            return getattr(self, "_switches", {})

    def tick(self) -> None:
        """Beat, make room beside passes stuck on their server, and start or stop the jobs
        whose switch changed in the web UI."""
        self._heartbeat.beat()
        self._scheduler.rebalance()
        switches = self._read_switches()
        if switches != self._switches:
            self._switches = switches
            self.apply(self.running)

    def wake(self, name: str) -> bool:
        """Run the job now if this process has a worker for it (the web UI's Run now)."""
        found = self._workers.get(name)  # read from the web thread: a single dict lookup
        if found is None:
            return False
        found[0].wake()
        return True

    def start(self) -> None:
        """Read the database jobs, then start every enabled job."""
        self._stored.refresh(self._config)
        running = switched(self._stored.running(self._config), self._switches)
        self._holdings.start(enabled_jobs(running))
        self._apply_running(self._config)

    def follow_database(self) -> bool:
        """Apply the changes made to database jobs since the last look; True if any."""
        if not self._stored.refresh(self._config):
            return False
        self._apply_running(self._config, reconfigure=True)
        return True

    def _apply_running(self, config: DeskmailConfig, *, reconfigure: bool = False) -> None:
        running = self._stored.running(config)
        if reconfigure and self._on_reload is not None:
            try:  # the log's redaction learns the new jobs' secrets
                self._on_reload(running)
            except Exception as exc:
                log.error("database jobs: the logs could not be set up again: %s", exc)
        self.apply(running)

    def apply(self, config: DeskmailConfig) -> None:
        """Stop the workers of removed or changed jobs, then start the missing ones."""
        self._heartbeat.beat()
        enabled = enabled_jobs(switched(config, self._switches))
        self._holdings.want(enabled)
        wanted = self._holdings.held(enabled)
        fingerprints = {name: _fingerprint(config, job) for name, job in wanted.items()}
        outdated = [
            name
            for name, (_worker, fingerprint) in self._workers.items()
            if fingerprints.get(name) != fingerprint
        ]
        self._stop(outdated)
        self._holdings.settle(self._workers)  # leases handed over, once their pass ended
        kept = len(self._workers)
        started = [name for name in wanted if name not in self._workers]
        for name in started:
            worker = JobWorker(
                self._store,
                wanted[name],
                self._holdings.lock(name, self._locks.for_job(name)),
                runner=runner_for(config, self._debug_dir),
                scheduler=self._scheduler,
                hub=self._hub,
            )
            self._workers[name] = (worker, fingerprints[name])
            worker.start()
        self.running = config
        if not enabled:
            log.warning(
                "%s: no enabled job; waiting for a reload (SIGHUP) or a job in the database",
                self._path,
            )
        log.info(
            "configuration %s: %d job(s) started, %d kept, %d stopped",
            self._path,
            len(started),
            kept,
            len(outdated),
        )

    def status(self) -> str:
        """One line for `systemctl status`."""
        return f"{len(self._workers)} job(s) running"

    def all_alive(self) -> bool:
        """Every worker and the threads they run on are alive (else mail would wait forever)."""
        return (
            self._scheduler.alive()
            and self._hub.alive()
            and self._holdings.alive()
            and all(worker.alive() for worker, _fingerprint in self._workers.values())
        )

    def reload(self) -> None:
        """SIGHUP: apply the configuration file again, unless it is refused."""
        log.info("SIGHUP: reloading %s", self._path)
        try:
            config = load_configuration(self._path)
        except ConfigError as exc:
            log.error("reload refused, still running the previous configuration:\n%s", exc)
            return
        changed = [
            key for key in _RESTART_ONLY if getattr(config, key) != getattr(self._config, key)
        ]
        if changed:
            log.error(
                "reload refused, still running the previous configuration: %s changed;"
                " restart deskmail serve to apply that",
                " and ".join(f"[{key}]" for key in changed),
            )
            return
        self._stored.forget_revisions()  # the file's names may now clash with theirs
        self._stored.refresh(config)
        running = self._stored.running(config)
        if self._on_reload is not None:
            try:
                self._on_reload(running)
            except Exception as exc:  # e.g. a log folder that cannot be created
                log.error("reload refused, still running the previous configuration: %s", exc)
                return
        self._config = config
        self.apply(running)

    def shutdown(self, webhooks: WebhookWorker | None = None) -> None:
        """Stop every worker (gracefully, within STOP_GRACE), then close the database.

        `webhooks`: the webhook worker, asked to stop already, waited for with the jobs."""
        self._stop(list(self._workers))
        if webhooks is not None and not webhooks.join(STOP_GRACE):
            log.warning("webhooks: a POST still running after %.0f s, left behind", STOP_GRACE)
        self._scheduler.stop(STOP_GRACE)
        self._hub.stop()
        self._heartbeat.forget()
        self._holdings.stop()
        self._locks.dispose()
        self._store.dispose()

    def _stop(self, names: list[str]) -> None:
        workers = [self._workers.pop(name)[0] for name in names]
        for worker in workers:  # all asked first, so they wind down in parallel
            worker.stop()
        deadline = time.monotonic() + STOP_GRACE
        for worker in workers:
            if not worker.join(max(0.0, deadline - time.monotonic())):
                log.warning(
                    "job %s: still blocked after %.0f s, left behind; nothing is lost, a"
                    " message it held will be taken in again",
                    worker.name,
                    STOP_GRACE,
                )
