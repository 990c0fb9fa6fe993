"""Several `deskmail serve` on one PostgreSQL database share the jobs through leases.

Real Dovecot, real PostgreSQL, real serve processes; short leases (4 s, renewed
every second) keep it quick. Asserted from the outcome: who holds what
(`deskmail status --json` and the lease table), the lease history (no job ever
held by two instances at once), and each mail ticketed exactly once, also
when it arrives while a killed instance's jobs are being taken over.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from deskmail.store.daemon_state import JobLease, LeaseHistory
from deskmail.store.engine import Store
from deskmail.store.migrate import upgrade
from deskmail.store.models import IntakeRecord
from tests.support.dovecot import Dovecot, make_mail
from tests.support.toml_config import write_config
from tests.test_daemon import DESKMAIL, imap_job, serving, subjects, wait_for

pytestmark = pytest.mark.slow

CLUSTER = "\n[cluster]\nlease_seconds = 4\nrenew_seconds = 1\n"


def _configs(tmp_path: Path, url: str, jobs: list[dict[str, Any]], hosts: str) -> list[Path]:
    """One file per instance (each serve's output goes beside its file), the same jobs."""
    paths = []
    for host in hosts:
        path = write_config(tmp_path / f"host-{host}.toml", url, jobs, tmp_path / "blobs")
        path.write_text(path.read_text("utf-8") + CLUSTER, "utf-8")
        paths.append(path)
    return paths


def _status(config: Path) -> dict[str, Any]:
    done = subprocess.run(
        [*DESKMAIL, "status", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "DESKMAIL_DATABASE_URL"},
    )
    status: dict[str, Any] = json.loads(done.stdout)
    return status


def _held_by_pid(config: Path) -> dict[int, set[str]]:
    """Live instances' jobs, by pid."""
    return {
        instance["pid"]: set(instance["jobs"])
        for instance in _status(config)["instances"]
        if not instance["stale"]
    }


def _counts_by_pid(config: Path) -> dict[int, int]:
    """How many jobs each live instance holds, by pid."""
    return {pid: len(held) for pid, held in _held_by_pid(config).items()}


def _history(store: Store) -> list[tuple[str, str, datetime, datetime | None]]:
    with store.session() as session:
        rows = session.execute(
            select(
                LeaseHistory.job,
                LeaseHistory.holder,
                LeaseHistory.held_from,
                LeaseHistory.held_until,
            ).order_by(LeaseHistory.job, LeaseHistory.held_from, LeaseHistory.id)
        ).all()
    return [(job, holder, start, until) for job, holder, start, until in rows]


def assert_never_held_twice(store: Store) -> None:
    """Each job's holdings, in order, end before the next begins (an open one only last)."""
    by_job: dict[str, list[tuple[str, datetime, datetime | None]]] = {}
    for job, holder, start, until in _history(store):
        by_job.setdefault(job, []).append((holder, start, until))
    for job, spans in by_job.items():
        for (holder, _start, until), (after, start, _until) in itertools.pairwise(spans):
            assert until is not None, f"{job}: {holder} still holds it, yet {after} took it"
            assert until <= start, f"{job}: {holder} until {until}, {after} from {start}"


def _tickets_once(store: Store, wanted: list[str]) -> None:
    wait_for(lambda: subjects(store) == sorted(wanted), f"the {len(wanted)} tickets", 60)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(IntakeRecord)) == len(wanted)


@pytest.fixture
def pg_store(postgresql_url: str, tmp_path: Path) -> Any:
    upgrade(postgresql_url)
    store = Store(postgresql_url, tmp_path / "blobs")
    yield store
    store.dispose()


def test_leases_are_taken_renewed_and_shared_with_a_joining_instance(
    dovecot: Dovecot, postgresql_url: str, pg_store: Store, tmp_path: Path
) -> None:
    users = [dovecot.user(f"lease{n}x") for n in range(6)]
    jobs = [
        imap_job(dovecot, user, f"Box {n}", schedule="1h", after_processing="delete")
        for n, user in enumerate(users)
    ]
    first_config, second_config = _configs(tmp_path, postgresql_url, jobs, "ab")
    names = {f"Box {n}" for n in range(6)}
    with serving(first_config) as first:
        first.wait_for_log("waiting for new mail", count=6, timeout=60)
        assert _held_by_pid(first_config) == {first.process.pid: names}, "alone: every job"

        with pg_store.session() as session:
            renewed = session.scalar(select(func.min(JobLease.renewed_at)))
        assert renewed is not None

        def renewed_since() -> bool:
            with pg_store.session() as session:
                oldest = session.scalar(select(func.min(JobLease.renewed_at)))
            return oldest is not None and oldest > renewed

        wait_for(renewed_since, "every lease renewed")

        with serving(second_config) as second:
            wanted = {first.process.pid: 3, second.process.pid: 3}
            wait_for(lambda: _counts_by_pid(first_config) == wanted, "three jobs each", 60)
            held = _held_by_pid(first_config)
            assert held[first.process.pid] | held[second.process.pid] == names
            second.wait_for_log("waiting for new mail", count=3, timeout=60)
            for n, user in enumerate(users):
                dovecot.append(user, make_mail(f"Shared {n}"))
            _tickets_once(pg_store, [f"Shared {n}" for n in range(6)])
            for daemon in (second, first):
                daemon.send(signal.SIGTERM)
                assert daemon.exit_code() == 0, daemon.log()
    assert "handing over" in first.log()
    assert_never_held_twice(pg_store)
    assert all(until is not None for *_rest, until in _history(pg_store)), "all released"
    assert _status(first_config)["instances"] == [], "a clean stop leaves the instance table"


