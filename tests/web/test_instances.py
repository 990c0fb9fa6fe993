"""Two front ends on one database are one site: a session and a CSRF token of one are
good on the other."""

from __future__ import annotations

from collections.abc import Callable

from deskmail.store.accounts import Role
from deskmail.web.security.sessions import COOKIE
from tests.web.conftest import LiveWeb


def test_a_second_front_end_accepts_the_first_ones_session_and_csrf_token(
    web_factory: Callable[..., LiveWeb],
) -> None:
    first = web_factory()
    second = web_factory(users=False)  # the same configuration and database
    assert second.url != first.url
    client = first.browser_client(Role.ADMIN)
    other = second.client()
    other.cookies.set(COOKIE, client.cookies[COOKIE])
    other.cookies.set("csrftoken", client.cookies["csrftoken"])
    other.headers["X-CSRFToken"] = client.headers["X-CSRFToken"]
    assert other.get("/jobs").status_code == 200
    assert other.post("/jobs/Support/switch", data={"enabled": "false"}).status_code == 303
    assert "status-disabled" in client.get("/jobs").text
