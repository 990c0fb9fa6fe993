"""The Webhooks screen in a real browser, against a real receiver: add an endpoint (the
secret shown once), send test, read the delivery log, redeliver under the same id, edit,
disable, remove; accessibility; the roles below admin refused."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from standardwebhooks import Webhook

from deskmail.store.accounts import Role
from tests.support.webhook_receiver import Receiver
from tests.web.axe import assert_accessible
from tests.web.conftest import LiveWeb


def test_an_administrator_manages_an_endpoint_and_its_deliveries(
    web: LiveWeb, receiver: Receiver
) -> None:
    page = web.page(Role.ADMIN)
    page.goto("/jobs")
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_text("No endpoint yet.")).to_be_visible()

    page.get_by_label("URL").fill(receiver.url)
    page.get_by_label("Description").fill("the ops board")
    page.get_by_label(re.compile("^ticket.created")).check()
    page.get_by_label(re.compile("^run.failed")).check()
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.get_by_label(f"Secret of {receiver.url}").input_value()
    assert secret.startswith("whsec_")
    row = page.get_by_role("row", name=re.compile("the ops board"))
    expect(row).to_contain_text("ticket.created, run.failed")

    # Shown once: neither the list nor the endpoint's page has it again.
    page.goto("/webhooks")
    assert secret not in page.content()
    page.get_by_role("link", name=receiver.url).click()
    assert secret not in page.content()
    expect(page.get_by_text("Nothing sent yet.")).to_be_visible()

    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_role("status")).to_contain_text("Test event: delivered (HTTP 200)")
    [request] = receiver.wait_for(1)
    document = Webhook(secret).verify(request.body, request.headers)
    assert document["type"] == "webhook.test"
    log = page.get_by_role("table")
    expect(log).to_contain_text("webhook.test")
    expect(log).to_contain_text("HTTP 200")
    expect(log).to_contain_text(request.webhook_id)

    # The delivery: the request as sent, the answer, the duration; then redelivered.
    log.get_by_role("link").first.click()
    expect(page.get_by_text(f"webhook-id: {request.webhook_id}")).to_be_visible()
    expect(page.get_by_text(request.headers["webhook-signature"])).to_be_visible()
    expect(page.get_by_text(request.body.decode())).to_be_visible()
    expect(page.get_by_text('{"ok": true}')).to_be_visible()
    receiver.answers.append(500)
    page.get_by_role("button", name="Redeliver").click()
    expect(page.get_by_role("status")).to_contain_text("Redelivered: failed (HTTP 500")
    expect(page.get_by_text("receiver says no")).to_be_visible()
    page.get_by_role("button", name="Redeliver").click()
    expect(page.get_by_role("status")).to_contain_text("Redelivered: delivered (HTTP 200)")
    first, second, third = receiver.wait_for(3)
    assert first.webhook_id == second.webhook_id == third.webhook_id
    Webhook(secret).verify(third.body, third.headers)
    expect(page.get_by_role("heading", level=3)).to_have_count(3)  # every attempt logged

    # Edit: other events, and the secret stays the same.
    page.get_by_role("link", name=re.compile("^Endpoint ")).click()
    page.get_by_label(re.compile("^run.failed")).uncheck()
    page.get_by_label(re.compile("^event.opened")).check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_label(re.compile("^event.opened"))).to_be_checked()
    expect(page.get_by_label(re.compile("^run.failed"))).not_to_be_checked()
    page.get_by_role("button", name="Send test").click()
    expect(page.get_by_role("status")).to_contain_text("delivered")
    Webhook(secret).verify(receiver.wait_for(4)[3].body, receiver.wait_for(4)[3].headers)

    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_text("Disabled: disabled by hand")).to_be_visible()
    # A delivery to a disabled endpoint is not redelivered; its page says why.
    page.get_by_role("table").get_by_role("link").first.click()
    page.get_by_role("button", name="Redeliver").click()
    expect(page.get_by_role("alert")).to_contain_text("is disabled; enable it first")
    assert len(receiver.received) == 4
    page.get_by_role("link", name=re.compile("^Endpoint ")).click()
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("status")).to_have_text("Enabled.")

    page.get_by_role("button", name="Remove").click()
    expect(page.get_by_role("status")).to_contain_text("removed, with its delivery log")
    expect(page.get_by_text("No endpoint yet.")).to_be_visible()


def test_a_bad_url_is_refused_naming_the_field(web: LiveWeb) -> None:
    page = web.page(Role.ADMIN)
    page.goto("/webhooks")
    page.get_by_label("URL").fill("ftp://files.example.org/drop")
    page.get_by_label(re.compile("^ticket.created")).check()
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_role("alert")).to_contain_text("url: must start with https://")
    # What was typed is kept, to be corrected.
    expect(page.get_by_label("URL")).to_have_value("ftp://files.example.org/drop")
    expect(page.get_by_label(re.compile("^ticket.created"))).to_be_checked()

    page.get_by_label("URL").fill("https://hooks.example.org/deskmail")
    page.get_by_label(re.compile("^ticket.created")).uncheck()
    page.get_by_role("button", name="Add endpoint").click()
    expect(page.get_by_role("alert")).to_contain_text("events: name at least one event kind")


def test_the_webhook_screens_have_no_wcag_violations(web: LiveWeb, receiver: Receiver) -> None:
    admin = web.api(Role.ADMIN)
    made = admin.post(
        "/api/v1/webhooks",
        json={"url": receiver.url, "events": ["ticket.created"], "description": "board"},
    ).json()
    receiver.answers.append(502)
    delivery = admin.post(f"/api/v1/webhooks/{made['id']}/test").json()["delivery_id"]
    page = web.page(Role.ADMIN, bypass_csp=True)
    for path in ("/webhooks", f"/webhooks/{made['id']}", f"/webhooks/deliveries/{delivery}"):
        page.goto(path)
        assert_accessible(page)
    page.goto(f"/webhooks/{made['id']}")
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_text("Disabled: disabled by hand")).to_be_visible()
    assert_accessible(page)


@pytest.mark.parametrize("role", [Role.AGENT, Role.VIEWER])
def test_the_roles_below_admin_are_refused(web: LiveWeb, role: Role, receiver: Receiver) -> None:
    made = web.api(Role.ADMIN).post(
        "/api/v1/webhooks", json={"url": receiver.url, "events": ["ticket.created"]}
    )
    endpoint = made.json()["id"]
    client = web.browser_client(role)
    for method, path in [
        ("GET", "/webhooks"),
        ("POST", "/webhooks"),
        ("GET", f"/webhooks/{endpoint}"),
        ("POST", f"/webhooks/{endpoint}"),
        ("POST", f"/webhooks/{endpoint}/switch"),
        ("POST", f"/webhooks/{endpoint}/remove"),
        ("POST", f"/webhooks/{endpoint}/test"),
        ("GET", "/webhooks/deliveries/1"),
        ("POST", "/webhooks/deliveries/1/redeliver"),
    ]:
        answer = client.request(method, path, data={"url": receiver.url, "enabled": "false"})
        assert answer.status_code == 403, (method, path)
        assert "role or higher" in answer.text
    assert "Webhooks" not in client.get("/jobs").text
    assert receiver.received == []


def test_a_post_without_the_csrf_token_is_refused(web: LiveWeb, receiver: Receiver) -> None:
    client = web.browser_client(Role.ADMIN)
    del client.headers["X-CSRFToken"]
    answer = client.post("/webhooks", data={"url": receiver.url, "events": "ticket.created"})
    assert answer.status_code == 403
    assert web.api(Role.ADMIN).get("/api/v1/webhooks").json()["items"] == []
