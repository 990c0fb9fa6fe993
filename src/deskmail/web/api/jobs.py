"""/api/v1/jobs: each job's settings summary and state (read-only in this version)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from deskmail.daemon.switches import read_switches
from deskmail.report.job_status import JobStatus, job_statuses
from deskmail.web.context import context_of
from deskmail.web.problems import Problem
from deskmail.web.security.roles import ApiViewer

router = APIRouter(prefix="/jobs", tags=["jobs"])


class DayCountsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    runs: int
    failed_runs: int
    fetched: int
    created: int
    updated: int
    quarantined: int


class JobOut(BaseModel):
    """A job as report/job_status.py sees it (JobOut.model_validate(status))."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    protocol: str
    source: str  # "file": written in the configuration file, read-only here
    enabled: bool
    schedule: str
    status: str  # ok | failing | running | never-run | disabled
    last_run_at: datetime | None
    last_run_status: str | None
    last_success_at: datetime | None
    next_run_at: datetime | None
    last_24h: DayCountsOut
    last_error: str | None
    failing_since: datetime | None


def _statuses(request: Request) -> list[JobStatus]:
    context = context_of(request)
    switches = read_switches(context.store)
    with context.store.session() as session:
        return job_statuses(session, context.config, switches)


@router.get("", summary="Every job and its state")
def list_all(request: Request, user: ApiViewer) -> list[JobOut]:
    return [JobOut.model_validate(job) for job in _statuses(request)]


@router.get("/{name}", summary="One job and its state")
def read(request: Request, name: str, user: ApiViewer) -> JobOut:
    for job in _statuses(request):
        if job.name == name:
            return JobOut.model_validate(job)
    raise Problem(404, "Not found", f"no job named {name!r}")