def test_a_killed_instances_jobs_are_taken_over_and_a_mail_meanwhile_ticketed_once(
    dovecot: Dovecot, postgresql_url: str, pg_store: Store, tmp_path: Path
) -> None:
    users = [dovecot.user(f"fail{n}x") for n in range(4)]
    jobs = [
        imap_job(dovecot, user, f"Box {n}", schedule="1h", after_processing="delete")
        for n, user in enumerate(users)
    ]
    first_config, second_config = _configs(tmp_path, postgresql_url, jobs, "ab")
    with serving(first_config) as first, serving(second_config) as second:
        pids = {first.process.pid, second.process.pid}
        wait_for(
            lambda: _counts_by_pid(first_config) == dict.fromkeys(pids, 2),
            "two jobs each",
            60,
        )
        for daemon in (first, second):
            daemon.wait_for_log("waiting for new mail", count=2, timeout=60)
        victim, survivor = first, second
        lost = _held_by_pid(first_config)[victim.process.pid]
        victim.process.kill()  # SIGKILL: no lease released, no goodbye
        victim.process.wait(10)
        # Mail for the dead instance's mailboxes, while its leases have not expired yet.
        for n, user in enumerate(users):
            dovecot.append(user, make_mail(f"During the take-over {n}"))
        status = wait_for(
            lambda: (s := _status(first_config)) and any(i["stale"] for i in s["instances"]) and s,
            "the dead instance marked stale",
        )
        assert [i["pid"] for i in status["instances"] if i["stale"]] == [victim.process.pid]
        wait_for(
            lambda: (
                _held_by_pid(first_config).get(survivor.process.pid)
                == {f"Box {n}" for n in range(4)}
            ),
            "every job taken over by the survivor",
            30,
        )
        _tickets_once(pg_store, [f"During the take-over {n}" for n in range(4)])
        for user in users:
            wait_for(lambda user=user: dovecot.count(user) == 0, f"{user}'s mail acknowledged")
        survivor.send(signal.SIGTERM)
        assert survivor.exit_code() == 0, survivor.log()
    history = _history(pg_store)
    taken_over = [row for row in history if row[0] in lost and row[2] != history[0][2]]
    assert len({row[1] for row in history if row[0] in lost}) == 2, history
    assert taken_over, history
    assert_never_held_twice(pg_store)


def test_database_jobs_added_and_deleted_at_run_time_are_shared_and_released(
    postgresql_url: str, pg_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deskmail.config.loader import load_config
    from deskmail.jobs.catalog import JobCatalog
    from tests.test_daemon import _secret_key, deliver, maildir, maildir_job

    monkeypatch.setenv("DESKMAIL_SECRET_KEY", _secret_key())
    first_config, second_config = _configs(tmp_path, postgresql_url, [], "ab")
    roots = [maildir(tmp_path, f"Drop {n}") for n in range(4)]
    with serving(first_config) as first, serving(second_config) as second:
        for daemon in (first, second):
            daemon.wait_for_log("no enabled job")
        catalog = JobCatalog(load_config(first_config), pg_store)
        for n, root in enumerate(roots):
            catalog.create(maildir_job(root, f"Stored {n}"))
        pids = {first.process.pid, second.process.pid}
        wait_for(
            lambda: _counts_by_pid(first_config) == dict.fromkeys(pids, 2),
            "the four database jobs shared two and two",
            60,
        )
        for n, root in enumerate(roots):
            deliver(root, make_mail(f"Dropped {n}"))
        _tickets_once(pg_store, [f"Dropped {n}" for n in range(4)])

        catalog.delete("Stored 0")
        catalog.delete("Stored 1")
        wait_for(
            lambda: sum(_counts_by_pid(first_config).values()) == 2,
            "the deleted jobs' leases released",
            30,
        )
        held = set().union(*_held_by_pid(first_config).values())
        assert held == {"Stored 2", "Stored 3"}
        for daemon in (first, second):
            daemon.send(signal.SIGTERM)
            assert daemon.exit_code() == 0, daemon.log()
    assert_never_held_twice(pg_store)
    with pg_store.session() as session:
        open_spans = session.scalar(
            select(func.count()).select_from(LeaseHistory).where(LeaseHistory.held_until.is_(None))
        )
    assert open_spans == 0
