"""The Jobs overview (home): each job's status, runs and last error; Run now, Enable/Disable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from deskmail.daemon.switches import read_switches
from deskmail.report.job_status import job_statuses
from deskmail.store.accounts import Role
from deskmail.web.context import context_of
from deskmail.web.job_control import RunNow
from deskmail.web.security.roles import PageAdmin, PageViewer
from deskmail.web.templating import render, see_other

router = APIRouter(include_in_schema=False)
REFRESH_SECONDS = 10  # how often an open Jobs screen asks for fresh statuses

_RUN_NOW_NOTICES = {
    RunNow.WOKEN: "{name}: running now.",
    RunNow.STARTED: "{name}: a run has started.",
    RunNow.ALREADY: "{name}: a run is already under way.",
    RunNow.BUSY: "{name}: another deskmail instance is working this job; it runs there.",
}


@router.get("/", name="home")
def home(request: Request, user: PageViewer) -> Response:
    return see_other(request, str(request.url_for("jobs")))


@router.get("/jobs", name="jobs")
def jobs(request: Request, user: PageViewer, notice: str | None = None) -> Response:
    context = context_of(request)
    switches = read_switches(context.store)
    with context.store.session() as session:
        statuses = job_statuses(session, context.config, switches)
    return render(
        request,
        "jobs.html",
        user,
        title="Jobs",
        jobs=statuses,
        can_operate=user.allows(Role.ADMIN),
        config_file=context.config.source_file,
        notice=notice,
        refresh_seconds=REFRESH_SECONDS,
    )


@router.post("/jobs/{name}/run", name="job_run_now")
def run_now(request: Request, user: PageAdmin, name: str) -> Response:
    context = context_of(request)
    try:
        outcome = context.jobs.run_now(name)
    except KeyError:
        return _no_such_job(request, name)
    notice = _RUN_NOW_NOTICES[outcome].format(name=name)
    return see_other(request, str(request.url_for("jobs").include_query_params(notice=notice)))


@router.post("/jobs/{name}/switch", name="job_switch")
def switch(
    request: Request, user: PageAdmin, name: str, enabled: Annotated[bool, Form()]
) -> Response:
    try:
        context_of(request).jobs.set_enabled(name, enabled, user.name)
    except KeyError:
        return _no_such_job(request, name)
    notice = f"{name}: {'enabled' if enabled else 'disabled'}."
    return see_other(request, str(request.url_for("jobs").include_query_params(notice=notice)))


def _no_such_job(request: Request, name: str) -> Response:
    message = f"No job named {name!r}."
    return render(request, "error.html", None, status=404, title="Not found", message=message)
