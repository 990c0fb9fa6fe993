"""How pages answer what went wrong: the login page, or an HTML error page."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import Response

from deskmail.web.security.principal import Principal
from deskmail.web.security.roles import LoginRequired, PageForbidden, session_user
from deskmail.web.templating import render, see_other

_TITLES = {403: "Not allowed", 404: "Not found", 422: "Invalid form", 500: "Server error"}


async def error_page(request: Request, status: int, message: str) -> Response:
    return render(
        request,
        "error.html",
        _safe_user(request),
        status=status,
        title=_TITLES.get(status, "Error"),
        message=message,
    )


def _safe_user(request: Request) -> Principal | None:
    try:
        return session_user(request)
    except Exception:  # the database may be why the page failed
        return None


def install_page_errors(app: FastAPI) -> None:
    app.state.page_errors = error_page

    @app.exception_handler(LoginRequired)
    async def on_login_required(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return see_other(request, f"/login?next={quote(target, safe='')}")

    @app.exception_handler(PageForbidden)
    async def on_forbidden(request: Request, exc: PageForbidden) -> Response:
        return await error_page(
            request, 403, f"This needs the {exc.needed.value} role or higher; ask an administrator."
        )
