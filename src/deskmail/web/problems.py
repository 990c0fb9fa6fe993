"""RFC 9457 problem responses for the API (application/problem+json).

Raise `Problem(status, title, detail)` anywhere under /api; a validation
error names each field that is wrong in `errors` ([{"field": "body.label",
"problem": "..."}]). Pages get HTML error pages instead (pages/errors.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("deskmail.web")

MEDIA_TYPE = "application/problem+json"
_TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal server error",
}


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str  # where: "body.label", "query.limit"
    problem: str


class FieldProblemModel(BaseModel):
    field: str
    problem: str


class ProblemModel(BaseModel):
    """The body of every API error (for the OpenAPI document)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldProblemModel] | None = None


# responses= for routers: every API route may answer these. By reference to one
# schema (added by document_problems): a "model" here would have FastAPI build a
# validator and a serializer of ProblemModel for each status of each route, some
# 600 of them kept in memory for the OpenAPI document only (bench/README.md).
PROBLEM_SCHEMA = {"$ref": f"#/components/schemas/{ProblemModel.__name__}"}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": _TITLES[status], "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}}
    for status in (400, 401, 403, 404, 409, 422, 500)
}


@dataclass(slots=True)
class Problem(Exception):
    status: int
    title: str
    detail: str | None = None
    errors: list[FieldProblem] = field(default_factory=list)
    headers: dict[str, str] | None = None


def field_problem(status: int, where: str, problem: str) -> Problem:
    """A Problem about one field of the request, e.g. field_problem(409, "body.name", "...")."""
    return Problem(
        status,
        _TITLES.get(status, "Invalid request"),
        f"{where}: {problem}",
        [FieldProblem(where, problem)],
    )


def problem_response(problem: Problem) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": problem.title, "status": problem.status}
    if problem.detail:
        body["detail"] = problem.detail
    if problem.errors:
        body["errors"] = [{"field": e.field, "problem": e.problem} for e in problem.errors]
    return JSONResponse(body, problem.status, headers=problem.headers, media_type=MEDIA_TYPE)


def validation_problem(exc: RequestValidationError) -> Problem:
    errors = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error.get("loc", ()))
        # The message only: pydantic's "input" would echo what was sent (a password...).
        errors.append(FieldProblem(where or "body", str(error.get("msg", "is invalid"))))
    detail = "; ".join(f"{e.field}: {e.problem}" for e in errors)
    return Problem(422, _TITLES[422], detail, errors)


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def document_problems(app: FastAPI) -> None:
    """Add the schema PROBLEM_RESPONSES refer to to the app's OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()  # which FastAPI keeps as app.openapi_schema
        schema = ProblemModel.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(schema.pop("$defs", {}))
        schemas[ProblemModel.__name__] = schema
        return document

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way


def install_api_problems(app: FastAPI) -> None:
    """Make every error under /api a problem response; other paths go to `fallback`."""
    document_problems(app)

    @app.exception_handler(Problem)
    async def on_problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, exc: RequestValidationError) -> Any:
        if not is_api(request):
            return await app.state.page_errors(request, 422, "The form was not filled in right.")
        return problem_response(validation_problem(exc))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Any:
        if not is_api(request):
            return await app.state.page_errors(request, exc.status_code, str(exc.detail))
        title = _TITLES.get(exc.status_code, "Error")
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(Problem(exc.status_code, title, detail, headers=headers))

    @app.exception_handler(Exception)
    async def on_error(request: Request, exc: Exception) -> Any:
        # Logged with its type only: the text of an exception may carry mail or secrets.
        log.error("%s %s failed: %s", request.method, request.url.path, type(exc).__name__)
        if not is_api(request):
            return await app.state.page_errors(request, 500, "Something went wrong on the server.")
        return problem_response(Problem(500, _TITLES[500], "see the server's log"))
