"""The Jobs overview (home): the file's jobs (read-only) and the database's, each with its
status, runs and last error; Run now, Test, Enable/Disable, Delete (database jobs)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from deskmail.config.errors import ConfigError
from deskmail.jobs.catalog import CatalogError, JobNotFound, ReadOnlyJob
from deskmail.jobs.secrets import UnreadableSecrets
from deskmail.store.accounts import Role
from deskmail.store.sealing import SecretKeyError
from deskmail.web.context import context_of
from deskmail.web.job_checks import check_job
from deskmail.web.job_control import RunNow
from deskmail.web.queries.jobs import job_lines
from deskmail.web.security.principal import Principal
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
# A database job that cannot be loaded: its settings or its sealed secrets.
_UNLOADABLE = (ConfigError, UnreadableSecrets, SecretKeyError)


@router.get("/", name="home")
def home(request: Request, user: PageViewer) -> Response:
    return see_other(request, str(request.url_for("jobs")))


@router.get("/jobs", name="jobs")
def jobs(request: Request, user: PageViewer, notice: str | None = None) -> Response:
    return _overview(request, user, notice=notice)


def _overview(
    request: Request,
    user: Principal,
    *,
    status: int = 200,
    notice: str | None = None,
    error: str | None = None,
    hint: str | None = None,
) -> Response:
    context = context_of(request)
    return render(
        request,
        "jobs.html",
        user,
        status=status,
        title="Jobs",
        lines=job_lines(context),
        can_operate=user.allows(Role.ADMIN),
        config_file=context.config.source_file,
        notice=notice,
        error=error,
        hint=hint,
        refresh_seconds=REFRESH_SECONDS,
    )


def _done(request: Request, notice: str) -> Response:
    return see_other(request, str(request.url_for("jobs").include_query_params(notice=notice)))


@router.post("/jobs/{name}/run", name="job_run_now")
def run_now(request: Request, user: PageAdmin, name: str) -> Response:
    context = context_of(request)
    try:
        outcome = context.jobs.run_now(name)
    except KeyError:
        return _no_such_job(request, name)
    except _UNLOADABLE as exc:
        return _overview(request, user, status=409, error=f"{name}: cannot run: {exc}")
    return _done(request, _RUN_NOW_NOTICES[outcome].format(name=name))


@router.post("/jobs/{name}/test", name="job_test")
def test(request: Request, user: PageAdmin, name: str) -> Response:
    """Test Connection of a saved job (the editor tests its unsaved draft)."""
    context = context_of(request)
    try:
        job = context.jobs.runnable(name)
    except KeyError:
        return _no_such_job(request, name)
    except _UNLOADABLE as exc:
        return _overview(request, user, status=409, error=f"{name}: cannot be tested: {exc}")
    outcome = check_job(job, context.config, context.store)
    if outcome.ok:
        return _overview(request, user, notice=f"{name}: connection test passed: {outcome.summary}")
    return _overview(
        request,
        user,
        error=f"{name}: connection test failed at step {outcome.step}: {outcome.summary}",
        hint=outcome.hint,
    )


@router.post("/jobs/{name}/switch", name="job_switch")
def switch(
    request: Request, user: PageAdmin, name: str, enabled: Annotated[bool, Form()]
) -> Response:
    try:
        context_of(request).jobs.set_enabled(name, enabled, user.name)
    except KeyError:
        return _no_such_job(request, name)
    return _done(request, f"{name}: {'enabled' if enabled else 'disabled'}.")


@router.post("/jobs/{name}/delete", name="job_delete")
def delete(request: Request, user: PageAdmin, name: str) -> Response:
    try:
        context_of(request).jobs.catalog.delete(name)
    except JobNotFound:
        return _no_such_job(request, name)
    except ReadOnlyJob as exc:
        return _overview(request, user, status=409, error=str(exc))
    except CatalogError as exc:
        return _overview(request, user, status=409, error=str(exc))
    return _done(request, f"{name}: deleted (its tickets and runs stay).")


def _no_such_job(request: Request, name: str) -> Response:
    message = f"No job named {name!r}."
    return render(request, "error.html", None, status=404, title="Not found", message=message)
