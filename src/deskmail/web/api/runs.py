"""/api/v1/runs: every run of the jobs with its counts, one run, and its log lines."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict

from deskmail.store.models import Run
from deskmail.web.api.resource import resource_router
from deskmail.web.context import context_of
from deskmail.web.ids import RowId
from deskmail.web.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, Rows, paginate
from deskmail.web.problems import Problem
from deskmail.web.queries.runs import (
    LogLevel,
    Outcome,
    RunRow,
    log_lines,
    one_run,
    runs_query,
    with_line_counts,
)
from deskmail.web.security.roles import ApiViewer

router = resource_router(prefix="/runs", tags=["runs"])


class RunCountsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # RunCountsOut.model_validate(counts)

    fetched: int
    created: int
    updated: int
    duplicates: int
    quarantined: int
    ignored: int
    denied: int
    sent: int
    acknowledged: int


class RunOut(BaseModel):
    id: int
    job: str
    outcome: Outcome
    started_at: datetime
    finished_at: datetime | None
    seconds: float | None  # None while running (or for a run killed mid-way)
    counts: RunCountsOut
    error: str | None
    failed_step: str | None
    log_lines: int

    @classmethod
    def of(cls, run: RunRow) -> RunOut:
        return cls(
            id=run.id,
            job=run.job,
            outcome=run.outcome,
            started_at=run.started_at,
            finished_at=run.finished_at,
            seconds=run.seconds,
            counts=RunCountsOut.model_validate(run.counts),
            error=run.error,
            failed_step=run.step,
            log_lines=run.log_lines,
        )


class LogLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # LogLineOut.model_validate(log_row)

    id: int
    logged_at: datetime
    level: str
    logger: str
    message: str


class RunLogOut(BaseModel):
    run_id: int
    level: LogLevel  # the lowest level included
    lines: list[LogLineOut]


@router.get("", summary="Runs of every job (or of one), oldest first, a page at a time")
def list_all(
    request: Request,
    user: ApiViewer,
    job: Annotated[str | None, Query(max_length=200)] = None,
    outcome: Outcome | None = None,
    updated_since: Annotated[
        AwareDatetime | None, Query(description="only runs started or finished at or after this")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> Page[RunOut]:
    with context_of(request).store.session() as session:
        query = runs_query(job, outcome, updated_since)
        page: Rows[Run] = paginate(session, query, (Run.id,), cursor, limit)
        items = [RunOut.of(run) for run in with_line_counts(session, page.rows)]
    return Page[RunOut](items=items, next_cursor=page.next_cursor)


@router.get("/{run_id}", summary="One run: counts, duration, outcome, failed step")
def read(request: Request, run_id: RowId, user: ApiViewer) -> RunOut:
    with context_of(request).store.session() as session:
        run = one_run(session, run_id)
    if run is None:
        raise Problem(404, "Not found", f"no run with id {run_id}")
    return RunOut.of(run)


@router.get("/{run_id}/log", summary="A run's log lines, from a level up")
def read_log(
    request: Request, run_id: RowId, user: ApiViewer, level: LogLevel = LogLevel.DEBUG
) -> RunLogOut:
    with context_of(request).store.session() as session:
        if one_run(session, run_id) is None:
            raise Problem(404, "Not found", f"no run with id {run_id}")
        lines = log_lines(session, run_id, level)
    return RunLogOut(
        run_id=run_id, level=level, lines=[LogLineOut.model_validate(line) for line in lines]
    )
