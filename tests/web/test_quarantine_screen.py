"""The Quarantine screen: list, detail with headers and raw source, retry (it becomes a
ticket), discard, and both in bulk; agents and above."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from deskmail.config.fate import Fate
from deskmail.store.accounts import Role
from deskmail.store.models import IntakeRecord, Ticket, TicketKind
from tests.web.axe import assert_accessible
from tests.web.conftest import LiveWeb
from tests.web.quarantined import quarantine


def _incidents(web: LiveWeb) -> list[str]:
    with web.store.session() as session:
        return list(
            session.scalars(select(Ticket.subject).where(Ticket.kind == TicketKind.INCIDENT))
        )


def _outcome(web: LiveWeb, record_id: int) -> Fate:
    with web.store.session() as session:
        return session.get_one(IntakeRecord, record_id).outcome


def test_an_agent_retries_a_quarantined_message_and_it_becomes_a_ticket(
    web: LiveWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    (record_id,) = quarantine(web, monkeypatch, "BOOM: disk full <script>alert(1)</script>")
    assert _incidents(web) == []
    page = web.page(Role.AGENT)
    page.goto("/jobs")
    page.get_by_role("link", name="Quarantine").click()
    row = page.locator("table.quarantine tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Sender 0 <s0@example.com>")
    expect(row).to_contain_text("apply: RuntimeError: simulated failure in apply")
    expect(row.locator("td").nth(6)).to_have_text("1")  # attempts

    # The detail: headers, and the source as text (the markup in the subject is not run).
    row.get_by_role("link", name=re.compile("BOOM")).click()
    expect(page.get_by_role("heading", name=f"Quarantined message {record_id}")).to_be_visible()
    expect(page.get_by_role("rowheader", name="Message-ID")).to_be_visible()
    expect(page.locator("pre.raw")).to_contain_text("Subject: BOOM: disk full <script>")
    assert page.locator("main script").count() == 0
    raw = page.request.get(f"/quarantine/{record_id}/raw")
    assert raw.headers["content-type"].startswith("text/plain")
    assert raw.headers["x-content-type-options"] == "nosniff"
    assert b"<script>alert(1)</script>" in raw.body()

    # The cause is fixed (the fault is off): Retry takes it in, a ticket is made.
    page.get_by_role("button", name="Retry").click()
    expect(page).to_have_url(re.compile(r"/quarantine\?notice="))
    expect(page.get_by_role("status")).to_contain_text("Retry: 1 of 1 done.")
    expect(page.get_by_role("status")).to_contain_text(f"#{record_id}: created IT-")
    expect(page.get_by_text("No message is quarantined.")).to_be_visible()
    assert _incidents(web) == ["BOOM: disk full <script>alert(1)</script>"]
    assert _outcome(web, record_id) is Fate.CREATED


def test_bulk_retry_and_discard_in_one_form(web: LiveWeb, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, third = quarantine(web, monkeypatch, "BOOM one", "BOOM two", "BOOM three")
    page = web.page(Role.AGENT)
    page.goto("/quarantine")
    # Nothing ticked: told so, nothing done.
    page.get_by_role("button", name="Discard selected").click()
    expect(page.get_by_role("status")).to_have_text("Tick at least one message first.")
    page.get_by_label(f"Select message {first}").check()
    page.get_by_label(f"Select message {third}").check()
    page.get_by_role("button", name="Discard selected").click()
    expect(page.get_by_role("status")).to_contain_text("Discard: 2 of 2 done.")
    expect(page.locator("table.quarantine tbody tr")).to_have_count(1)
    assert _outcome(web, first) is Fate.IGNORED and _outcome(web, third) is Fate.IGNORED

    # Retrying while the fault is still on: it stays, with one more attempt.
    with pytest.MonkeyPatch.context() as again:
        from tests.web.quarantined import apply_fails

        with apply_fails(again):
            page.get_by_label(f"Select message {second}").check()
            page.get_by_role("button", name="Retry selected").click()
            expect(page.get_by_role("status")).to_contain_text("Retry: 0 of 1 done.")
    expect(page.get_by_role("status")).to_contain_text("failed again: apply: RuntimeError")
    expect(page.locator("table.quarantine tbody tr td").nth(6)).to_have_text("2")
    assert _outcome(web, second) is Fate.QUARANTINED

    axe = web.page(Role.AGENT, bypass_csp=True)
    for path in ("/quarantine", f"/quarantine/{second}"):
        axe.goto(path)
        assert_accessible(axe)


def test_viewers_may_not_see_the_quarantine(web: LiveWeb, monkeypatch: pytest.MonkeyPatch) -> None:
    (record_id,) = quarantine(web, monkeypatch, "BOOM")
    viewer = web.browser_client(Role.VIEWER)
    assert viewer.get("/quarantine").status_code == 403
    assert viewer.get(f"/quarantine/{record_id}").status_code == 403
    assert viewer.get(f"/quarantine/{record_id}/raw").status_code == 403
    assert viewer.post(f"/quarantine/{record_id}/discard").status_code == 403
    assert _outcome(web, record_id) is Fate.QUARANTINED
    agent = web.browser_client(Role.AGENT)
    assert f"/quarantine/{record_id}" in agent.get("/quarantine", params={"job": "Support"}).text
    other = agent.get("/quarantine", params={"job": "Other"}).text
    assert "No message is quarantined for Other." in other
    # Without the CSRF header even an agent's post is refused.
    del agent.headers["X-CSRFToken"]
    assert agent.post(f"/quarantine/{record_id}/discard").status_code == 403
    assert _outcome(web, record_id) is Fate.QUARANTINED
    assert "Quarantine" not in viewer.get("/jobs").text
