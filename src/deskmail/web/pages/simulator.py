"""The rule simulator: upload an .eml or pick a kept message, and see what
`deskmail explain` says (the ordered steps and what each decided). Nothing is written."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from deskmail.report.explain import Explanation, render_text
from deskmail.web.api.simulate import mail_bytes
from deskmail.web.context import context_of
from deskmail.web.problems import Problem
from deskmail.web.queries.jobs import job_named, with_database_jobs
from deskmail.web.queries.simulation import pickable_messages, simulate
from deskmail.web.security.principal import Principal
from deskmail.web.security.roles import PageAdmin
from deskmail.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/simulator", name="simulator")
def simulator(request: Request, user: PageAdmin, message: str | None = None) -> Response:
    return _page(request, user, picked=message)


@router.post("/simulator", name="simulator_run")
async def run(
    request: Request,
    user: PageAdmin,
    eml: Annotated[UploadFile | None, File()] = None,
    message: Annotated[str | None, Form(max_length=100)] = None,
    job: Annotated[str | None, Form(max_length=200)] = None,
) -> Response:
    context = context_of(request)
    try:
        raw = await mail_bytes(context.store, eml, message or None, where="form")
    except Problem as problem:
        error = problem.errors[0].problem if problem.errors else problem.detail
        return _page(request, user, picked=message, job=job, status=422, error=f"The mail {error}.")
    chosen = job_named(context.config, context.store, job)
    if chosen is None:
        return _page(request, user, picked=message, status=422, error=f"No job named {job!r}.")
    found = simulate(context.store, chosen, raw)
    return _page(request, user, picked=message, job=chosen.name, result=found)


def _page(
    request: Request,
    user: Principal,
    *,
    picked: str | None = None,
    job: str | None = None,
    result: Explanation | None = None,
    status: int = 200,
    error: str | None = None,
) -> Response:
    context = context_of(request)
    jobs = [each.name for each in with_database_jobs(context.config, context.store).jobs]
    with context.store.session() as session:
        messages = pickable_messages(session)
    return render(
        request,
        "simulator.html",
        user,
        status=status,
        title="Rule simulator",
        jobs=jobs,
        job=job,
        messages=messages,
        picked=picked,
        result=result,
        text=render_text(result) if result is not None else None,
        error=error,
    )
