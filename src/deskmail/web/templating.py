"""Rendering pages: Jinja2 templates (autoescaped) in web/templates, one per screen."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.routing import NoMatchFound

from deskmail.web.navigation import NAV, NavItem
from deskmail.web.security.csrf import csrf_token
from deskmail.web.security.principal import Principal

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"


@cache
def templates() -> Jinja2Templates:
    found = Jinja2Templates(directory=TEMPLATES_DIR)
    found.env.filters["when"] = when
    found.env.filters["ago"] = ago
    found.env.globals["csrf_token"] = csrf_token
    return found


def when(moment: datetime | None) -> str:
    """A time as people read it in a table, in UTC (said once in the page's footer)."""
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def ago(moment: datetime | None) -> str:
    if moment is None:
        return ""
    seconds = (datetime.now(UTC) - moment).total_seconds()
    if seconds < 0:
        seconds = -seconds
        for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
            if seconds >= size:
                return f"in {int(seconds // size)} {unit}"
        return "in under a minute"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def navigation(request: Request, user: Principal | None) -> list[tuple[NavItem, str]]:
    """The screens this user may open that exist in this application, with their URLs."""
    if user is None:
        return []
    shown = []
    for item in NAV:
        if not user.allows(item.role):
            continue
        try:
            shown.append((item, str(request.url_for(item.route))))
        except NoMatchFound:  # a screen not built yet
            continue
    return shown


def render(
    request: Request,
    template: str,
    user: Principal | None,
    *,
    status: int = 200,
    title: str,
    **values: Any,
) -> Response:
    route = request.scope.get("route")
    context = {
        "user": user,
        "title": title,
        "nav": navigation(request, user),
        "current": getattr(route, "name", None),
        **values,
    }
    response: HTMLResponse = templates().TemplateResponse(
        request, template, context, status_code=status
    )
    return response


def see_other(request: Request, url: str) -> Response:
    """After a form: a full page load of `url` (htmx's HX-Redirect; 303 without htmx)."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=204, headers={"HX-Redirect": url})
    return Response(status_code=303, headers={"Location": url})
