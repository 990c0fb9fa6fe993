"""The router of an API resource: under /api/v1, answering RFC 9457 problems.

Each resource's router carries the prefix and the problem responses itself,
and create_app() adds its routes to the application as they are. Included
through an enclosing router instead, FastAPI would keep these routes and build
a second copy of every one for the inclusion (their validators, serializers and
dependency trees), which an idle server keeps (bench/README.md, web_idle.py).
"""

from __future__ import annotations

from fastapi import APIRouter

from deskmail.web.problems import PROBLEM_RESPONSES

PREFIX = "/api/v1"


def resource_router(
    prefix: str = "", *, tags: list[str] | None = None, include_in_schema: bool = True
) -> APIRouter:
    return APIRouter(
        prefix=PREFIX + prefix,
        tags=list(tags or []),
        responses=PROBLEM_RESPONSES,
        include_in_schema=include_in_schema,
    )
