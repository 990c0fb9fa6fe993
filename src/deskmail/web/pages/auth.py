"""Log in, log out, log out everywhere, and the one-time set-up of the first administrator."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from deskmail.store.accounts import Role
from deskmail.web.accounts import AccountError, add_user, find_user, has_users, store_rehash
from deskmail.web.context import context_of
from deskmail.web.security.passwords import MIN_LENGTH, verify_password
from deskmail.web.security.roles import PageViewer, session_user
from deskmail.web.security.sessions import (
    COOKIE,
    clear_session_cookie,
    end_all_sessions,
    end_session,
    open_session,
    set_session_cookie,
)
from deskmail.web.security.throttle import forget_failures, record_failure, wait_minutes
from deskmail.web.templating import render, see_other

router = APIRouter(include_in_schema=False)
HOME = "/jobs"


def client_address(request: Request) -> str:
    """The client's address (the proxy's X-Forwarded-For only when the proxy is trusted)."""
    return request.client.host if request.client else "unknown"


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _over_tls(request: Request) -> bool:
    # Behind a trusted proxy that ends TLS, uvicorn has applied its X-Forwarded-Proto.
    return request.url.scheme == "https"


def _safe_next(target: str) -> str:
    # Only a path of this site: never "//elsewhere" or "https://elsewhere".
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return HOME


@router.get("/login", name="login_form")
def login_form(request: Request, next: str = HOME) -> Response:
    context = context_of(request)
    if session_user(request) is not None:
        return see_other(request, _safe_next(next))
    if not has_users(context.store) and _is_loopback(client_address(request)):
        return see_other(request, "/setup")
    return render(request, "login.html", None, title="Log in", next=_safe_next(next), name="")


@router.post("/login", name="login")
def login(
    request: Request,
    name: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form()] = HOME,
) -> Response:
    context = context_of(request)
    address = client_address(request)
    values: dict[str, object] = {"next": _safe_next(next), "name": name}
    wait = wait_minutes(context.store, context.web, name, address)
    if wait:
        return render(
            request,
            "login.html",
            None,
            status=429,
            title="Log in",
            error=f"Too many failed logins. Try again in {wait} minute{'s' if wait > 1 else ''}.",
            **values,
        )
    try:
        user = find_user(context.store, name)
    except AccountError:
        user = None
    matches, new_hash = verify_password(password, user.password_hash if user else None)
    if user is None or not matches:
        record_failure(context.store, context.web, name, address)
        return render(
            request,
            "login.html",
            None,
            status=401,
            title="Log in",
            error="The user name or the password is wrong.",
            **values,
        )
    if new_hash is not None:
        store_rehash(context.store, user.id, new_hash)
    forget_failures(context.store, name)
    return _signed_in(request, user.id, _safe_next(next))


def _signed_in(request: Request, user_id: int, target: str) -> Response:
    context = context_of(request)
    # Always a new id at login: a session id planted before it is worth nothing after.
    idle = timedelta(minutes=context.web.session_idle_minutes)
    secret = open_session(context.store, user_id, client_address(request), prune_idle=idle)
    response = see_other(request, target)
    set_session_cookie(response, secret, secure=_over_tls(request))
    return response


@router.post("/logout", name="logout")
def logout(request: Request, user: PageViewer) -> Response:
    context = context_of(request)
    end_session(context.store, request.cookies.get(COOKIE, ""))
    response = see_other(request, "/login")
    clear_session_cookie(response, secure=_over_tls(request))
    return response


@router.post("/logout-everywhere", name="logout_everywhere")
def logout_everywhere(request: Request, user: PageViewer) -> Response:
    context = context_of(request)
    end_all_sessions(context.store, user.user_id)
    response = see_other(request, "/login")
    clear_session_cookie(response, secure=_over_tls(request))
    return response


def _setup_refusal(request: Request) -> Response | None:
    """Why the set-up page is closed to this request, as a page; None when it is open."""
    if has_users(context_of(request).store):
        return see_other(request, "/login")
    if not _is_loopback(client_address(request)):
        return render(
            request,
            "error.html",
            None,
            status=403,
            title="Set-up",
            message="The first administrator can only be created from the server itself"
            " (http://127.0.0.1), or with `deskmail users add --admin NAME`.",
        )
    return None


@router.get("/setup", name="setup_form")
def setup_form(request: Request) -> Response:
    refusal = _setup_refusal(request)
    if refusal is not None:
        return refusal
    return render(
        request, "setup.html", None, title="Set up deskmail", name="", min_length=MIN_LENGTH
    )


@router.post("/setup", name="setup")
def setup(
    request: Request,
    name: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1024)],
    confirm: Annotated[str, Form(max_length=1024)],
) -> Response:
    refusal = _setup_refusal(request)
    if refusal is not None:
        return refusal
    try:
        if password != confirm:
            raise AccountError("confirm", "the two passwords differ")
        user = add_user(context_of(request).store, name, Role.ADMIN, password, only_if_first=True)
    except AccountError as exc:
        return render(
            request,
            "setup.html",
            None,
            status=422,
            title="Set up deskmail",
            name=name,
            min_length=MIN_LENGTH,
            error=str(exc),
        )
    return _signed_in(request, user.id, HOME)
