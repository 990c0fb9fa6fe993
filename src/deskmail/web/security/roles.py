"""The one way a page or an endpoint says who may use it.

Every route takes its user from `page_user(ROLE)` (pages: session cookie) or
`api_user(ROLE)` (API: bearer token), most simply through the aliases at the
end of this module:

    @router.get("/jobs", name="jobs")
    def jobs(request: Request, user: PageViewer) -> Response: ...

    @router.get("/jobs")
    def list_jobs(request: Request, user: ApiViewer) -> list[JobOut]: ...

tests/web/test_routes.py fails for any route that has neither (except the
public ones listed there).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from deskmail.store.accounts import Role
from deskmail.web.context import context_of
from deskmail.web.problems import Problem
from deskmail.web.security.principal import Principal
from deskmail.web.security.sessions import COOKIE, session_principal
from deskmail.web.security.tokens import token_principal

ROLE_MARK = "__deskmail_role__"  # set on the dependencies, read by the route guard test


class LoginRequired(Exception):
    """A page was asked for without a live session."""


class PageForbidden(Exception):
    def __init__(self, needed: Role) -> None:
        super().__init__(needed)
        self.needed = needed


def session_user(request: Request) -> Principal | None:
    """The signed-in user of a page request, if any (for pages open to everyone, like /login)."""
    context = context_of(request)
    idle = timedelta(minutes=context.web.session_idle_minutes)
    return session_principal(context.store, request.cookies.get(COOKIE), idle)


def page_user(needed: Role) -> Callable[[Request], Principal]:
    def dependency(request: Request) -> Principal:
        principal = session_user(request)
        if principal is None:
            raise LoginRequired
        if not principal.allows(needed):
            raise PageForbidden(needed)
        return principal

    setattr(dependency, ROLE_MARK, needed)
    return dependency


def api_user(needed: Role) -> Callable[[Request], Principal]:
    def dependency(request: Request) -> Principal:
        scheme, _, secret = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Problem(
                401,
                "Authentication required",
                "send an API token as 'Authorization: Bearer dmt_...'",
                headers={"WWW-Authenticate": "Bearer"},
            )
        principal = token_principal(context_of(request).store, secret.strip())
        if principal is None:
            raise Problem(
                401,
                "Invalid token",
                "the token is unknown, revoked or expired",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if not principal.allows(needed):
            raise Problem(403, "Forbidden", f"this needs the {needed.value} role or higher")
        return principal

    setattr(dependency, ROLE_MARK, needed)
    return dependency


# The parameter types of routes: `user: PageAdmin`, `user: ApiViewer`, ...
PageViewer = Annotated[Principal, Depends(page_user(Role.VIEWER))]
PageAgent = Annotated[Principal, Depends(page_user(Role.AGENT))]
PageAdmin = Annotated[Principal, Depends(page_user(Role.ADMIN))]
ApiViewer = Annotated[Principal, Depends(api_user(Role.VIEWER))]
ApiAgent = Annotated[Principal, Depends(api_user(Role.AGENT))]
ApiAdmin = Annotated[Principal, Depends(api_user(Role.ADMIN))]
