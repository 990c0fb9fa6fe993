"""Every plain form posts without JavaScript: its CSRF token travels in a hidden field.

The browser here runs no script at all, so htmx cannot add the header; what works
here works for a user whose browser blocks scripts.
"""

from __future__ import annotations

from playwright.sync_api import expect

from deskmail.store.accounts import Role
from deskmail.web.accounts import find_user
from tests.web.conftest import LiveWeb


def test_an_admin_signs_in_adds_a_user_and_signs_out_without_javascript(web: LiveWeb) -> None:
    page = web.page(javascript=False)
    admin = web.accounts[Role.ADMIN]
    page.goto("/login")
    page.fill("#name", admin.name)
    page.fill("#password", admin.password)
    page.click("button[type=submit]")
    assert page.url.endswith("/jobs"), page.url

    page.goto("/users")
    page.fill("#new-name", "nojs-user")
    page.select_option("#new-role", "viewer")
    page.fill("#new-password", "long enough password")
    page.click("text=Add user")
    # Waits for the page the post redirects to: read at once, it can still be loading
    # (its content was '' once).
    expect(page.locator("body")).to_contain_text("nojs-user added as viewer")
    assert find_user(web.store, "nojs-user").role is Role.VIEWER

    page.click("button:text-is('Log out')")
    page.goto("/users")
    assert "/login" in page.url  # the session ended


def test_a_form_without_its_hidden_token_is_refused(web: LiveWeb) -> None:
    client = web.browser_client(Role.ADMIN)
    del client.headers["X-CSRFToken"]
    refused = client.post("/users", data={"name": "x", "role": "viewer", "password": "x" * 12})
    assert refused.status_code == 403
    token = client.cookies["csrftoken"]
    fields = {"name": "withtoken", "role": "viewer", "password": "x" * 12, "csrftoken": token}
    assert client.post("/users", data=fields).status_code == 303
