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
from deskmail.web.api.resource import PREFIX

__all__ = ["PREFIX", "api_routers"]


def api_routers() -> tuple[APIRouter, ...]:
    """The resources' routers, in the order their routes are matched (resource.py)."""
    resources = (
        me, tokens, users, jobs, tickets, activities, events, directory,
        runs, quarantine, simulate, stream, webhooks, docs,
    )  # fmt: skip
    return tuple(module.router for module in resources)
