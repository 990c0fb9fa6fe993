"""/api/v1/jobs: every job with its settings (secrets left out) and state; database jobs
created, replaced, changed and deleted; a draft tested or its folders listed; a job run now.

Settings are a [[jobs]] table as JSON, as the configuration file writes it. Secrets
(password, client_secret, smtp.password) are write-only: accepted in a body, never
answered; `secrets` says of each only "set", "referenced" or "not set". A job written
in the configuration file is read-only: changing it is refused with a problem saying so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Body, Header, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from deskmail.config.errors import ConfigError, job_key
from deskmail.config.models import JobConfig
from deskmail.jobs.catalog import (
    CatalogJob,
    JobNotFound,
    JobSource,
    NameTaken,
    ReadOnlyJob,
    RevisionConflict,
)
from deskmail.jobs.secrets import UnreadableSecrets
from deskmail.store.sealing import SecretKeyError
from deskmail.web.api.resource import resource_router
from deskmail.web.context import context_of
from deskmail.web.job_checks import CheckOutcome, check_job, folders_of
from deskmail.web.job_control import RunNow
from deskmail.web.problems import FieldProblem, Problem
from deskmail.web.queries.jobs import JobLine, job_lines
from deskmail.web.security.roles import ApiAdmin, ApiViewer

router = resource_router(prefix="/jobs", tags=["jobs"])

Settings = Annotated[
    dict[str, Any],
    Body(
        description="the job's settings as a [[jobs]] table holds them (name, protocol, ...)",
        examples=[{"name": "Support", "protocol": "imap", "server": "mail.example.com"}],
    ),
]


class DayCountsOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    runs: int
    failed_runs: int
    fetched: int
    created: int
    updated: int
    quarantined: int


class JobOut(BaseModel):
    """A job: where it lives, its settings without secrets, and its runs' state."""

    name: str
    protocol: str
    source: Literal["file", "database"]  # file: written in the configuration file, read-only
    enabled: bool
    schedule: str
    status: str  # ok | failing | running | never-run | disabled | unreadable
    last_run_at: datetime | None
    last_run_status: str | None
    last_success_at: datetime | None
    next_run_at: datetime | None
    last_24h: DayCountsOut
    last_error: str | None
    failing_since: datetime | None
    revision: int = Field(description="database jobs: raised by every change (If-Match); file: 0")
    updated_at: datetime | None = Field(
        description="database jobs: when its settings last changed; file jobs: null"
    )
    settings: dict[str, Any] | None = Field(
        description="the [[jobs]] table without secret values; null when it cannot be read"
    )
    secrets: dict[str, Literal["set", "referenced", "not set"]] = Field(
        description="each secret the job holds or could hold: whether it is set (never its value)"
    )


class DraftIn(BaseModel):
    """Unsaved settings to try; `job` names a database job whose stored secrets fill
    those the draft leaves out (the editor of that job)."""

    settings: dict[str, Any]
    job: str | None = None


class CheckOut(BaseModel):
    ok: bool
    summary: str
    step: str | None = Field(description="the step that failed: dns, connect, tls, login, ...")
    hint: str | None


class FoldersOut(BaseModel):
    folders: list[str]
    failure: CheckOut | None


class RunOut(BaseModel):
    name: str
    outcome: Literal["woken", "started", "already-running", "busy"]


def job_out(line: JobLine) -> JobOut:
    job, status = line.job, line.status
    settings = (
        job.settings.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
        | {"name": job.name, "enabled": job.enabled}
        if job.settings is not None
        else None
    )
    secrets = {slot.value: state.value for slot, state in job.secrets.items()}
    if status is None:  # stored settings this deskmail cannot read
        return JobOut(
            name=job.name,
            protocol="",
            source="database",
            enabled=job.enabled,
            schedule="",
            status="unreadable",
            last_run_at=None,
            last_run_status=None,
            last_success_at=None,
            next_run_at=None,
            last_24h=DayCountsOut(
                runs=0, failed_runs=0, fetched=0, created=0, updated=0, quarantined=0
            ),
            last_error=job.problem,
            failing_since=None,
            revision=job.revision,
            updated_at=job.updated_at,
            settings=None,
            secrets=secrets,
        )
    return JobOut(
        name=job.name,
        protocol=status.protocol,
        source="file" if job.source is JobSource.FILE else "database",
        enabled=status.enabled,
        schedule=status.schedule,
        status=status.status,
        last_run_at=status.last_run_at,
        last_run_status=status.last_run_status,
        last_success_at=status.last_success_at,
        next_run_at=status.next_run_at,
        last_24h=DayCountsOut.model_validate(status.last_24h),
        last_error=status.last_error,
        failing_since=status.failing_since,
        revision=job.revision,
        updated_at=job.updated_at,
        settings=settings,
        secrets=secrets,
    )


