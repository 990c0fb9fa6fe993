"""/api/v1/users: administrators manage the users (create, read, change, remove)."""

from __future__ import annotations

from datetime import datetime

from fastapi import Request, Response
from pydantic import BaseModel, ConfigDict, Field

from deskmail.store.accounts import Role
from deskmail.web.accounts import (
    AccountError,
    add_user,
    list_users,
    remove_user,
    set_password,
    set_role,
    user_by_id,
)
from deskmail.web.api.resource import resource_router
from deskmail.web.context import context_of
from deskmail.web.ids import RowId
from deskmail.web.pagination import UpdatedSince
from deskmail.web.problems import Problem, field_problem
from deskmail.web.security.roles import ApiAdmin

router = resource_router(prefix="/users", tags=["users"])


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # UserOut.model_validate(web_user)

    id: int
    name: str
    role: Role
    created_at: datetime
    updated_at: datetime = Field(description="its last change: role or password")


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Role
    password: str = Field(min_length=1, max_length=1024, description="write-only")


class UserChange(BaseModel):
    role: Role | None = None
    password: str | None = Field(
        default=None, max_length=1024, description="write-only; ends the user's sessions"
    )


def _problem(exc: AccountError) -> Problem:
    if exc.not_found:
        return Problem(404, "Not found", exc.problem)
    return field_problem(409 if exc.conflict else 422, f"body.{exc.field}", exc.problem)


@router.get("", summary="Every user")
def list_all(request: Request, user: ApiAdmin, updated_since: UpdatedSince = None) -> list[UserOut]:
    found = list_users(context_of(request).store, updated_since)
    return [UserOut.model_validate(each) for each in found]


@router.post("", status_code=201, summary="Add a user")
def create(request: Request, response: Response, body: UserIn, user: ApiAdmin) -> UserOut:
    try:
        made = add_user(context_of(request).store, body.name, body.role, body.password)
    except AccountError as exc:
        raise _problem(exc) from None
    response.headers["Location"] = f"{request.url.path}/{made.id}"
    return UserOut.model_validate(made)


@router.get("/{user_id}", summary="One user")
def read(request: Request, user_id: RowId, user: ApiAdmin) -> UserOut:
    try:
        return UserOut.model_validate(user_by_id(context_of(request).store, user_id))
    except AccountError as exc:
        raise _problem(exc) from None


@router.patch("/{user_id}", summary="Change a user's role or password")
def change(request: Request, user_id: RowId, body: UserChange, user: ApiAdmin) -> UserOut:
    store = context_of(request).store
    try:
        if body.role is not None:
            set_role(store, user_id, body.role)
        if body.password is not None:
            set_password(store, user_id, body.password)
        return UserOut.model_validate(user_by_id(store, user_id))
    except AccountError as exc:
        raise _problem(exc) from None


@router.delete("/{user_id}", status_code=204, summary="Remove a user, their sessions and tokens")
def remove(request: Request, user_id: RowId, user: ApiAdmin) -> Response:
    try:
        remove_user(context_of(request).store, user_id)
    except AccountError as exc:
        raise _problem(exc) from None
    return Response(status_code=204)
