"""/api/v1/jobs: each job's settings summary and state (read-only in this version)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel

from deskmail.daemon.switches import read_switches
from deskmail.report.job_status import JobStatus, job_statuses
from deskmail.web.context import context_of
from deskmail.web.problems import Problem
from deskmail.web.security.roles import ApiViewer

router = APIRouter(prefix="/jobs", tags=["jobs"])


class DayCountsOut(BaseModel):
    runs: int
    failed_runs: int
    fetched: int
    created: int
    updated: int
    quarantined: int


class JobOut(BaseModel):
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

    @classmethod
    def of(cls, job: JobStatus) -> JobOut:
        counts = job.last_24h
        return cls(
            name=job.name,
            protocol=job.protocol,
            source=job.source,
            enabled=job.enabled,
            schedule=job.schedule,
            status=job.status,
            last_run_at=job.last_run_at,
            last_run_status=job.last_run_status,
            last_success_at=job.last_success_at,
            next_run_at=job.next_run_at,
            last_24h=DayCountsOut(
                runs=counts.runs,
                failed_runs=counts.failed_runs,
                fetched=counts.fetched,
                created=counts.created,
                updated=counts.updated,
                quarantined=counts.quarantined,
            ),
            last_error=job.last_error,
            failing_since=job.failing_since,
        )


def _statuses(request: Request) -> list[JobStatus]:
    context = context_of(request)
    switches = read_switches(context.store)
    with context.store.session() as session:
        return job_statuses(session, context.config, switches)


@router.get("", summary="Every job and its state")
def list_all(request: Request, user: ApiViewer) -> list[JobOut]:
    return [JobOut.of(job) for job in _statuses(request)]


@router.get("/{name}", summary="One job and its state")
def read(request: Request, name: str, user: ApiViewer) -> JobOut:
    for job in _statuses(request):
        if job.name == name:
            return JobOut.of(job)
    raise Problem(404, "Not found", f"no job named {name!r}")
