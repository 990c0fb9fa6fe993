"""Live: job status and new tickets appear on an open page without a reload, by
server-sent events, or by polling where EventSource is missing."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from deskmail.intake.run import run_job
from deskmail.store.accounts import Role
from tests.support.jobs import drop_mail
from tests.web.axe import assert_accessible
from tests.web.conftest import LiveWeb


def test_a_mail_ingested_while_the_page_is_open_appears_without_a_reload(web: LiveWeb) -> None:
    page = web.page(Role.VIEWER)
    page.goto("/jobs")
    page.get_by_role("link", name="Live").click()  # a boosted navigation, as users go
    expect(page.get_by_text("No ticket yet.")).to_be_visible()
    expect(page.locator("#live-panel")).to_have_attribute("data-live", "open")
    page.evaluate("window.notReloaded = true")

    drop_mail(web.mailbox, "a", "ann@example.com", "Scanner offline")
    run_job(web.store, web.config.jobs[0], config=web.config)

    tickets = page.locator("table.live-tickets tbody tr")
    expect(tickets).to_have_count(1, timeout=15_000)
    expect(tickets.first).to_contain_text("IT-1")
    expect(tickets.first).to_contain_text("Scanner offline")
    expect(page.locator(".status-ok")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True
    # Faster than the fallback's polling could have been: the stream said so.
    assert page.locator("#live-panel").get_attribute("data-live") == "open"

    axe = web.page(Role.VIEWER, bypass_csp=True)
    axe.goto("/live")
    assert_accessible(axe)


def test_without_event_source_the_page_polls(web: LiveWeb) -> None:
    page = web.page(Role.VIEWER)
    page.context.add_init_script("delete window.EventSource")
    page.goto("/live")
    expect(page.locator("#live-panel")).to_have_attribute("hx-trigger", re.compile(r"every \d+s"))
    page.evaluate("window.notReloaded = true")
    drop_mail(web.mailbox, "a", "ann@example.com", "Projector broken")
    run_job(web.store, web.config.jobs[0], config=web.config)
    expect(page.locator("table.live-tickets")).to_contain_text("Projector broken", timeout=15_000)
    assert page.evaluate("window.notReloaded") is True


def test_the_page_and_its_stream_need_a_login(web: LiveWeb) -> None:
    client = web.client()
    for path in ("/live", "/live/stream"):
        answer = client.get(path)
        assert answer.status_code == 303 and "/login" in answer.headers["location"]