def _one(request: Request, name: str) -> JobOut:
    found = [line for line in job_lines(context_of(request), name) if line.name == name]
    if not found:
        raise Problem(404, "Not found", f"no job named {name!r}")
    return job_out(found[0])


def _after_change(request: Request, saved: CatalogJob) -> JobOut:
    return _one(request, saved.name)


def config_problem(exc: ConfigError, name: str | None) -> Problem:
    """A refused job: each key as a field of the body ("body.port", "body.oauth2.client_id")."""
    errors = [FieldProblem(_body_field(issue.key, name), issue.problem) for issue in exc.issues]
    detail = "; ".join(f"{error.field}: {error.problem}" for error in errors)
    return Problem(422, "Invalid job settings", detail, errors)


def _body_field(key: str, name: str | None, prefix: str = "body") -> str:
    for label in (job_key(None, name) + ".", "jobs."):
        if key.startswith(label):
            return f"{prefix}.{key.removeprefix(label)}"
    return prefix


def _revision(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise Problem(
            400,
            "Bad request",
            'header.If-Match: must be the job\'s revision, e.g. "3"',
            [FieldProblem("header.If-Match", 'must be the job\'s revision, e.g. "3"')],
        )
    return int(text)


def _refused(exc: Exception, name: str) -> Problem:
    if isinstance(exc, JobNotFound):
        return Problem(404, "Not found", str(exc))
    if isinstance(exc, ReadOnlyJob):
        return Problem(409, "Job from the configuration file", str(exc))
    if isinstance(exc, RevisionConflict):
        return Problem(412, "Precondition failed", str(exc))
    if isinstance(exc, NameTaken):
        return Problem(409, "Conflict", str(exc), [FieldProblem("body.name", str(exc))])
    if isinstance(exc, ConfigError):
        return config_problem(exc, name)
    return Problem(409, "Conflict", str(exc))


_CHANGE_ERRORS = (
    JobNotFound,
    ReadOnlyJob,
    RevisionConflict,
    NameTaken,
    ConfigError,
    UnreadableSecrets,
    SecretKeyError,
)
_RESPONSES: dict[int | str, dict[str, Any]] = {412: {"description": "If-Match revision is stale"}}


@router.get("", summary="Every job: its settings (no secrets) and state")
def list_all(
    request: Request,
    user: ApiViewer,
    updated_since: Annotated[
        AwareDatetime | None,
        Query(
            description="only database jobs whose settings changed at or after this time"
            " (a file job has no such time: it is left out)"
        ),
    ] = None,
) -> list[JobOut]:
    lines = job_lines(context_of(request))
    if updated_since is not None:
        lines = [
            line
            for line in lines
            if line.job.updated_at is not None and line.job.updated_at >= updated_since
        ]
    return [job_out(line) for line in lines]


@router.post("", status_code=201, summary="Create a database job")
def create(request: Request, user: ApiAdmin, settings: Settings) -> JobOut:
    name = settings.get("name")
    try:
        saved = context_of(request).jobs.catalog.create(settings)
    except _CHANGE_ERRORS as exc:
        raise _refused(exc, name if isinstance(name, str) else "") from None
    return _after_change(request, saved)


@router.post("/test", summary="Test the connection of unsaved settings (a draft)")
def test_draft(request: Request, user: ApiAdmin, draft: DraftIn) -> CheckOut:
    context = context_of(request)
    job = _draft(request, draft)
    return _check_out(check_job(job, context.config, context.store))


@router.post("/folders", summary="List the mailbox folders of unsaved settings (a draft)")
def folders(request: Request, user: ApiAdmin, draft: DraftIn) -> FoldersOut:
    listing = folders_of(_draft(request, draft), context_of(request).store)
    failure = _check_out(listing.failure) if listing.failure is not None else None
    return FoldersOut(folders=list(listing.folders), failure=failure)


@router.get("/{name}", summary="One job: its settings (no secrets) and state")
def read(request: Request, name: str, user: ApiViewer, response: Response) -> JobOut:
    found = _one(request, name)
    response.headers["ETag"] = f'"{found.revision}"'
    return found


@router.put("/{name}", summary="Replace a database job's settings", responses=_RESPONSES)
def replace(
    request: Request,
    name: str,
    user: ApiAdmin,
    settings: Settings,
    if_match: Annotated[str | None, Header()] = None,
) -> JobOut:
    catalog = context_of(request).jobs.catalog
    try:
        saved = catalog.replace(name, settings, revision=_revision(if_match))
    except _CHANGE_ERRORS as exc:
        raise _refused(exc, name) from None
    return _after_change(request, saved)


@router.patch(
    "/{name}", summary="Change some settings of a database job (merge patch)", responses=_RESPONSES
)
def change(
    request: Request,
    name: str,
    user: ApiAdmin,
    changes: Annotated[dict[str, Any], Body(description="a JSON merge patch of the settings")],
    if_match: Annotated[str | None, Header()] = None,
) -> JobOut:
    catalog = context_of(request).jobs.catalog
    try:
        saved = catalog.update(name, changes, revision=_revision(if_match))
    except _CHANGE_ERRORS as exc:
        raise _refused(exc, name) from None
    return _after_change(request, saved)


@router.delete("/{name}", status_code=204, summary="Delete a database job", responses=_RESPONSES)
def delete(
    request: Request,
    name: str,
    user: ApiAdmin,
    if_match: Annotated[str | None, Header()] = None,
) -> Response:
    try:
        context_of(request).jobs.catalog.delete(name, revision=_revision(if_match))
    except _CHANGE_ERRORS as exc:
        raise _refused(exc, name) from None
    return Response(status_code=204)


@router.post("/{name}/run", status_code=202, summary="Run a job now")
def run(request: Request, name: str, user: ApiAdmin) -> RunOut:
    try:
        outcome: RunNow = context_of(request).jobs.run_now(name)
    except KeyError:
        raise Problem(404, "Not found", f"no job named {name!r}") from None
    except (ConfigError, UnreadableSecrets, SecretKeyError) as exc:
        raise Problem(409, "Job cannot be loaded", str(exc)) from None
    return RunOut(name=name, outcome=outcome.value)


@router.post("/{name}/test", summary="Test the connection of a saved job")
def test_saved(request: Request, name: str, user: ApiAdmin) -> CheckOut:
    context = context_of(request)
    try:
        job = context.jobs.runnable(name)
    except KeyError:
        raise Problem(404, "Not found", f"no job named {name!r}") from None
    except (ConfigError, UnreadableSecrets, SecretKeyError) as exc:
        raise Problem(409, "Job cannot be loaded", str(exc)) from None
    return _check_out(check_job(job, context.config, context.store))


def _draft(request: Request, draft: DraftIn) -> JobConfig:
    catalog = context_of(request).jobs.catalog
    name = draft.settings.get("name")
    try:
        return catalog.draft(draft.settings, existing=draft.job)
    except ConfigError as exc:
        problem = config_problem(exc, name if isinstance(name, str) else None)
        problem.errors = [
            FieldProblem(error.field.replace("body", "body.settings", 1), error.problem)
            for error in problem.errors
        ]
        raise problem from None
    except JobNotFound as exc:
        raise Problem(404, "Not found", str(exc), [FieldProblem("body.job", str(exc))]) from None
    except (UnreadableSecrets, SecretKeyError) as exc:
        raise Problem(409, "Conflict", str(exc)) from None


def _check_out(outcome: CheckOutcome) -> CheckOut:
    return CheckOut(ok=outcome.ok, summary=outcome.summary, step=outcome.step, hint=outcome.hint)
