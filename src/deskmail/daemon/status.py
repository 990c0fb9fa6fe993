"""`deskmail status`: every running instance, its heartbeat, and the jobs it holds.

Read from the database only, ages by the database's clock (the one the leases
use). PostgreSQL: the instances sharing the jobs (daemon_instance) and their
leases, stale instances marked, and the jobs no live instance holds. SQLite is
one host: each `serve`'s scheduler heartbeat, every enabled job held by it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from deskmail.store.engine import Store


@dataclass(frozen=True)
class InstanceStatus:
    id: str
    host: str
    pid: int | None
    heartbeat_age: float  # seconds since its last heartbeat, by the database's clock
    stale: bool  # not beaten within lease_seconds: presumed dead, its leases expire
    jobs: list[str] | None  # the jobs it holds; None: every enabled job (SQLite)


@dataclass(frozen=True)
class ClusterStatus:
    shared: bool  # leases (PostgreSQL) rather than one host holding every job (SQLite)
    instances: list[InstanceStatus]
    unheld: list[str]  # jobs known to the leases that no live lease holds (PostgreSQL)


def read_status(store: Store, stale_after: float, known_jobs: set[str]) -> ClusterStatus:
    """`stale_after`: seconds without a heartbeat after which an instance is presumed dead.
    `known_jobs`: the jobs of the file and the database (a lease of a deleted job is not
    reported as waiting for a holder)."""
    with store.engine.connect() as connection:
        if not store.is_postgresql:
            rows = connection.execute(
                sa.text("SELECT instance, beat_at FROM scheduler_heartbeat ORDER BY instance")
            ).all()
            now = connection.execute(sa.text("SELECT CURRENT_TIMESTAMP")).scalar_one()
            instances = []
            for instance, beat_at in rows:
                age = _age(now, beat_at)
                host, _sep, pid = str(instance).rpartition(":")
                instances.append(
                    InstanceStatus(
                        str(instance),
                        host,
                        int(pid) if pid.isdigit() else None,
                        age,
                        age > stale_after,
                        None,
                    )
                )
            return ClusterStatus(False, instances, [])
        rows = connection.execute(
            sa.text(
                "SELECT id, host, pid, EXTRACT(EPOCH FROM now() - heartbeat_at)"
                " FROM daemon_instance ORDER BY host, pid, id"
            )
        ).all()
        leases = connection.execute(
            sa.text("SELECT job, holder, expires_at > now() FROM job_lease ORDER BY job")
        ).all()
    held: dict[str, list[str]] = {}
    live_held: set[str] = set()
    for job, holder, unexpired in leases:
        if holder is not None and unexpired:
            held.setdefault(str(holder), []).append(str(job))
    instances = []
    for instance, host, pid, age in rows:
        stale = float(age) > stale_after
        jobs = held.get(str(instance), [])
        if not stale:
            live_held.update(jobs)
        instances.append(
            InstanceStatus(str(instance), str(host), int(pid), float(age), stale, jobs)
        )
    unheld = sorted(job for job in known_jobs if job not in live_held)
    return ClusterStatus(True, instances, unheld)


def _age(now: object, then: object) -> float:
    """SQLite keeps times as text: seconds between two of them."""
    from datetime import UTC, datetime

    def parsed(value: object) -> datetime:
        when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return when if when.tzinfo else when.replace(tzinfo=UTC)

    return (parsed(now) - parsed(then)).total_seconds()
