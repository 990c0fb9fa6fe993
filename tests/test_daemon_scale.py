"""`deskmail serve` with many IMAP IDLE jobs: threads that do not grow with the jobs, exactly once.

Real Dovecot, a real `deskmail serve` process, SQLite and PostgreSQL. The
large figures (1,000 mailboxes) are bench/scale.py's; these stay small for CI.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from deskmail.daemon.scheduler import Scheduler
from deskmail.store.engine import Store
from deskmail.store.models import IntakeRecord, Ticket
from tests.support.dovecot import Dovecot, make_mail
from tests.support.toml_config import write_config
from tests.test_daemon import imap_job, serving, subjects, wait_for

pytestmark = pytest.mark.slow


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no Threads: line")


def test_twenty_idle_jobs_on_one_serve_keep_its_threads_and_ticket_each_mail_once(
    dovecot: Dovecot, database_url: str, store: Store, tmp_path: Path
) -> None:
    users = [dovecot.user(f"scale{n}x") for n in range(20)]
    jobs = [
        imap_job(dovecot, user, f"Box {n}", schedule="1h", idle=True, after_processing="delete")
        for n, user in enumerate(users)
    ]
    config = tmp_path / "deskmail.toml"
    write_config(config, database_url, jobs[:5])
    offset = dovecot.log_offset()
    with serving(config) as daemon:
        daemon.wait_for_log("waiting for new mail", count=5)
        pid = daemon.process.pid
        with_five = _threads(pid)

        write_config(config, database_url, jobs)
        daemon.send(signal.SIGHUP)
        daemon.wait_for_log("15 job(s) started, 5 kept, 0 stopped")
        daemon.wait_for_log("waiting for new mail", count=20, timeout=60)
        with_twenty = _threads(pid)
        assert with_twenty == with_five, "the daemon's threads do not grow with its jobs"

        for n, user in enumerate(users):
            dovecot.append(user, make_mail(f"To box {n}"))
        wanted = sorted(f"To box {n}" for n in range(20))
        wait_for(lambda: subjects(store) == wanted, "a ticket for each of the 20 mails", 90)
        for user in users:
            wait_for(lambda user=user: dovecot.count(user) == 0, f"{user}'s mail acknowledged")
        daemon.send(signal.SIGTERM)
        assert daemon.exit_code() == 0, daemon.log()

    assert subjects(store) == wanted, "each mail ticketed exactly once"
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(IntakeRecord)) == 20
        assert session.scalar(select(func.count()).select_from(Ticket)) == 20
    log = daemon.log()
    assert all(f"job Box {n}: stopped" in log for n in range(20)), log
    assert "left behind" not in log
    # Every IDLE session ended with DONE and LOGOUT, none was cut off (Dovecot logs a bit later).
    time.sleep(1.0)
    served = dovecot.log_since(offset)
    sessions = [line for line in served.splitlines() if any(f"({user})" in line for user in users)]
    assert len(sessions) >= 40, sessions  # 20 IDLE sessions and a pass per job at least
    assert not [line for line in sessions if "Logged out" not in line], sessions


def test_a_wake_during_a_pass_runs_the_job_again_never_twice_at_once() -> None:
    """The scheduler's promise, in process: one step of a task at a time; a wake is not lost."""
    scheduler = Scheduler(4)
    scheduler.start()
    inside = threading.Semaphore(0)
    release = threading.Event()
    running, most, steps = [0], [0], [0]
    guard = threading.Lock()

    class Job:
        name = "Job"

        def step(self) -> float | None:
            with guard:
                running[0] += 1
                most[0] = max(most[0], running[0])
                steps[0] += 1
                number = steps[0]
            inside.release()
            if number == 1:
                release.wait(10)
            with guard:
                running[0] -= 1
            return None if number == 2 else 3600.0

    job = Job()
    try:
        scheduler.add(job)
        assert inside.acquire(timeout=10)  # the first step is running
        for _ in range(5):
            scheduler.wake(job)  # woken while it runs: once more afterwards, not five times
        release.set()
        assert inside.acquire(timeout=10), "the wake during the step ran it again"
        assert scheduler.join(job, 10)
        assert steps[0] == 2 and most[0] == 1
    finally:
        scheduler.stop(10)
    assert not scheduler.alive()


def test_job_locks_of_many_jobs_hold_one_postgresql_connection(
    postgresql_url: str, tmp_path: Path
) -> None:
    from deskmail.daemon.locks import JobLocks

    host_a, host_b = Store(postgresql_url, tmp_path / "a"), Store(postgresql_url, tmp_path / "b")
    locks_a, locks_b = JobLocks(host_a), JobLocks(host_b)

    def lock_sessions() -> int:
        with host_b.session() as session:
            query = (
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE application_name = :name AND datname = current_database()"
            )
            return int(session.scalar(text(query), {"name": "deskmail job lock"}) or 0)

    try:
        held = [locks_a.for_job(f"Job {n}") for n in range(50)]
        assert all(lock.acquire() for lock in held)
        assert lock_sessions() == 1, "fifty jobs, one lock session"
        assert not any(locks_b.for_job(f"Job {n}").acquire() for n in range(50))
        assert not locks_a.for_job("Job 7").acquire(), "held here already, for another worker"
        held[7].release()
        taken = locks_b.for_job("Job 7")
        assert taken.acquire() and taken.held(), "a released job is free for the other instance"
        for lock in held:
            lock.release()
        wait_for(lambda: lock_sessions() == 1, "the idle lock session closed")  # b's stays
        taken.release()
        wait_for(lambda: lock_sessions() == 0, "no lock held, no lock session")
    finally:
        for locks, store in ((locks_a, host_a), (locks_b, host_b)):
            locks.dispose()
            store.dispose()


def test_a_step_stuck_on_its_server_does_not_hold_up_the_other_jobs() -> None:
    """One thread, one task that hangs (a server that never answers): the pool grows by
    one for it, the other task runs, and the extra thread leaves once the hang ends."""
    scheduler = Scheduler(1, most=4, stall_after=0.2)
    scheduler.start()
    hung, unhang, ran = threading.Event(), threading.Event(), threading.Event()

    class Hanging:
        name = "Hanging"

        def step(self) -> float | None:
            hung.set()
            unhang.wait(20)
            return None

    class Other:
        name = "Other"

        def step(self) -> float | None:
            ran.set()
            return None

    try:
        hanging = Hanging()
        scheduler.add(hanging)
        assert hung.wait(10)
        scheduler.add(Other())
        assert not ran.wait(0.5), "the only thread is stuck"
        scheduler.rebalance()
        assert ran.wait(10), "a thread was added beside the stuck one"
        assert scheduler.threads() == 2
        unhang.set()
        assert scheduler.join(hanging, 10)
        scheduler.rebalance()
        wait_for(lambda: scheduler.threads() == 1, "the extra thread to leave")
        assert scheduler.alive()
    finally:
        unhang.set()
        scheduler.stop(10)
