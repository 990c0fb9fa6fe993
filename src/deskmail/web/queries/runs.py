"""Runs of jobs and their log lines, as the Runs screen and /api/v1/runs read them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from deskmail.store.models import Run, RunLogLine


class Outcome(StrEnum):
    RUNNING = "running"  # or killed mid-way: a run with no end
    OK = "ok"
    FAILED = "failed"


class LogLevel(StrEnum):
    """The levels a run's log can be filtered by: this level and above."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def number(self) -> int:
        return logging.getLevelNamesMapping()[self.value.upper()]


@dataclass(frozen=True, slots=True)
class RunCounts:
    fetched: int
    created: int
    updated: int
    duplicates: int
    quarantined: int
    ignored: int
    denied: int
    sent: int
    acknowledged: int


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    job: str
    started_at: datetime
    finished_at: datetime | None
    outcome: Outcome
    counts: RunCounts
    error: str | None
    step: str | None  # the mailbox step that failed, when one did
    log_lines: int

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def changed_at(self) -> datetime:
        return self.finished_at or self.started_at


@dataclass(frozen=True, slots=True)
class LogRow:
    id: int
    logged_at: datetime
    level: str  # "INFO", "WARNING", ...
    logger: str
    message: str


def _outcome(status: str) -> Outcome:
    try:
        return Outcome(status)
    except ValueError:
        return Outcome.RUNNING


def run_row(run: Run, log_lines: int) -> RunRow:
    return RunRow(
        id=run.id,
        job=run.job,
        started_at=run.started_at,
        finished_at=run.finished_at,
        outcome=_outcome(run.status),
        counts=RunCounts(
            fetched=run.fetched,
            created=run.created,
            updated=run.updated,
            duplicates=run.duplicates,
            quarantined=run.quarantined,
            ignored=run.ignored,
            denied=run.denied,
            sent=run.sent,
            acknowledged=run.acknowledged,
        ),
        error=run.error,
        step=run.step,
        log_lines=log_lines,
    )


def runs_query(
    job: str | None = None, outcome: Outcome | None = None, updated_since: datetime | None = None
) -> Select[Run]:
    query = select(Run)
    if job is not None:
        query = query.where(Run.job == job)
    if outcome is not None:
        query = query.where(Run.status == outcome.value)
    if updated_since is not None:
        query = query.where(func.coalesce(Run.finished_at, Run.started_at) >= updated_since)
    return query


def with_line_counts(session: Session, runs: list[Run]) -> list[RunRow]:
    ids = [run.id for run in runs]
    counts: dict[int, int] = {}
    if ids:
        counted = session.execute(
            select(RunLogLine.run_id, func.count())
            .where(RunLogLine.run_id.in_(ids))
            .group_by(RunLogLine.run_id)
        )
        counts = {run_id: count for run_id, count in counted.all()}
    return [run_row(run, counts.get(run.id, 0)) for run in runs]


def newest_runs(
    session: Session,
    job: str | None = None,
    outcome: Outcome | None = None,
    *,
    before: int | None = None,
    limit: int = 50,
) -> tuple[list[RunRow], int | None]:
    """The newest runs (before run id `before`), and the id to ask for the older ones."""
    query = runs_query(job, outcome).order_by(Run.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(Run.id < before)
    runs = list(session.scalars(query))
    older = runs[limit - 1].id if len(runs) > limit else None
    return with_line_counts(session, runs[:limit]), older


def one_run(session: Session, run_id: int) -> RunRow | None:
    run = session.get(Run, run_id)
    if run is None:
        return None
    return with_line_counts(session, [run])[0]


def log_lines(session: Session, run_id: int, level: LogLevel = LogLevel.DEBUG) -> list[LogRow]:
    rows = session.scalars(
        select(RunLogLine)
        .where(RunLogLine.run_id == run_id, RunLogLine.level >= level.number)
        .order_by(RunLogLine.id)
    )
    return [
        LogRow(
            id=line.id,
            logged_at=line.logged_at,
            level=logging.getLevelName(line.level),
            logger=line.logger,
            message=line.message,
        )
        for line in rows
    ]


def job_names(session: Session) -> list[str]:
    """Every job that has run (jobs removed from the configuration keep their history)."""
    return list(session.scalars(select(Run.job).distinct().order_by(Run.job)))
