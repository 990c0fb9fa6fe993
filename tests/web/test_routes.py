"""Every page and endpoint says which role it needs (security/roles.py), but the public ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from deskmail.config.models import DeskmailConfig
from deskmail.store.engine import Store
from deskmail.web.app import create_app
from deskmail.web.security.roles import ROLE_MARK

# Open to everyone, on purpose: logging in, the set-up page (its own checks), operations.
PUBLIC = {
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/setup"),
    ("POST", "/setup"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("POST", "/jobs/sign-in/callback"),  # the identity provider's answer: its state checks it
    ("GET", "/jobs/sign-in/callback"),
}


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """(full path, route) of every route, through FastAPI's included routers."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes, prefix + route.include_context.prefix)
        elif isinstance(route, APIRoute):
            yield prefix + route.path, route


def _roles(dependant: Dependant) -> list[object]:
    found = [getattr(dependant.call, ROLE_MARK)] if hasattr(dependant.call, ROLE_MARK) else []
    for sub in dependant.dependencies:
        found += _roles(sub)
    return found


def test_every_route_but_the_public_ones_needs_a_role(tmp_path: Path, store: Store) -> None:
    app = create_app(DeskmailConfig(source_file=tmp_path / "deskmail.toml"), store)
    seen, unguarded = set(), []
    for path, route in _routes(app.routes):
        for method in route.methods:
            key = (method, path)
            seen.add(key)
            if key not in PUBLIC and len(_roles(route.dependant)) != 1:
                unguarded.append(key)
    assert unguarded == []
    assert ("GET", "/jobs") in seen and ("GET", "/api/v1/tickets") in seen  # the walk works
    assert seen | {("GET", "/api/v1/openapi.json")} >= PUBLIC
