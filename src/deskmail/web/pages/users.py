"""Users and roles (admins only): add, change role, reset password, remove."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from deskmail.store.accounts import Role
from deskmail.web.accounts import (
    AccountError,
    add_user,
    list_users,
    remove_user,
    set_password,
    set_role,
)
from deskmail.web.context import context_of
from deskmail.web.ids import RowId
from deskmail.web.security.passwords import MIN_LENGTH
from deskmail.web.security.principal import Principal
from deskmail.web.security.roles import PageAdmin
from deskmail.web.templating import render, see_other

router = APIRouter(include_in_schema=False)


def _page(request: Request, user: Principal, *, status: int = 200, **values: object) -> Response:
    return render(
        request,
        "users.html",
        user,
        status=status,
        title="Users",
        users=list_users(context_of(request).store),
        roles=list(Role),
        min_length=MIN_LENGTH,
        **values,
    )


def _done(request: Request, notice: str) -> Response:
    return see_other(request, str(request.url_for("users").include_query_params(notice=notice)))


@router.get("/users", name="users")
def users(request: Request, user: PageAdmin, notice: str | None = None) -> Response:
    return _page(request, user, notice=notice)


@router.post("/users", name="user_add")
def add(
    request: Request,
    user: PageAdmin,
    name: Annotated[str, Form(max_length=100)],
    role: Annotated[Role, Form()],
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    try:
        add_user(context_of(request).store, name, role, password)
    except AccountError as exc:
        return _page(request, user, status=422, error=str(exc))
    return _done(request, f"{name} added as {role.value}.")


@router.post("/users/{user_id}/role", name="user_role")
def change_role(
    request: Request, user: PageAdmin, user_id: RowId, role: Annotated[Role, Form()]
) -> Response:
    try:
        changed = set_role(context_of(request).store, user_id, role)
    except AccountError as exc:
        return _page(request, user, status=404 if exc.not_found else 422, error=str(exc))
    return _done(request, f"{changed.name} is now {role.value}.")


@router.post("/users/{user_id}/password", name="user_password")
def reset_password(
    request: Request,
    user: PageAdmin,
    user_id: RowId,
    password: Annotated[str, Form(max_length=1024)],
) -> Response:
    try:
        set_password(context_of(request).store, user_id, password)
    except AccountError as exc:
        return _page(request, user, status=404 if exc.not_found else 422, error=str(exc))
    return _done(request, "Password changed; that user's sessions have ended.")


@router.post("/users/{user_id}/remove", name="user_remove")
def remove(request: Request, user: PageAdmin, user_id: RowId) -> Response:
    try:
        removed = remove_user(context_of(request).store, user_id)
    except AccountError as exc:
        return _page(request, user, status=404 if exc.not_found else 422, error=str(exc))
    return _done(request, f"{removed.name} removed, with their sessions and tokens.")
