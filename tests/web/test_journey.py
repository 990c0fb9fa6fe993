"""The first administrator's journey in a real browser: set-up page, login, jobs
overview, create a token, revoke it, log out."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from playwright.sync_api import expect

from tests.web.conftest import LiveWeb


def test_first_administrator_journey(web_factory: Callable[..., LiveWeb]) -> None:
    web = web_factory(users=False)
    page = web.page()
    page.goto("/")
    # No user yet, and we are on loopback: the set-up page.
    expect(page).to_have_url(re.compile(r"/setup$"))
    page.get_by_label("Administrator's user name").fill("alice")
    page.get_by_label("Password (at least").fill("a long enough password")
    page.get_by_label("Password again").fill("a long enough password")
    page.get_by_role("button", name="Create administrator").click()

    expect(page).to_have_url(re.compile(r"/jobs$"))
    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    expect(page.get_by_role("rowheader", name=re.compile("Support"))).to_be_visible()

    # The set-up page is closed for good once a user exists.
    assert web.client().get("/setup").headers["location"].endswith("/login")

    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Label").fill("reporting")
    page.get_by_role("button", name="Create token").click()
    secret = page.get_by_label("Token “reporting”").input_value()
    assert secret.startswith("dmt_")
    me = httpx.get(f"{web.url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json()["name"] == "alice"

    page.get_by_role("button", name="Revoke reporting").click()
    expect(page.get_by_text("No token yet.")).to_be_visible()
    gone = httpx.get(f"{web.url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert gone.status_code == 401

    page.get_by_role("button", name="Log out", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.goto("/jobs")
    expect(page).to_have_url(re.compile(r"/login\?next="))

    # And back in through the login form.
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/jobs$"))
