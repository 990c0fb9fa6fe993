"""State-changing page requests without the CSRF header are refused; the API is exempt."""

from __future__ import annotations

from deskmail.store.accounts import Role
from deskmail.web.security.sessions import COOKIE
from tests.web.conftest import PASSWORD, LiveWeb


def test_a_post_without_the_csrf_header_is_refused(web: LiveWeb) -> None:
    client = web.browser_client(Role.ADMIN)
    token = client.headers.pop("X-CSRFToken")
    refused = client.post("/jobs/Support/switch", data={"enabled": "false"})
    assert refused.status_code == 403
    assert "CSRF" in refused.text
    # A header that does not match the cookie is no better.
    forged = client.post(
        "/jobs/Support/switch", data={"enabled": "false"}, headers={"X-CSRFToken": "forged"}
    )
    assert forged.status_code == 403
    accepted = client.post(
        "/jobs/Support/switch", data={"enabled": "false"}, headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 303


def test_the_login_form_is_checked_too(web: LiveWeb) -> None:
    client = web.client()
    client.get("/login")
    form = {"name": web.accounts[Role.VIEWER].name, "password": PASSWORD}
    assert client.post("/login", data=form).status_code == 403
    headers = {"X-CSRFToken": client.cookies["csrftoken"]}
    signed_in = client.post("/login", data=form, headers=headers)
    assert signed_in.status_code == 303
    assert COOKIE in signed_in.cookies


def test_the_api_takes_no_cookie_and_needs_no_csrf_header(web: LiveWeb) -> None:
    # A browser's session cookie is no credential for the API: a forged request has none.
    client = web.browser_client(Role.ADMIN)
    client.headers.pop("X-CSRFToken")
    assert client.get("/api/v1/me").status_code == 401
    api = web.api(Role.VIEWER)
    created = api.post("/api/v1/tokens", json={"label": "script"})
    assert created.status_code == 201
