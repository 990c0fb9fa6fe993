"""Which jobs this instance holds: the one question the supervisor asks before starting workers.

Today every enabled job is held, and the per-job lock (locks.py) keeps a
job to one instance at a time. Sharing the jobs between instances (leases
with holder, expiry and heartbeat, spread and rebalanced) answers this same
question differently, without changing the supervisor.
"""

from __future__ import annotations

from deskmail.config.models import DeskmailConfig, JobConfig


def held_jobs(config: DeskmailConfig) -> dict[str, JobConfig]:
    """The jobs this instance should run, by name: every enabled one."""
    return {job.name: job for job in config.jobs if job.enabled}
