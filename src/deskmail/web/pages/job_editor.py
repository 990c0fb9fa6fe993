"""The job editor: a database job created or changed, a file job shown read-only.

One form with the Alloy document's tabs as sections (Connection, Processing rules,
Preprocessing rules, Schedule, Outgoing mail). Its buttons post the whole form with
what to do (`do`): save, test (Test Connection on the unsaved draft), folders (Load
folders for the draft), or move, remove or add a preprocessing rule. Without
JavaScript each answers with the whole page; with htmx only the part concerned is
swapped, so what was typed (a password) stays in its field.

A refused save shows each problem next to its field; nothing is stored, and a
running job keeps its settings (the catalog only stores settings that load).
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskmail.config.errors import ConfigError
from deskmail.jobs.catalog import (
    CatalogError,
    CatalogJob,
    JobNotFound,
    JobSource,
    NameTaken,
    SecretState,
)
from deskmail.jobs.secrets import SecretSlot, UnreadableSecrets
from deskmail.store.accounts import Role
from deskmail.store.sealing import SecretKeyError
from deskmail.web.context import context_of
from deskmail.web.forms.field_errors import GENERAL, field_errors
from deskmail.web.forms.job_form import (
    CHOICES,
    FIELDS,
    FormError,
    JobForm,
    custom_row,
    form_from_job,
    form_from_post,
)
from deskmail.web.forms.rule_rows import rule_choices
from deskmail.web.job_checks import CheckOutcome, FolderListing, check_job, folders_of
from deskmail.web.security.principal import Principal
from deskmail.web.security.roles import PageAdmin, PageViewer
from deskmail.web.templating import render, see_other

router = APIRouter(include_in_schema=False)

# The form's write-only fields and the catalog's secret they set.
SECRET_SLOTS = {
    "password": SecretSlot.PASSWORD,
    "oauth2.client_secret": SecretSlot.CLIENT_SECRET,
    "smtp.password": SecretSlot.SMTP_PASSWORD,
}


@router.get("/jobs/new", name="job_new")
def new(request: Request, user: PageAdmin) -> Response:
    return _editor(request, user, form_from_job(None), None)


@router.post("/jobs/new", name="job_create")
async def create(request: Request, user: PageAdmin) -> Response:
    return await _posted(request, user, None)


@router.get("/jobs/{name}/edit", name="job_edit")
def edit(request: Request, user: PageViewer, name: str) -> Response:
    try:
        job = context_of(request).jobs.catalog.get(name)
    except JobNotFound:
        return _not_found(request, user, name)
    return _editor(request, user, form_from_job(job.settings), job)


@router.post("/jobs/{name}/edit", name="job_update")
async def update(request: Request, user: PageAdmin, name: str) -> Response:
    try:
        job = context_of(request).jobs.catalog.get(name)
    except JobNotFound:
        return _not_found(request, user, name)
    if job.source is JobSource.FILE:
        message = f"Job {name!r} is written in {job.file}: change it in that file."
        return render(request, "error.html", user, status=409, title="Read-only", message=message)
    return await _posted(request, user, job)


async def _posted(request: Request, user: Principal, job: CatalogJob | None) -> Response:
    async with request.form() as data:
        posted = {key: [str(v) for v in data.getlist(key)] for key in data}
    action = (posted.get("do") or ["save"])[-1]
    try:
        form = form_from_post(posted)
    except FormError as exc:
        return _editor(
            request,
            user,
            form_from_job(job.settings if job else None),
            job,
            status=422,
            errors={exc.field: exc.problem},
        )
    try:
        rules_changed = form.with_rules_changed(action)
    except FormError as exc:
        return _editor(request, user, form, job, status=422, errors={exc.field: exc.problem})
    if rules_changed is not None:
        return _editor(request, user, rules_changed, job)
    if action == "add-rule":
        try:
            form = form.with_row(custom_row(posted))
        except FormError as exc:
            return _editor(request, user, form, job, status=422, errors={exc.field: exc.problem})
        return _editor(request, user, form, job)
    for prefix, step in (("up-", -1), ("down-", 1)):
        if action.startswith(prefix) and action[len(prefix) :].isdigit():
            return _editor(request, user, form.moved(int(action[len(prefix) :]), step), job)
    if action.startswith("remove-") and action[7:].isdigit():
        return _editor(request, user, form.without_row(int(action[7:])), job)
    if action in ("test", "folders"):
        return _tried(request, user, form, job, action)
    revision = (posted.get("revision") or [""])[-1]
    return _save(request, user, form, job, int(revision) if revision.isdigit() else None)


def _tried(
    request: Request, user: Principal, form: JobForm, job: CatalogJob | None, action: str
) -> Response:
    """Test Connection or Load folders on the draft: the form's values, nothing saved."""
    context = context_of(request)
    name = job.name if job is not None else None
    try:
        draft = context.jobs.catalog.draft(form.settings(), existing=name)
    except FormError as exc:
        return _editor(request, user, form, job, status=422, errors={exc.field: exc.problem})
    except ConfigError as exc:
        errors = field_errors(exc, form.value("name") or name, FIELDS, form.rule_field)
        return _editor(request, user, form, job, status=422, errors=errors)
    except (UnreadableSecrets, SecretKeyError) as exc:
        return _editor(request, user, form, job, status=422, errors={GENERAL: str(exc)})
    if action == "test":
        outcome = check_job(draft, context.config, context.store)
        return _editor(request, user, form, job, check=outcome)
    return _editor(request, user, form, job, folders=folders_of(draft, context.store))


