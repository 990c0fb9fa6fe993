"""Whether this instance can do its work: /readyz answers 503 with the reasons when not."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from deskmail.config.models import DeskmailConfig, WebConfig
from deskmail.daemon.switches import is_enabled, read_switches
from deskmail.store.daemon_state import SchedulerHeartbeat
from deskmail.store.engine import Store
from deskmail.store.models import Run


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    issues: list[str] = field(default_factory=list)


def readiness(
    store: Store, config: DeskmailConfig, web: WebConfig, *, runs_jobs: bool
) -> Readiness:
    """Database reachable; with jobs to run, a scheduler beating and every enabled job
    successful recently. `runs_jobs`: whether a scheduler is expected (serve, not web)."""
    now = datetime.now(UTC)
    try:
        with store.session() as session:
            session.execute(text("SELECT 1"))
            beat = session.scalar(select(func.max(SchedulerHeartbeat.beat_at)))
            successes = dict(
                session.execute(
                    select(Run.job, func.max(Run.finished_at))
                    .where(Run.status == "ok")
                    .group_by(Run.job)
                ).all()
            )
            started = dict(
                session.execute(
                    select(SchedulerHeartbeat.instance, SchedulerHeartbeat.started_at)
                ).all()
            )
        switches = read_switches(store)
    except SQLAlchemyError as exc:
        return Readiness(False, [f"database: unreachable ({type(exc).__name__})"])
    issues = []
    enabled = [job for job in config.jobs if is_enabled(job, switches)]
    if runs_jobs and enabled:
        stale = timedelta(seconds=web.scheduler_stale_seconds)
        if beat is None:
            issues.append("scheduler: no heartbeat yet")
        elif now - _aware(beat) > stale:
            issues.append(
                f"scheduler: last heartbeat {int((now - _aware(beat)).total_seconds())} s ago"
            )
    quiet = timedelta(minutes=web.unready_after_minutes)
    # Jobs just started have had no chance yet: counted from the oldest scheduler's start.
    since = min((_aware(moment) for moment in started.values()), default=now)
    for job in enabled:
        last = successes.get(job.name)
        if last is None:
            if now - since > quiet:
                issues.append(f"job {job.name}: no successful run yet")
        elif now - _aware(last) > quiet:
            minutes = int((now - _aware(last)).total_seconds() // 60)
            issues.append(f"job {job.name}: no successful run for {minutes} minutes")
    return Readiness(not issues, issues)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
