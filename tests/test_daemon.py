"""`deskmail serve`: push, schedules, signals, reload, isolation of jobs, one owner per job.

End-to-end tests start the daemon as a real subprocess against the private
Dovecot and a real database, and assert on outcomes (tickets, journal rows,
exit codes, log lines), waiting for them with generous timeouts, never on
how fast they came. In-process tests cover the IDLE watcher, the job lock
and the worker's backoff.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from watchdog.events import (
    DirCreatedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    FileSystemEvent,
)

from deskmail.config.models import JobConfig, Protocol
from deskmail.daemon import worker as worker_module
from deskmail.daemon.idle import IdleWatcher
from deskmail.daemon.locks import AdvisoryLock, JobLocks, LocalLock
from deskmail.daemon.maildir_watch import signals_new_mail
from deskmail.daemon.worker import JobWorker
from deskmail.intake.run import RunSummary
from deskmail.store.engine import Store
from deskmail.store.models import IntakeRecord, Run, Ticket
from tests.support.dovecot import BASIC_CAPABILITIES, Dovecot, make_mail
from tests.support.toml_config import job_table, write_config

pytestmark = pytest.mark.slow

DESKMAIL = [sys.executable, "-m", "deskmail"]
PASSWORD_ENV = "DESKMAIL_TEST_PASSWORD"
T = TypeVar("T")
# Where the database is not the point, SQLite alone keeps the set fast.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


# ---- helpers --------------------------------------------------------------------


def wait_for(check: Callable[[], T], what: str, timeout: float = 20.0) -> T:
    """check()'s first truthy value, polled until the timeout (generous: outcome, not speed)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class Daemon:
    """One `deskmail -v serve` subprocess, its output in a file."""

    def __init__(self, config: Path, *extra: str, verbose: bool = True) -> None:
        self.output = config.with_suffix(".log")
        env = {**os.environ, PASSWORD_ENV: Dovecot.password}
        env.pop("DESKMAIL_DATABASE_URL", None)
        with open(self.output, "wb") as out:
            self.process = subprocess.Popen(
                [*DESKMAIL, *(["-v"] if verbose else []), "serve", "--config", str(config), *extra],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def log(self) -> str:
        return self.output.read_text("utf-8", "replace")

    def wait_for_log(self, needle: str, count: int = 1, timeout: float = 20.0) -> str:
        def seen() -> str:
            if self.process.poll() is not None:
                raise AssertionError(f"deskmail serve exited early:\n{self.log()}")
            text = self.log()
            return text if text.count(needle) >= count else ""

        try:
            return wait_for(seen, repr(needle), timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; output:\n{self.log()}") from None

    def send(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def exit_code(self, timeout: float = 30.0) -> int:
        return self.process.wait(timeout)


@contextlib.contextmanager
def serving(config: Path, *extra: str, verbose: bool = True) -> Iterator[Daemon]:
    daemon = Daemon(config, *extra, verbose=verbose)
    try:
        yield daemon
    finally:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait(10)


def subjects(store: Store) -> list[str]:
    with store.session() as session:
        return sorted(session.scalars(select(Ticket.subject)))


def finished_runs(store: Store, job: str) -> list[Run]:
    with store.session() as session:
        query = select(Run).where(Run.job == job, Run.finished_at.is_not(None))
        return list(session.scalars(query))


def imap_job(dovecot: Dovecot, user: str, name: str, **settings: Any) -> dict[str, Any]:
    return job_table(dovecot.job(user), name=name, password_env=PASSWORD_ENV, **settings)


def maildir(tmp_path: Path, name: str = "Maildir") -> Path:
    root = tmp_path / name
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True)
    return root


def maildir_job(root: Path, name: str, **settings: Any) -> dict[str, Any]:
    return {"name": name, "protocol": "maildir", "path": str(root), "schedule": "1h", **settings}


def deliver(root: Path, raw: bytes) -> None:
    """As an MTA delivers: write into tmp/, then rename into new/."""
    unique = (
        f"{time.time_ns() // 10**9}.M{time.time_ns() % 10**6}P{os.getpid()}.{secrets.token_hex(3)}"
    )
    (root / "tmp" / unique).write_bytes(raw)
    os.rename(root / "tmp" / unique, root / "new" / unique)


# ---- end to end: push ------------------------------------------------------------


def test_idle_push_makes_a_ticket_without_waiting_for_the_schedule(
    dovecot: Dovecot, database_url: str, store: Store, tmp_path: Path
) -> None:
    user = dovecot.user("idle")
    job = imap_job(dovecot, user, "Support", schedule="1h", idle=True)
    config = write_config(tmp_path / "deskmail.toml", database_url, [job])
    with serving(config) as daemon:
        daemon.wait_for_log("waiting for new mail")  # IDLE is on
        wait_for(lambda: finished_runs(store, "Support"), "the first pass")
        dovecot.append(user, make_mail("Pushed, not polled"))
        wait_for(lambda: subjects(store) == ["Pushed, not polled"], "the pushed ticket")
        # Made by a second pass, which only the push can have started (the schedule is 1h).
        wait_for(lambda: len(finished_runs(store, "Support")) == 2, "the second pass")
        daemon.send(signal.SIGTERM)
        assert daemon.exit_code() == 0, daemon.log()
    assert "SIGTERM: finishing the messages in hand" in daemon.log()
    assert "job Support: stopped" in daemon.log()


@sqlite_only
def test_maildir_job_is_woken_by_a_delivered_file(
    database_url: str, store: Store, tmp_path: Path
) -> None:
    root = maildir(tmp_path)
    config = write_config(tmp_path / "deskmail.toml", database_url, [maildir_job(root, "Drop box")])
    with serving(config) as daemon:
        daemon.wait_for_log(f"watching {root}")
        wait_for(lambda: finished_runs(store, "Drop box"), "the first pass")
        deliver(root, make_mail("Dropped in new/"))
        wait_for(lambda: subjects(store) == ["Dropped in new/"], "the maildir ticket")
        # Our own acknowledgement (new/ -> cur/) does not set off a run of runs.
        time.sleep(0.5)
        assert len(finished_runs(store, "Drop box")) == 2


def test_serve_debug_keeps_each_fetched_message(
    database_url: str, store: Store, tmp_path: Path
) -> None:
    root = maildir(tmp_path)
    config = write_config(tmp_path / "deskmail.toml", database_url, [maildir_job(root, "Drop box")])
    raw = make_mail("Kept for debugging")
    deliver(root, raw)
    with serving(config, "--debug", "--debug-dir", str(tmp_path / "raw")) as daemon:
        wait_for(lambda: subjects(store) == ["Kept for debugging"], "the ticket")
        daemon.process.terminate()
        assert daemon.process.wait(30) == 0
    (kept,) = (tmp_path / "raw").rglob("*.eml")
    assert kept.read_bytes() == raw


@sqlite_only
def test_serve_says_when_it_starts_and_stops_at_the_default_level(
    database_url: str, tmp_path: Path
) -> None:
    jobs = [
        maildir_job(maildir(tmp_path, "a"), "Drop box"),
        maildir_job(maildir(tmp_path, "b"), "Nightly", schedule="0 2 * * *", idle=False),
    ]
    config = write_config(tmp_path / "deskmail.toml", database_url, jobs)
    with serving(config, verbose=False) as daemon:
        daemon.wait_for_log("deskmail serve: started")
        daemon.send(signal.SIGTERM)
        assert daemon.exit_code() == 0, daemon.log()
    assert daemon.log().splitlines() == [
        "deskmail serve: started, 2 jobs: Drop box (every 1h, Maildir file events);"
        " Nightly (cron '0 2 * * *', no push)",
        "deskmail serve: stopped",
    ]


# ---- end to end: signals and reload ---------------------------------------------------

N_MAILS = 300


def test_sigterm_during_a_run_finishes_the_message_in_hand_and_exits_0(
    dovecot: Dovecot, database_url: str, store: Store, tmp_path: Path
) -> None:
    user = dovecot.user("term")
    with dovecot.imap(user) as client:
        client.multiappend("INBOX", [make_mail(f"Mail {n}") for n in range(N_MAILS)])
    job = imap_job(
        dovecot, user, "Busy", schedule="1h", idle=False, fetch_batch=5, after_processing="delete"
    )
    config = write_config(tmp_path / "deskmail.toml", database_url, [job])
    with serving(config) as daemon:

        def taken_in() -> int:
            with store.session() as session:
                return session.scalar(select(func.count()).select_from(IntakeRecord)) or 0

        wait_for(taken_in, "the first ticket")
        daemon.send(signal.SIGTERM)
        assert daemon.exit_code() == 0, daemon.log()

    with store.session() as session:
        records = list(session.scalars(select(IntakeRecord)))
        runs = list(session.scalars(select(Run)))
    assert 0 < len(records) < N_MAILS, "the stop came during the run"
    assert len({record.source_key for record in records}) == len(records)
    assert all(record.acknowledged_at is not None for record in records)
    # Deleted on the server: exactly the messages with a journal row, no more, no fewer.
    assert dovecot.count(user) == N_MAILS - len(records)
    assert [(run.status, run.fetched) for run in runs] == [("ok", len(records))]
    assert "stopping after" in daemon.log()

    # The rest is taken in by the next start, each message once.
    finished = subprocess.run(
        [*DESKMAIL, "run-once", "--config", str(config)],
        env={**os.environ, PASSWORD_ENV: Dovecot.password},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    with store.session() as session:
        assert session.scalar(select(func.count(func.distinct(IntakeRecord.source_key)))) == N_MAILS
        assert session.scalar(select(func.count()).select_from(IntakeRecord)) == N_MAILS
    assert dovecot.count(user) == 0


@sqlite_only
def test_sighup_starts_a_new_job_and_keeps_the_others(
    dovecot: Dovecot, database_url: str, store: Store, tmp_path: Path
) -> None:
    root = maildir(tmp_path)
    first = maildir_job(root, "Drop box")
    path = write_config(tmp_path / "deskmail.toml", database_url, [first])
    user = dovecot.user("hup")
    dovecot.append(user, make_mail("Waiting for the new job"))
    with serving(path) as daemon:
        daemon.wait_for_log("job Drop box: started")
        write_config(path, database_url, [first, imap_job(dovecot, user, "Added", idle=False)])
        daemon.send(signal.SIGHUP)
        wait_for(lambda: subjects(store) == ["Waiting for the new job"], "the new job's ticket")
        daemon.wait_for_log("1 job(s) started, 1 kept, 0 stopped")
        assert daemon.log().count("job Drop box: started") == 1  # not restarted

        # A changed job is restarted, a removed one stopped.
        write_config(path, database_url, [maildir_job(root, "Drop box", schedule="2h")])
        daemon.send(signal.SIGHUP)
        daemon.wait_for_log("1 job(s) started, 0 kept, 2 stopped")
        daemon.wait_for_log("job Drop box: started", count=2)
        daemon.send(signal.SIGTERM)
        assert daemon.exit_code() == 0, daemon.log()
    assert "job Added: stopped" in daemon.log()


@sqlite_only
def test_an_invalid_new_config_is_refused_and_the_old_jobs_keep_running(
    database_url: str, store: Store, tmp_path: Path
) -> None:
    root = maildir(tmp_path)
    path = write_config(tmp_path / "deskmail.toml", database_url, [maildir_job(root, "Drop box")])
    with serving(path) as daemon:
        daemon.wait_for_log(f"watching {root}")
        broken = maildir_job(root, "Drop box", schedule="every tuesday")
        write_config(path, database_url, [broken])
        daemon.send(signal.SIGHUP)
        log = daemon.wait_for_log("reload refused")
        assert 'jobs[0] ("Drop box").schedule' in log
        assert "still running the previous configuration" in log

        deliver(root, make_mail("Still served"))
        wait_for(lambda: subjects(store) == ["Still served"], "a ticket from the old job")
        daemon.send(signal.SIGTERM)
        assert daemon.exit_code() == 0, daemon.log()


# ---- end to end: one job never holds up another ---------------------------------------


@sqlite_only
def test_a_hanging_and_a_dead_job_do_not_delay_another_jobs_ticket(
    dovecot: Dovecot, database_url: str, store: Store, tmp_path: Path
) -> None:
    user = dovecot.user("fine")
    dovecot.append(user, make_mail("Served while others hang"))
    with socket.socket() as silent, socket.socket() as closed:
        # Accepts connections (the kernel's backlog) but never says a word.
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        closed.bind(("127.0.0.1", 0))  # bound, never listening: connection refused
        slow = {"connect": 60, "read": 60}
        jobs = [
            imap_job(
                dovecot,
                user,
                "Hanging",
                port=silent.getsockname()[1],
                security="none",
                timeouts=slow,
                idle=False,
                schedule="1h",
            ),
            imap_job(
                dovecot,
                user,
                "Dead",
                port=closed.getsockname()[1],
                security="none",
                idle=False,
                schedule="1h",
            ),
            imap_job(dovecot, user, "Fine", idle=False, schedule="1h"),
        ]
        config = write_config(tmp_path / "deskmail.toml", database_url, jobs)
        with serving(config) as daemon:
            wait_for(lambda: "Served while others hang" in subjects(store), "the good ticket")
            assert not finished_runs(store, "Hanging"), "still waiting for a greeting"
            daemon.wait_for_log("job Dead: 1 failure(s) in a row")


# ---- in process: the IDLE watcher --------------------------------------------------------


class Wakes:
    def __init__(self) -> None:
        self.count = 0
        self._event = threading.Event()

    def __call__(self) -> None:
        self.count += 1
        self._event.set()

    def wait(self, what: str) -> None:
        assert self._event.wait(20), f"no wake-up: {what}"
        self._event.clear()


def test_idle_watcher_reconnects_after_a_dropped_connection(dovecot: Dovecot) -> None:
    user = dovecot.user("drop")
    wakes = Wakes()
    watcher = IdleWatcher(dovecot.job(user), wakes, reconnect_base=0.2)
    watcher.start()
    try:
        wait_for(watcher.idling.is_set, "IDLE")
        dovecot.append(user, make_mail("First"))
        wakes.wait("new mail")
        # The server drops every session of the user; the watcher comes back by itself.
        kicked = subprocess.run(
            ["doveadm", "-c", str(dovecot.config), "kick", user], capture_output=True, check=False
        )
        assert kicked.returncode == 0, kicked.stderr
        wakes.wait("the wake-up after reconnecting (mail may have come meanwhile)")
        wait_for(watcher.idling.is_set, "IDLE again")
        dovecot.append(user, make_mail("Second"))
        wakes.wait("new mail after the reconnect")
    finally:
        watcher.stop()
        assert watcher.join(10)


def test_idle_watcher_reissues_idle_and_still_hears_new_mail(dovecot: Dovecot) -> None:
    user = dovecot.user("reissue")
    wakes = Wakes()
    watcher = IdleWatcher(dovecot.job(user), wakes, reissue=0.2)  # production: 10 minutes
    offset = dovecot.log_offset()
    watcher.start()
    try:
        wait_for(watcher.idling.is_set, "IDLE")
        time.sleep(1.0)  # a few DONE / IDLE rounds
        logins = dovecot.log_since(offset).count("imap-login: Info: Login:")
        assert logins == 1, "re-issued on the same session, not reconnected"
        dovecot.append(user, make_mail("After re-issuing"))
        wakes.wait("new mail")
        assert wakes.count == 1
    finally:
        watcher.stop()
        assert watcher.join(10)


def test_idle_watcher_steps_aside_on_a_server_without_idle(
    dovecot: Dovecot, caplog: pytest.LogCaptureFixture
) -> None:
    plain = dovecot.variant("noidle", imap_capability=BASIC_CAPABILITIES.replace(" IDLE", ""))
    job = plain.job(plain.user(), security="none", name="Old server")
    watcher = IdleWatcher(job, Wakes())
    watcher.start()
    assert watcher.join(20), "the watcher ends; the schedule drives the job"
    lines = [r.getMessage() for r in caplog.records if "does not offer IMAP IDLE" in r.getMessage()]
    assert lines == [
        "job Old server: the server does not offer IMAP IDLE; new mail waits for the schedule"
    ]


# ---- in process: Maildir events ----------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "wakes"),
    [
        (FileMovedEvent("/m/tmp/1.M1P1.h", "/m/new/1.M1P1.h"), True),  # a delivery
        (FileCreatedEvent("/m/new/1.M1P1.h"), True),  # written in place, or moved in from afar
        (FileClosedEvent("/m/cur/1.M1P1.h:2,"), True),
        (FileMovedEvent("/m/new/1.M1P1.h", "/m/cur/1.M1P1.h:2,S"), False),  # our mark_seen
        (FileMovedEvent("/m/new/1.M1P1.h", "/m/.Done/new/1.M1P1.h"), False),  # our move
        (FileDeletedEvent("/m/new/1.M1P1.h"), False),  # our delete
        (FileCreatedEvent("/m/tmp/1.M1P1.h"), False),  # still being written
        (FileCreatedEvent("/m/.Done/new/1.M1P1.h"), False),  # another folder
        (FileCreatedEvent("/m/new/.hidden"), False),
        (DirCreatedEvent("/m/new/sub"), False),
    ],
)
def test_maildir_events_that_mean_new_mail(event: FileSystemEvent, wakes: bool) -> None:
    assert signals_new_mail(event, Path("/m")) is wakes


# ---- in process: the job lock ------------------------------------------------------------


def test_one_instance_owns_a_job_the_other_takes_over(
    postgresql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host_a, host_b = Store(postgresql_url, tmp_path / "a"), Store(postgresql_url, tmp_path / "b")
    locks_a, locks_b = JobLocks(host_a), JobLocks(host_b)
    try:
        lock_a, lock_b = locks_a.for_job("Support"), locks_b.for_job("Support")
        assert isinstance(lock_a, AdvisoryLock)
        assert lock_a.acquire() and lock_a.held()
        assert not lock_b.acquire()
        assert locks_b.for_job("Other").acquire(), "one lock per job"

        # A worker whose job is owned elsewhere does not run it, and takes over once freed.
        monkeypatch.setattr(worker_module, "LOCK_RETRY", 0.1)
        runs: list[str] = []

        def runner(_store: Store, job: JobConfig, _stop: Callable[[], bool]) -> RunSummary:
            runs.append(job.name)
            return RunSummary(job=job.name)

        job = JobConfig(name="Support", protocol=Protocol.MAILDIR, path=tmp_path, schedule="1h")
        waiting = JobWorker(host_b, job, lock_b, runner=runner)
        waiting.start()
        time.sleep(0.5)
        assert runs == []
        lock_a.release()
        wait_for(lambda: runs, "the take-over")
        waiting.stop()
        assert waiting.join(10)
        assert lock_a.acquire(), "the stopped worker let go of the job"
        lock_a.release()
    finally:
        for locks, store in ((locks_a, host_a), (locks_b, host_b)):
            locks.dispose()
            store.dispose()


def test_run_once_leaves_alone_a_job_that_serve_works(
    dovecot: Dovecot, database_url: str, store: Store, tmp_path: Path
) -> None:
    """Two real processes, one database: run-once takes the lock serve holds, or stands aside."""
    user = dovecot.user("owned")
    dovecot.append(user, make_mail("Before the run"))
    job = imap_job(dovecot, user, "Support", schedule="1h", idle=False, after_processing="delete")
    config = write_config(tmp_path / "deskmail.toml", database_url, [job])
    env = {**os.environ, PASSWORD_ENV: Dovecot.password}
    env.pop("DESKMAIL_DATABASE_URL", None)

    def run_once() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*DESKMAIL, "run-once", "--config", str(config)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    with serving(config) as daemon:
        wait_for(lambda: finished_runs(store, "Support"), "serve's first run")
        assert dovecot.count(user) == 0
        for n in range(3):
            dovecot.append(user, make_mail(f"While served {n}"))
        skipped = run_once()
        assert skipped.returncode == 0, skipped.stdout + skipped.stderr
        assert skipped.stdout == (
            "Support: skipped, the job is being worked by another run (lock held)\n"
        )
        assert dovecot.count(user) == 3, "the mailbox was not touched"
        assert len(finished_runs(store, "Support")) == 1 and subjects(store) == ["Before the run"]
        daemon.send(signal.SIGTERM)
        assert daemon.exit_code() == 0, daemon.log()

    # serve let go of the job: the next run works it.
    after = run_once()
    assert after.returncode == 0, after.stdout + after.stderr
    assert "Support: fetched 3, created 3" in after.stdout
    assert dovecot.count(user) == 0


def test_a_job_lock_is_one_per_job_and_freed_on_release(store: Store) -> None:
    one, two = JobLocks(store), JobLocks(store)  # as two processes would
    try:
        support = one.for_job("Support")
        assert not isinstance(support, LocalLock)
        assert support.acquire() and support.held()
        assert not two.for_job("Support").acquire()
        other = two.for_job("Other")
        assert other.acquire(), "one lock per job"
        other.release()
        support.release()
        again = two.for_job("Support")
        assert again.acquire()
        again.release()
    finally:
        one.dispose()
        two.dispose()


# ---- in process: backoff -------------------------------------------------------------------


def test_worker_backs_off_after_failures_and_resets_after_a_success(tmp_path: Path) -> None:
    job = JobConfig(name="Flaky", protocol=Protocol.MAILDIR, path=tmp_path, schedule="1h")
    worker = JobWorker(None, job, LocalLock(), rng=random.Random(3))  # type: ignore[arg-type]
    failed, ok = RunSummary(job="Flaky", failure="connect failed"), RunSummary(job="Flaky")
    now = datetime.now()
    delays = [worker.delay_after(failed, now) for _ in range(6)]
    assert delays == sorted(delays) and delays[0] <= 5 < 40 <= delays[-1]
    assert worker.delay_after(ok, now) >= 3600 - 1  # back on the schedule
    assert worker.delay_after(failed, now) <= 5  # and the next failure starts small again


def test_a_pass_that_raises_is_a_failure_not_the_end_of_the_worker(tmp_path: Path) -> None:
    def broken(_store: Store, _job: JobConfig, _stop: Callable[[], bool]) -> RunSummary:
        raise RuntimeError("the database went away")

    job = JobConfig(name="Unlucky", protocol=Protocol.MAILDIR, path=tmp_path, schedule="1h")
    worker = JobWorker(None, job, LocalLock(), runner=broken)  # type: ignore[arg-type]
    assert worker.run_once() <= 5  # retried after the first backoff delay


def test_an_oauth2_job_idles_with_its_token(
    dovecot: Dovecot, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.fernet import Fernet

    from deskmail.config.oauth2 import OAuth2Config
    from deskmail.daemon.worker import watcher_for
    from tests.support.identity import identity_platform

    monkeypatch.setenv("DESKMAIL_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setenv("APP_SECRET", "app-secret")
    server = dovecot.oauth2
    assert server.oauth2_key is not None
    mailbox = f"{dovecot.user('idle')}@contoso.example"
    with identity_platform(tmp_path) as platform:
        platform.key = server.oauth2_key
        app = platform.register(secret="app-secret", mailbox=mailbox)
        oauth2 = OAuth2Config(
            tenant=platform.tenant,
            client_id=app.client_id,
            client_secret_env="APP_SECRET",
            authority=platform.url,
            ca_file=platform.ca_file,
        )
        job = server.job(
            mailbox, "imap", "ssl", auth_mechanism="xoauth2", oauth2=oauth2, password=None
        )
        wakes = Wakes()
        assert watcher_for(job, wakes) is None  # no store for its token cache: the schedule
        watcher = watcher_for(job, wakes, store)
        assert isinstance(watcher, IdleWatcher)
        watcher.start()
        try:
            wait_for(watcher.idling.is_set, "IDLE")
            server.append(mailbox, make_mail("Over XOAUTH2"))
            wakes.wait("new mail")
        finally:
            watcher.stop()
            assert watcher.join(10)


# ---- jobs kept in the database (the jobs catalog) ----------------------------------


def _deskmail(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    env.pop("DESKMAIL_DATABASE_URL", None)
    return subprocess.run(
        [*DESKMAIL, *args, "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_serve_runs_a_job_imported_into_the_database_without_a_restart(
    dovecot: Dovecot,
    database_url: str,
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A real serve, a real import through the command line, the test Dovecot: the job's
    password (entered in clear in the imported file) is stored sealed, reaches Dovecot,
    and never shows in the daemon's log, the listing or the export."""
    from deskmail.jobs.catalog import JobCatalog
    from tests.support.dovecot import UNICODE_PASSWORD, UNICODE_USER

    monkeypatch.setenv("DESKMAIL_SECRET_KEY", _secret_key())
    root = maildir(tmp_path)
    config = write_config(tmp_path / "deskmail.toml", database_url, [maildir_job(root, "Filed")])
    job = job_table(dovecot.job(UNICODE_USER), name="Stored", schedule="1h", idle=True)
    job["password"] = UNICODE_PASSWORD
    imported = write_config(tmp_path / "import.toml", database_url, [job])
    imported.write_text("[[jobs]]" + imported.read_text("utf-8").split("[[jobs]]", 1)[1], "utf-8")

    with serving(config) as daemon:
        daemon.wait_for_log("job Filed: started")
        done = _deskmail(config, "config", "import", str(imported))
        assert done.returncode == 0, done.stdout + done.stderr
        daemon.wait_for_log("job Stored: started")
        daemon.wait_for_log("waiting for new mail")  # logged in to Dovecot with the password
        dovecot.append(UNICODE_USER, make_mail("Made by a database job"))
        wait_for(lambda: "Made by a database job" in subjects(store), "the stored job's ticket")

        # A bad change is refused with its key; the running job is untouched.
        from deskmail.config.errors import ConfigError
        from deskmail.config.loader import load_config

        catalog = JobCatalog(load_config(config), store)
        with pytest.raises(ConfigError) as refused:
            catalog.update("Stored", {"port": 0})
        assert str(refused.value) == 'jobs ("Stored").port: must be between 1 and 65535 (got 0)'

        # Disabled through the command line: stopped within seconds, the file's job kept.
        done = _deskmail(config, "jobs", "disable", "Stored")
        assert done.returncode == 0, done.stdout + done.stderr
        daemon.wait_for_log("job Stored: stopped")
        daemon.wait_for_log("0 job(s) started, 1 kept, 1 stopped")
        listing = _deskmail(config, "jobs", "list").stdout
        exported = _deskmail(config, "config", "export").stdout
        daemon.send(signal.SIGTERM)
        assert daemon.exit_code() == 0, daemon.log()
    assert re.search(r"\nStored +database +imap +disabled +2 +password set\n", listing), listing
    assert 'password_env = "DESKMAIL_STORED_PASSWORD"' in exported
    for text in (daemon.log(), listing, exported):
        assert UNICODE_PASSWORD not in text


@sqlite_only
def test_a_stored_revision_that_cannot_be_loaded_is_reported_once_and_the_job_keeps_running(
    database_url: str, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import update

    from deskmail.config.loader import load_config
    from deskmail.jobs.catalog import JobCatalog
    from deskmail.store.models import StoredJob

    monkeypatch.setenv("DESKMAIL_SECRET_KEY", _secret_key())
    root = maildir(tmp_path)
    config = write_config(tmp_path / "deskmail.toml", database_url, [])
    JobCatalog(load_config(config), store).create(maildir_job(root, "Drop box"))
    with serving(config) as daemon:
        daemon.wait_for_log(f"watching {root}")
        # As a newer deskmail would write it: a setting this one does not know.
        with store.transaction() as session:
            session.execute(
                update(StoredJob)
                .where(StoredJob.name == "Drop box")
                .values(
                    settings='{"protocol": "maildir", "path": "x", "future_key": 1}', revision=2
                )
            )
        log = daemon.wait_for_log("still running its last good settings")
        assert 'job "Drop box" (database, revision 2) cannot be loaded' in log
        assert "future_key: unknown key" in log
        deliver(root, make_mail("Still served"))
        wait_for(lambda: "Still served" in subjects(store), "a ticket from the last good job")
        time.sleep(2.5)  # a few more polls: no second report
        daemon.send(signal.SIGTERM)
        assert daemon.exit_code() == 0, daemon.log()
    assert daemon.log().count("cannot be loaded") == 1
    assert subjects(store).count('Configuration error: job "Drop box" revision 2 refused') == 1


def _secret_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def test_two_instances_on_one_postgresql_see_the_same_database_job(
    postgresql_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deskmail.config.loader import load_config
    from deskmail.jobs.catalog import JobCatalog
    from deskmail.store.migrate import upgrade

    monkeypatch.setenv("DESKMAIL_SECRET_KEY", _secret_key())
    upgrade(postgresql_url)
    store = Store(postgresql_url, tmp_path / "blobs")
    root = maildir(tmp_path)
    configs = [
        write_config(tmp_path / f"host-{host}.toml", postgresql_url, []) for host in ("a", "b")
    ]
    try:
        with serving(configs[0]) as first, serving(configs[1]) as second:
            for daemon in (first, second):
                daemon.wait_for_log("no enabled job")
            JobCatalog(load_config(configs[0]), store).create(maildir_job(root, "Shared"))
            # The job is shared out: one instance takes its lease and runs it.
            wait_for(lambda: "job Shared: started" in first.log() + second.log(), "the job started")
            for n in range(3):
                deliver(root, make_mail(f"Shared {n}"))
            wait_for(lambda: subjects(store) == [f"Shared {n}" for n in range(3)], "3 tickets")
            logs = first.log() + second.log()
            assert logs.count("job Shared: started") == 1, logs  # one holder...
            assert "job Shared: not ours to run" not in logs  # ...the other holds no lease
            for daemon in (first, second):
                daemon.send(signal.SIGTERM)
                assert daemon.exit_code() == 0, daemon.log()
    finally:
        store.dispose()


def test_the_listener_hears_a_catalog_change_on_postgresql(
    postgresql_url: str, tmp_path: Path
) -> None:
    from cryptography.fernet import Fernet, MultiFernet

    from deskmail.config.models import DeskmailConfig
    from deskmail.daemon.stored_jobs import ChangeListener
    from deskmail.jobs.catalog import JobCatalog
    from deskmail.store.migrate import upgrade

    upgrade(postgresql_url)
    store = Store(postgresql_url, tmp_path / "blobs")
    wakes = Wakes()
    listener = ChangeListener(store, wakes)
    listener.start()
    try:
        wait_for(lambda: wakes.count, "the wake on connecting")
        before = wakes.count
        catalog = JobCatalog(DeskmailConfig(), store, lambda: MultiFernet([Fernet(_secret_key())]))
        catalog.create(maildir_job(maildir(tmp_path), "Heard"))
        wait_for(lambda: wakes.count > before, "the wake for the change", timeout=5)
    finally:
        listener.stop()
        assert listener.join(5)
        store.dispose()
