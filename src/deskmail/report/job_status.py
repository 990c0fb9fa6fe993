"""Each job's state for the Jobs overview and the API: last run, last success, next run,
counts of the last 24 hours, the last error."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from deskmail.config.models import DeskmailConfig, JobConfig
from deskmail.config.schedule import parse_schedule
from deskmail.daemon.switches import is_enabled
from deskmail.store.models import JobHealth, Run

DAY = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class DayCounts:
    """Sums over the runs that started in the last 24 hours."""

    runs: int = 0
    failed_runs: int = 0
    fetched: int = 0
    created: int = 0
    updated: int = 0
    quarantined: int = 0


@dataclass(frozen=True, slots=True)
class JobStatus:
    name: str
    protocol: str
    source: str  # "file": provisioned from the configuration file (read-only); or "database"
    enabled: bool  # after the UI's switch, if any
    schedule: str
    status: str  # ok | failing | running | never-run | disabled
    last_run_at: datetime | None
    last_run_status: str | None
    last_success_at: datetime | None
    next_run_at: datetime | None
    last_24h: DayCounts
    last_error: str | None  # the failing step and its detail, or the last failed run's error
    failing_since: datetime | None


def job_statuses(
    session: Session,
    config: DeskmailConfig,
    switches: dict[str, bool],
    now: datetime | None = None,
    *,
    stored: Sequence[JobConfig] = (),
) -> list[JobStatus]:
    """The file's jobs, then the database's (`stored`: the jobs catalog's, whose own
    `enabled` is switched in the database itself)."""
    now = now or datetime.now(UTC)
    listed = [(job, "file", is_enabled(job, switches)) for job in config.jobs]
    listed += [(job, "database", job.enabled) for job in stored]
    names = [job.name for job, _, _ in listed]
    last_runs = _last_runs(session, names)
    successes = dict(
        session.execute(
            select(Run.job, func.max(Run.finished_at))
            .where(Run.job.in_(names), Run.status == "ok")
            .group_by(Run.job)
        ).all()
    )
    counts = _day_counts(session, names, now - DAY)
    health = {
        row.job: row for row in session.scalars(select(JobHealth).where(JobHealth.job.in_(names)))
    }
    return [
        _status(
            job,
            source,
            enabled,
            last_runs.get(job.name),
            _aware(successes.get(job.name)),
            counts.get(job.name, DayCounts()),
            health.get(job.name),
        )
        for job, source, enabled in listed
    ]


def _last_runs(session: Session, names: list[str]) -> dict[str, Run]:
    newest = select(func.max(Run.id)).where(Run.job.in_(names)).group_by(Run.job).scalar_subquery()
    return {run.job: run for run in session.scalars(select(Run).where(Run.id.in_(newest)))}


def _day_counts(session: Session, names: list[str], since: datetime) -> dict[str, DayCounts]:
    rows = session.execute(
        select(
            Run.job,
            func.count(),
            func.sum(case((Run.status == "failed", 1), else_=0)),
            func.sum(Run.fetched),
            func.sum(Run.created),
            func.sum(Run.updated),
            func.sum(Run.quarantined),
        )
        .where(Run.job.in_(names), Run.started_at >= since)
        .group_by(Run.job)
    )
    return {
        job: DayCounts(int(runs), int(failed or 0), *(int(v or 0) for v in sums))
        for job, runs, failed, *sums in rows
    }


def _status(
    job: JobConfig,
    source: str,
    enabled: bool,
    last: Run | None,
    last_success: datetime | None,
    counts: DayCounts,
    health: JobHealth | None,
) -> JobStatus:
    failing_since = health.failing_since if health is not None else None
    if failing_since is not None and health is not None:
        last_error: str | None = f"{health.step}: {health.detail}" if health.step else health.detail
    elif last is not None and last.status == "failed":
        last_error = last.error
    else:
        last_error = None
    if not enabled:
        status = "disabled"
    elif last is None:
        status = "never-run"
    elif last.status == "running" and last.finished_at is None:
        status = "running"
    elif failing_since is not None or last.status == "failed":
        status = "failing"
    else:
        status = "ok"
    return JobStatus(
        name=job.name,
        protocol=job.protocol.value,
        source=source,
        enabled=enabled,
        schedule=str(parse_schedule(job.schedule)),
        status=status,
        last_run_at=last.started_at if last is not None else None,
        last_run_status=last.status if last is not None else None,
        last_success_at=last_success,
        next_run_at=_next_run(job, last) if enabled else None,
        last_24h=counts,
        last_error=last_error,
        failing_since=failing_since,
    )


def _next_run(job: JobConfig, last: Run | None) -> datetime | None:
    """When the schedule next falls due after the last run's start (schedules read local
    time, as cron does); None before the first run: the daemon starts it at once."""
    if last is None:
        return None
    started_local = last.started_at.astimezone().replace(tzinfo=None)
    due = parse_schedule(job.schedule).next_after(started_local)
    return due.astimezone(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    # max() over a UTCDateTime column comes back naive on SQLite.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
