"""/healthz (the process answers), /readyz (it can work), /metrics (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from deskmail.web.context import context_of
from deskmail.web.ops.readiness import readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", name="healthz", summary="Alive: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    name="readyz",
    summary="Ready: database reachable, scheduler beating, enabled jobs succeeding",
    responses={503: {"description": "not ready, with the reasons in `issues`"}},
)
def readyz(request: Request) -> Response:
    context = context_of(request)
    found = readiness(context.store, context.config, context.web, runs_jobs=context.runs_jobs)
    return JSONResponse(
        {"ready": found.ready, "issues": found.issues}, status_code=200 if found.ready else 503
    )


@router.get("/metrics", name="metrics", summary="Prometheus metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    registry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
