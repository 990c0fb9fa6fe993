"""The jobs the web acts for: the file's and the database's (a quarantined message or a
simulation may name either)."""

from __future__ import annotations

from deskmail.config.models import DeskmailConfig, JobConfig
from deskmail.jobs.catalog import JobCatalog
from deskmail.jobs.running import has_catalog, load_stored_jobs, with_jobs
from deskmail.store.engine import Store


def with_database_jobs(config: DeskmailConfig, store: Store) -> DeskmailConfig:
    """The configuration with the database's jobs after the file's (as the CLI reads it)."""
    if not has_catalog(store):
        return config
    stored = load_stored_jobs(JobCatalog(config, store))
    return with_jobs(config, stored.jobs) if stored.jobs else config


def job_named(config: DeskmailConfig, store: Store, name: str | None) -> JobConfig | None:
    """The job called `name`, or without a name the first enabled one (as explain picks)."""
    jobs = with_database_jobs(config, store).jobs
    if name:
        return next((job for job in jobs if job.name == name), None)
    return next((job for job in jobs if job.enabled), jobs[0] if jobs else None)
