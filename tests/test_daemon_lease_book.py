"""The lease table's statements on a real PostgreSQL (daemon/lease_book.py), in process.

Time is moved by the database, not by sleeping: a lease is made to expire by
setting its expires_at into the past, as the clock would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from deskmail.cli import main
from deskmail.daemon.lease_book import LeaseBook
from deskmail.store.daemon_state import LeaseHistory
from deskmail.store.engine import Store
from deskmail.store.migrate import upgrade
from tests.support.toml_config import write_config
from tests.test_daemon_leases import assert_never_held_twice

JOBS = [f"Job {n}" for n in range(6)]


@pytest.fixture
def pg(postgresql_url: str, tmp_path: Path) -> Iterator[Store]:
    upgrade(postgresql_url)
    store = Store(postgresql_url, tmp_path / "blobs")
    yield store
    store.dispose()


def _book(store: Store, name: str) -> LeaseBook:
    book = LeaseBook(store.engine, name, lease_seconds=15)
    book.register(f"host-{name}", 100)
    return book


def _expire(store: Store, holder: str) -> None:
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE job_lease SET expires_at = now() - interval '1 second'"
                " WHERE holder = :holder"
            ),
            {"holder": holder},
        )
        connection.execute(
            text(
                "UPDATE daemon_instance SET heartbeat_at = now() - interval '1 minute'"
                " WHERE id = :holder"
            ),
            {"holder": holder},
        )


def test_leases_are_taken_once_renewed_lost_on_expiry_and_history_kept(pg: Store) -> None:
    a, b = _book(pg, "a"), _book(pg, "b")
    mine = a.take(JOBS, 3, mine=[], cooling=[])
    assert len(mine) == 3
    theirs = b.take(JOBS, 6, mine=[], cooling=[])
    assert sorted(mine + theirs) == JOBS, "b takes only what a does not hold"
    renewal = a.renew(JOBS, "host-a", 100)
    assert renewal.renewed == frozenset(mine)
    assert renewal.counts == {"a": 3, "b": 3}

    _expire(pg, "a")  # a stopped renewing (killed) and its lease time ran out
    assert b.renew(JOBS, "host-b", 100).counts == {"b": 3}, "a is no longer live"
    taken = b.take(JOBS, 6, mine=theirs, cooling=[])
    assert sorted(taken) == sorted(mine), "b takes over a's expired leases"
    assert a.renew(JOBS, "host-a", 100).renewed == frozenset(), "a's leases are lost"
    assert_never_held_twice(pg)
    with pg.session() as session:
        a_rows = session.execute(
            select(LeaseHistory.held_until).where(LeaseHistory.holder == "a")
        ).all()
    assert len(a_rows) == 3 and all(until is not None for (until,) in a_rows)


def test_a_job_handed_over_is_not_taken_back_while_free_but_is_once_expired(pg: Store) -> None:
    a, b = _book(pg, "a"), _book(pg, "b")
    assert a.take(["Job 0"], 1, mine=[], cooling=[]) == ["Job 0"]
    a.give_up(["Job 0"])
    assert a.take(["Job 0"], 1, mine=[], cooling=["Job 0"]) == [], "free: left to another"
    assert b.take(["Job 0"], 1, mine=[], cooling=[]) == ["Job 0"]
    _expire(pg, "b")
    assert a.take(["Job 0"], 1, mine=[], cooling=["Job 0"]) == ["Job 0"], "its holder died"
    assert_never_held_twice(pg)


def test_instances_taking_at_once_never_take_the_same_job(pg: Store) -> None:
    books = [_book(pg, f"i{n}") for n in range(4)]
    jobs = [f"Job {n}" for n in range(40)]
    taken: dict[str, list[str]] = {}
    start = threading.Barrier(len(books))

    def take(book: LeaseBook) -> None:
        start.wait()
        taken[book.instance] = book.take(jobs, 40, mine=[], cooling=[])

    threads = [threading.Thread(target=take, args=(book,)) for book in books]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    everything = [job for held in taken.values() for job in held]
    assert sorted(everything) == sorted(jobs), "each job taken by exactly one instance"
    assert_never_held_twice(pg)


def test_status_lists_instances_their_jobs_and_marks_the_stale_one(
    pg: Store, postgresql_url: str, tmp_path: Path
) -> None:
    a, b = _book(pg, "a"), _book(pg, "b")
    a.take(["Job 0", "Job 1"], 2, mine=[], cooling=[])
    b.take(["Job 2"], 1, mine=[], cooling=[])
    _expire(pg, "b")
    config = write_config(
        tmp_path / "deskmail.toml",
        postgresql_url,
        [{"name": f"Job {n}", "protocol": "maildir", "path": str(tmp_path)} for n in range(3)],
    )
    result = CliRunner().invoke(main, ["status", "--config", str(config)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("a: host host-a pid 100, heartbeat ") and "STALE" not in lines[0]
    assert lines[1] == "  jobs (2): Job 0, Job 1"
    assert lines[2].startswith("b: host host-b pid 100") and lines[2].endswith(
        "STALE (presumed dead)"
    )
    assert lines[3] == "  jobs (0): none", "an expired lease is held by no one"
    assert lines[4] == "held by no live instance (1): Job 2"


def test_status_on_sqlite_lists_each_serve_by_its_heartbeat(tmp_path: Path) -> None:
    from datetime import timedelta

    from deskmail.daemon.heartbeat import Heartbeat
    from deskmail.store.daemon_state import SchedulerHeartbeat
    from deskmail.store.models import utcnow

    url = f"sqlite:///{tmp_path / 'deskmail.db'}"
    upgrade(url)
    store = Store(url, tmp_path / "blobs")
    try:
        beating = Heartbeat(store)
        beating.beat()
        with store.transaction() as session:  # a serve that stopped beating an hour ago
            then = utcnow() - timedelta(hours=1)
            session.add(SchedulerHeartbeat(instance="old-host:4242", started_at=then, beat_at=then))
    finally:
        store.dispose()
    config = write_config(
        tmp_path / "deskmail.toml", url, [{"name": "Job", "protocol": "maildir", "path": "m"}]
    )
    result = CliRunner().invoke(main, ["status", "--config", str(config)])
    assert result.exit_code == 0, result.output
    lines = dict(
        zip(result.output.splitlines()[::2], result.output.splitlines()[1::2], strict=True)
    )
    host, pid = beating.instance.rsplit(":", 1)
    (live,) = [line for line in lines if line.startswith(f"{beating.instance}: ")]
    assert live.startswith(f"{beating.instance}: host {host} pid {pid}, heartbeat ")
    assert "STALE" not in live and float(live.split("heartbeat ")[1].split(" s")[0]) < 60
    (old,) = [line for line in lines if line.startswith("old-host:4242: ")]
    assert old.startswith("old-host:4242: host old-host pid 4242, heartbeat ")
    assert 3590 < float(old.split("heartbeat ")[1].split(" s")[0]) < 3660
    assert old.endswith("STALE (presumed dead)")
    assert set(lines.values()) == {
        "  jobs: every enabled job (SQLite: one host, a file lock per job)"
    }
