"""Sessions live in the database: log out, log out everywhere and idle ones end for good."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from deskmail.store.accounts import Role, WebSession
from deskmail.web.security.digests import digest
from deskmail.web.security.sessions import COOKIE
from tests.web.conftest import LiveWeb


def _jobs_status(web: LiveWeb, cookie: str) -> int:
    client = web.client()
    client.cookies.set(COOKIE, cookie)
    return client.get("/jobs").status_code


def test_a_logged_out_session_cookie_is_refused(web: LiveWeb) -> None:
    client = web.browser_client(Role.AGENT)
    cookie = client.cookies[COOKIE]
    assert client.get("/jobs").status_code == 200
    assert client.post("/logout").status_code == 303
    # The browser dropped it; someone who kept a copy gets nothing for it.
    assert _jobs_status(web, cookie) == 303


def test_log_out_everywhere_ends_every_session_of_the_user(web: LiveWeb) -> None:
    laptop = web.browser_client(Role.VIEWER)
    phone = web.session_cookie(Role.VIEWER)
    other_user = web.session_cookie(Role.AGENT)
    assert _jobs_status(web, phone) == 200
    assert laptop.post("/logout-everywhere").status_code == 303
    assert _jobs_status(web, phone) == 303
    assert _jobs_status(web, laptop.cookies[COOKIE]) == 303
    assert _jobs_status(web, other_user) == 200


def test_an_idle_session_ends(web: LiveWeb) -> None:
    cookie = web.session_cookie(Role.VIEWER)
    assert _jobs_status(web, cookie) == 200
    idle = timedelta(minutes=web.config.web.session_idle_minutes if web.config.web else 120)
    with web.store.transaction() as session:
        session.execute(
            update(WebSession)
            .where(WebSession.digest == digest(cookie))
            .values(last_seen_at=datetime.now(UTC) - idle - timedelta(minutes=1))
        )
    assert _jobs_status(web, cookie) == 303


def test_the_session_cookie_is_httponly_and_strict(web: LiveWeb) -> None:
    client = web.browser_client(Role.VIEWER)
    client.cookies.clear()
    client.get("/login")
    client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
    answer = client.post("/login", data={"name": "viewer-user", "password": "wrong password!"})
    assert answer.status_code == 401
    from tests.web.conftest import PASSWORD

    answer = client.post("/login", data={"name": "viewer-user", "password": PASSWORD})
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and COOKIE in v)
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback; set over TLS
