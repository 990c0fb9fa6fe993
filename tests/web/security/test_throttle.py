"""Login throttling per user name and per address, counted in the database."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from deskmail.store.accounts import Role
from tests.web.conftest import PASSWORD, LiveWeb


def _login_client(web: LiveWeb) -> httpx.Client:
    client = web.client()
    client.get("/login")
    client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
    return client


def test_too_many_failures_for_a_user_refuse_even_the_right_password(
    web_factory: Callable[..., LiveWeb],
) -> None:
    # Low limits: each refused login costs an argon2 verification.
    web = web_factory(web={"login_attempts_per_user": 3})
    name = web.accounts[Role.ADMIN].name
    client = _login_client(web)
    for _ in range(3):
        assert (
            client.post("/login", data={"name": name, "password": "guess" * 3}).status_code == 401
        )
    refused = client.post("/login", data={"name": name, "password": PASSWORD})
    assert refused.status_code == 429
    assert "Too many failed logins" in refused.text
    # Another user is not locked out by it.
    other = client.post("/login", data={"name": "agent-user", "password": PASSWORD})
    assert other.status_code == 303


def test_failures_for_unknown_names_count_per_address(web_factory: Callable[..., LiveWeb]) -> None:
    web = web_factory(web={"login_attempts_per_address": 4})
    client = _login_client(web)
    for number in range(4):
        client.post("/login", data={"name": f"nobody{number}", "password": "whatever!!"})
    refused = client.post("/login", data={"name": "viewer-user", "password": PASSWORD})
    assert refused.status_code == 429
