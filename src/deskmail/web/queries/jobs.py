"""The jobs as the Jobs overview and the API list them: where each lives (the catalog)
and its state (report/job_status.py)."""

from __future__ import annotations

from dataclasses import dataclass

from deskmail.daemon.switches import read_switches
from deskmail.jobs.catalog import CatalogJob, JobSource
from deskmail.report.job_status import JobStatus, job_statuses
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