def _save(
    request: Request,
    user: Principal,
    form: JobForm,
    job: CatalogJob | None,
    revision: int | None,
) -> Response:
    catalog = context_of(request).jobs.catalog
    name = job.name if job is not None else form.value("name")
    try:
        settings = form.settings()
        if job is None:
            saved = catalog.create(settings)
        else:
            saved = catalog.replace(job.name, settings, revision=revision)
    except FormError as exc:
        return _editor(request, user, form, job, status=422, errors={exc.field: exc.problem})
    except ConfigError as exc:
        return _editor(
            request,
            user,
            form,
            job,
            status=422,
            errors=field_errors(exc, name, FIELDS, form.rule_field),
        )
    except NameTaken as exc:
        return _editor(request, user, form, job, status=409, errors={"name": str(exc)})
    except (CatalogError, UnreadableSecrets, SecretKeyError) as exc:
        return _editor(request, user, form, job, status=409, errors={GENERAL: str(exc)})
    notice = f"{saved.name}: saved (revision {saved.revision})."
    return see_other(request, str(request.url_for("jobs").include_query_params(notice=notice)))


def _editor(
    request: Request,
    user: Principal,
    form: JobForm,
    job: CatalogJob | None,
    *,
    status: int = 200,
    errors: Mapping[str, str] | None = None,
    check: CheckOutcome | None = None,
    folders: FolderListing | None = None,
) -> Response:
    editable = user.allows(Role.ADMIN) and (job is None or job.source is JobSource.DATABASE)
    if errors:
        form = form.with_errors(errors)
    title = "New job" if job is None else f"Job {job.name}"
    return render(
        request,
        "jobs_editor.html",
        user,
        status=status,
        title=title,
        form=form,
        job=job,
        editable=editable,
        secrets=_secret_states(job),
        choices=CHOICES,
        rule_choices=rule_choices(context_of(request).config.records),
        general_error=form.error(GENERAL),
        check=check,
        folders=folders,
        action=(
            request.url_for("job_create")
            if job is None
            else request.url_for("job_update", name=job.name)
        ),
    )


def _secret_states(job: CatalogJob | None) -> dict[str, str]:
    """Each write-only field's note: "set" (kept when left empty), or nothing."""
    if job is None:
        return {}
    return {
        field: "set"
        for field, slot in SECRET_SLOTS.items()
        if job.secrets.get(slot) is SecretState.SET
    }


def _not_found(request: Request, user: Principal, name: str) -> Response:
    message = f"No job named {name!r}."
    return render(request, "error.html", user, status=404, title="Not found", message=message)
