"""Browser sessions kept in the database: a random id in the cookie, its digest in a row.

Unlike a signed cookie (Starlette's SessionMiddleware), a row can be deleted:
log out, log out everywhere, a removed user or an idle timeout end it for good.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from starlette.responses import Response

from deskmail.store.accounts import WebSession, WebUser
from deskmail.store.engine import Store
from deskmail.web.security.digests import digest, new_secret
from deskmail.web.security.principal import Principal, Via

COOKIE = "deskmail_session"
# last_seen_at is written at most this often: not one write per request.
TOUCH_EVERY = timedelta(seconds=60)


def open_session(
    store: Store, user_id: int, address: str | None, *, prune_idle: timedelta | None = None
) -> str:
    """A new session for the user; returns the cookie's value (shown to no one else).

    prune_idle: also delete every session idle longer than that (abandoned ones
    are otherwise only deleted when their cookie comes back)."""
    secret = new_secret()
    with store.transaction() as session:
        if prune_idle is not None:
            cutoff = datetime.now(UTC) - prune_idle
            session.execute(delete(WebSession).where(WebSession.last_seen_at < cutoff))
        session.add(WebSession(digest=digest(secret), user_id=user_id, address=address))
    return secret


def session_principal(store: Store, secret: str | None, idle: timedelta) -> Principal | None:
    """The user of a live session, or None (unknown, ended or idle too long: then deleted)."""
    if not secret:
        return None
    key = digest(secret)
    now = datetime.now(UTC)
    with store.session() as session:
        row = session.execute(
            select(WebSession, WebUser)
            .join(WebUser, WebUser.id == WebSession.user_id)
            .where(WebSession.digest == key)
        ).first()
    if row is None:
        return None
    found, user = row
    if now - found.last_seen_at > idle:
        end_session(store, secret)
        return None
    if now - found.last_seen_at > TOUCH_EVERY:
        with store.transaction() as session:
            live = session.get(WebSession, key)
            if live is not None:
                live.last_seen_at = now
    return Principal(user.id, user.name, user.role, Via.SESSION, session_digest=key)


def end_session(store: Store, secret: str) -> None:
    with store.transaction() as session:
        session.execute(delete(WebSession).where(WebSession.digest == digest(secret)))


def end_all_sessions(store: Store, user_id: int) -> int:
    """Log the user out everywhere; returns how many sessions ended."""
    with store.transaction() as session:
        ended = session.execute(delete(WebSession).where(WebSession.user_id == user_id))
        return int(getattr(ended, "rowcount", 0) or 0)


def set_session_cookie(response: Response, secret: str, *, secure: bool) -> None:
    # No max_age: a browser session cookie; the idle timeout is enforced on the server.
    response.set_cookie(COOKIE, secret, httponly=True, samesite="strict", secure=secure, path="/")


def clear_session_cookie(response: Response, *, secure: bool) -> None:
    response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=secure, path="/")
