"""Which jobs this instance holds: the one question the supervisor asks before starting workers.

- SQLite (one host), or a store without leases: every enabled job is held,
  and the per-job lock (locks.py, a flock) keeps a job to one process.
- PostgreSQL: the jobs are shared out between the instances through leases
  (leases.py); this instance holds the jobs whose lease it has, and a worker
  runs only while its lease and its advisory lock are both its own.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Protocol

from deskmail.config.models import DeskmailConfig, JobConfig
from deskmail.daemon.locks import JobLock
from deskmail.store.engine import Store


def enabled_jobs(config: DeskmailConfig) -> dict[str, JobConfig]:
    """Every enabled job, by name: the jobs to share out."""
    return {job.name: job for job in config.jobs if job.enabled}


class Holdings(Protocol):
    def start(self, wanted: Collection[str]) -> None: ...

    def held(self, enabled: dict[str, JobConfig]) -> dict[str, JobConfig]:
        """The enabled jobs (as want() was last told) this instance should run now."""
        ...

    def want(self, wanted: Collection[str]) -> None: ...

    def lock(self, job: str, guard: JobLock) -> JobLock:
        """What a worker of `job` must hold before each pass (`guard`: the job lock)."""
        ...

    def settle(self, running: Collection[str]) -> None:
        """The workers not in `running` have stopped: give up what they no longer use."""
        ...

    def alive(self) -> bool:
        """Whatever keeps the holdings (the lease keeper's thread) still runs."""
        ...

    def stop(self) -> None: ...


class EveryEnabled:
    """One host: every enabled job is held; the job lock alone keeps it to one process."""

    def start(self, wanted: Collection[str]) -> None:
        pass

    def want(self, wanted: Collection[str]) -> None:
        pass

    def held(self, enabled: dict[str, JobConfig]) -> dict[str, JobConfig]:
        return dict(enabled)

    def lock(self, job: str, guard: JobLock) -> JobLock:
        return guard

    def settle(self, running: Collection[str]) -> None:
        pass

    def alive(self) -> bool:
        return True

    def stop(self) -> None:
        pass


class Leased:
    """PostgreSQL: the jobs whose lease this instance holds (see leases.py)."""

    def __init__(self, store: Store, config: DeskmailConfig, on_change: Callable[[], None]) -> None:
        from deskmail.daemon.leases import LeaseKeeper

        self.keeper = LeaseKeeper(store, config.cluster, on_change)

    def start(self, wanted: Collection[str]) -> None:
        self.keeper.start(wanted)

    def want(self, wanted: Collection[str]) -> None:
        self.keeper.want(wanted)

    def held(self, enabled: dict[str, JobConfig]) -> dict[str, JobConfig]:
        mine = self.keeper.held()
        return {name: job for name, job in enabled.items() if name in mine}

    def lock(self, job: str, guard: JobLock) -> JobLock:
        from deskmail.daemon.leases import LeasedLock

        return LeasedLock(self.keeper, job, guard)

    def settle(self, running: Collection[str]) -> None:
        self.keeper.release_unused(running)

    def alive(self) -> bool:
        return self.keeper.alive()

    def stop(self) -> None:
        self.keeper.stop()


def holdings_for(store: Store, config: DeskmailConfig, on_change: Callable[[], None]) -> Holdings:
    """Leases on PostgreSQL; every enabled job on SQLite. `on_change`: the keeper's news
    (a job taken, lost or to hand over) for the supervisor, from the keeper's thread."""
    if store.is_postgresql:
        return Leased(store, config, on_change)
    return EveryEnabled()
