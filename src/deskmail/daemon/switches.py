"""Jobs turned off and on from the web UI, without editing the configuration file.

A switch overrides the file's `enabled` for one job by name; the daemon reads
the switches when it starts and on every tick (supervisor.py), so a change
reaches a running daemon within seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from deskmail.config.models import DeskmailConfig, JobConfig
from deskmail.store.daemon_state import JobSwitch
from deskmail.store.engine import Store


def read_switches(store: Store) -> dict[str, bool]:
    with store.session() as session:
        return {row.job: row.enabled for row in session.scalars(select(JobSwitch))}


def is_enabled(job: JobConfig, switches: dict[str, bool]) -> bool:
    return switches.get(job.name, job.enabled)


def switched(config: DeskmailConfig, switches: dict[str, bool]) -> DeskmailConfig:
    """The configuration with each job's `enabled` as its switch says."""
    # model_copy keeps where each job was written (its private origin) for later messages.
    jobs = [
        job
        if is_enabled(job, switches) == job.enabled
        else job.model_copy(update={"enabled": not job.enabled})
        for job in config.jobs
    ]
    return config.model_copy(update={"jobs": jobs})


def set_switch(store: Store, job: str, enabled: bool, changed_by: str | None) -> None:
    with store.transaction() as session:
        row = session.get(JobSwitch, job)
        if row is None:
            session.add(JobSwitch(job=job, enabled=enabled, changed_by=changed_by))
        else:
            row.enabled = enabled
            row.changed_by = changed_by
            row.changed_at = datetime.now(UTC)
