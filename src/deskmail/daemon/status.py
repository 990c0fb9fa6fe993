"""`deskmail status`: every running instance, its heartbeat, and the jobs it holds.

Read from the database only, ages by the database's clock (the one the leases
use). PostgreSQL: the instances sharing the jobs (daemon_instance) and their
leases, stale instances marked, and the jobs no live instance holds. SQLite is
one host: each `serve`'s scheduler heartbeat, every enabled job held by it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import select

from deskmail.store.daemon_state import SchedulerHeartbeat
from deskmail.store.engine import Store
from deskmail.store.models import utcnow


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
    if not store.is_postgresql:
        return ClusterStatus(False, _one_host(store, stale_after), [])
    with store.engine.connect() as connection:
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


def _one_host(store: Store, stale_after: float) -> list[InstanceStatus]:
    """SQLite: each `serve`'s scheduler heartbeat (daemon/heartbeat.py), written with this
    host's clock, which is the clock its age is read by."""
    now = utcnow()
    with store.session() as session:
        beats = session.scalars(select(SchedulerHeartbeat).order_by(SchedulerHeartbeat.instance))
        found = []
        for beat in beats:
            age = (now - beat.beat_at).total_seconds()
            host, _sep, pid = beat.instance.rpartition(":")
            found.append(
                InstanceStatus(
                    beat.instance,
                    host,
                    int(pid) if pid.isdigit() else None,
                    age,
                    age > stale_after,
                    None,
                )
            )
    return found
