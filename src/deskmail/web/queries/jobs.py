"""The jobs as the web sees them: the Jobs overview's lines (where each lives, from the
catalog, and its state, from report/job_status.py), and the job a quarantined message or a
simulation names (the file's or the database's)."""

from __future__ import annotations

from dataclasses import dataclass

from deskmail.config.models import DeskmailConfig, JobConfig
from deskmail.daemon.switches import read_switches
from deskmail.jobs.catalog import CatalogJob, JobCatalog, JobSource
from deskmail.jobs.running import has_catalog, load_stored_jobs, with_jobs
from deskmail.report.job_status import JobStatus, job_statuses
from deskmail.store.engine import Store
from deskmail.web.context import WebContext


@dataclass(frozen=True, slots=True)
class JobLine:
    """One job: where it lives and what the catalog holds, with its runs' state."""

    job: CatalogJob
    status: JobStatus | None  # None: the stored settings cannot be read (job.problem says why)

    @property
    def name(self) -> str:
        return self.job.name

    @property
    def from_file(self) -> bool:
        return self.job.source is JobSource.FILE


def job_lines(context: WebContext, name: str | None = None) -> list[JobLine]:
    """Every job (or the one named), the file's first, then the database's by name."""
    views = [view for view in context.jobs.catalog.jobs() if name is None or view.name == name]
    stored = [
        view.settings
        for view in views
        if view.source is JobSource.DATABASE and view.settings is not None
    ]
    switches = read_switches(context.store)
    with context.store.session() as session:
        statuses = job_statuses(session, context.config, switches, stored=stored)
    by_source = {(status.source, status.name): status for status in statuses}
    return [JobLine(view, by_source.get((view.source.value, view.name))) for view in views]


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
