"""Runs (Alloy's "checking the results of a job"): every run's counts, duration, outcome
and failed step, per job or for all; a run's log lines filtered by level."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from deskmail.web.api.ids import MAX_ROW_ID, RowId
from deskmail.web.context import context_of
from deskmail.web.queries.runs import LogLevel, Outcome, job_names, log_lines, newest_runs, one_run
from deskmail.web.security.roles import PageViewer
from deskmail.web.templating import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


@router.get("/runs", name="runs")
def runs(
    request: Request,
    user: PageViewer,
    job: str | None = None,
    outcome: Outcome | None = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> Response:
    job = job or None  # the form's "all jobs" sends an empty value
    with context_of(request).store.session() as session:
        rows, older = newest_runs(session, job, outcome, before=before, limit=PAGE_SIZE)
        names = job_names(session)
    configured = [configured_job.name for configured_job in context_of(request).config.jobs]
    older_url = None
    if older is not None:
        params = {"before": older, **({"job": job} if job else {})}
        if outcome is not None:
            params["outcome"] = outcome.value
        older_url = str(request.url_for("runs").include_query_params(**params))
    return render(
        request,
        "runs/list.html",
        user,
        title=f"Runs of {job}" if job else "Runs",
        runs=rows,
        jobs=sorted(set(names) | set(configured)),
        job=job,
        outcome=outcome,
        outcomes=list(Outcome),
        older_url=older_url,
    )


@router.get("/runs/{run_id}", name="run")
def run(
    request: Request, user: PageViewer, run_id: RowId, level: LogLevel = LogLevel.INFO
) -> Response:
    with context_of(request).store.session() as session:
        found = one_run(session, run_id)
        lines = log_lines(session, run_id, level) if found else []
    if found is None:
        message = f"No run with id {run_id}."
        return render(request, "error.html", user, status=404, title="Not found", message=message)
    return render(
        request,
        "runs/detail.html",
        user,
        title=f"Run {found.id} of {found.job}",
        run=found,
        lines=lines,
        level=level,
        levels=list(LogLevel),
    )
