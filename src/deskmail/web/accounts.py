"""Users of the web UI and API: add, list, remove, change role, reset password.

One place for the rules, shared by `deskmail users`, the Users screen and
/api/v1/users: names are unique whatever their case, passwords have a minimum
length, and the last administrator can be neither removed nor demoted.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deskmail.store.accounts import Role, WebUser
from deskmail.store.engine import Store
from deskmail.web.security.passwords import hash_password, password_problem

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")


class AccountError(Exception):
    """What is wrong, and with which field ("name", "password", "role", ...)."""

    def __init__(
        self, field: str, problem: str, *, not_found: bool = False, conflict: bool = False
    ) -> None:
        super().__init__(field, problem)
        self.field = field
        self.problem = problem
        self.not_found = not_found
        self.conflict = conflict  # with the state of the data (a taken name, the last admin)

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name):
        raise AccountError(
            "name",
            "must be 1 to 100 letters, digits or . _ @ - (starting with a letter or digit)",
        )


def _check_password(password: str) -> None:
    problem = password_problem(password)
    if problem is not None:
        raise AccountError("password", problem)


def find_user(store: Store, name: str) -> WebUser:
    with store.session() as session:
        user = session.scalar(select(WebUser).where(func.lower(WebUser.name) == name.lower()))
    if user is None:
        raise AccountError("name", f"no user named {name!r}", not_found=True)
    return user


def user_by_id(store: Store, user_id: int) -> WebUser:
    with store.session() as session:
        user = session.get(WebUser, user_id)
    if user is None:
        raise AccountError("id", f"no user with id {user_id}", not_found=True)
    return user


def list_users(store: Store, updated_since: datetime | None = None) -> list[WebUser]:
    query = select(WebUser)
    if updated_since is not None:
        query = query.where(WebUser.updated_at >= updated_since)
    with store.session() as session:
        return list(session.scalars(query.order_by(func.lower(WebUser.name))))


def has_users(store: Store) -> bool:
    with store.session() as session:
        return session.scalar(select(WebUser.id).limit(1)) is not None


def add_user(
    store: Store, name: str, role: Role, password: str, *, only_if_first: bool = False
) -> WebUser:
    """A new user; with only_if_first (the set-up page), only while there is none at all."""
    _check_name(name)
    _check_password(password)
    password_hash = hash_password(password)  # outside the transaction: it takes a while
    with store.transaction() as session:
        if only_if_first and session.scalar(select(WebUser.id).limit(1)) is not None:
            raise AccountError("name", "a user exists already: log in instead", conflict=True)
        taken = session.scalar(select(WebUser.id).where(func.lower(WebUser.name) == name.lower()))
        if taken is not None:
            raise AccountError("name", f"a user named {name!r} exists already", conflict=True)
        user = WebUser(name=name, role=role, password_hash=password_hash)
        session.add(user)
    return user


def set_role(store: Store, user_id: int, role: Role) -> WebUser:
    with store.transaction() as session:
        user = session.get(WebUser, user_id)
        if user is None:
            raise AccountError("id", f"no user with id {user_id}", not_found=True)
        if user.role is Role.ADMIN and role is not Role.ADMIN:
            _keep_an_admin(session, user, "demoted")
        user.role = role
    return user


def set_password(store: Store, user_id: int, password: str) -> None:
    """A new password; every session of the user ends (they log in again with it)."""
    from deskmail.web.security.sessions import end_all_sessions

    _check_password(password)
    password_hash = hash_password(password)
    with store.transaction() as session:
        user = session.get(WebUser, user_id)
        if user is None:
            raise AccountError("id", f"no user with id {user_id}", not_found=True)
        user.password_hash = password_hash
    end_all_sessions(store, user_id)


def store_rehash(store: Store, user_id: int, password_hash: str) -> None:
    """Keep a hash made with newer parameters (pwdlib's verify_and_update)."""
    with store.transaction() as session:
        user = session.get(WebUser, user_id)
        if user is not None:
            user.password_hash = password_hash


def remove_user(store: Store, user_id: int) -> WebUser:
    """Remove the user, their sessions and tokens."""
    with store.transaction() as session:
        user = session.get(WebUser, user_id)
        if user is None:
            raise AccountError("id", f"no user with id {user_id}", not_found=True)
        if user.role is Role.ADMIN:
            _keep_an_admin(session, user, "removed")
        session.delete(user)
    return user


def _keep_an_admin(session: Session, user: WebUser, done: str) -> None:
    admins = session.scalar(
        select(func.count()).select_from(WebUser).where(WebUser.role == Role.ADMIN)
    )
    if (admins or 0) <= 1:
        raise AccountError(
            "role", f"{user.name!r} is the last administrator and cannot be {done}", conflict=True
        )
