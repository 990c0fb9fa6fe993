"""The REST API under /api/v1: one router module per resource (see web/__init__.py)."""

from __future__ import annotations

from fastapi import APIRouter

from deskmail.web.api import (
    activities,
    directory,
    docs,
    events,
    jobs,
    me,
    quarantine,
    runs,
    simulate,
    stream,
    tickets,
    tokens,
    users,
    webhooks,
)
from deskmail.web.problems import PROBLEM_RESPONSES

PREFIX = "/api/v1"


def api_router() -> APIRouter:
    router = APIRouter(prefix=PREFIX, responses=PROBLEM_RESPONSES)
    resources = (
        me, tokens, users, jobs, tickets, activities, events, directory,
        runs, quarantine, simulate, stream, webhooks,
    )  # fmt: skip
    for module in resources:
        router.include_router(module.router)
    router.include_router(docs.router)
    return router
