"""The Runs screen: each run's counts, duration, outcome and failed step; a run's log
lines filtered by level; viewers and above."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from deskmail.intake.run import run_job
from deskmail.store.accounts import Role
from tests.support.jobs import drop_mail
from tests.web.axe import assert_accessible
from tests.web.conftest import LiveWeb


def _one_good_one_failed(web: LiveWeb) -> None:
    drop_mail(web.mailbox, "a", "ann@example.com", "Laptop")
    drop_mail(web.mailbox, "b", "bob@example.com", "Printer")
    assert run_job(web.store, web.config.jobs[0], config=web.config).created == 2
    web.mailbox.rename(web.mailbox.with_name("gone"))  # the next run cannot open it
    assert not run_job(web.store, web.config.jobs[0], config=web.config).ok


def test_a_viewer_walks_from_the_runs_to_a_failed_runs_log(web: LiveWeb) -> None:
    _one_good_one_failed(web)
    page = web.page(Role.VIEWER)
    page.goto("/jobs")
    page.get_by_role("link", name="Runs").click()
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    rows = page.locator("table.runs tbody tr")
    expect(rows).to_have_count(2)
    # Newest first: the failed run with its step, then the good one with its counts.
    expect(rows.nth(0)).to_contain_text("failed")
    expect(rows.nth(0)).to_contain_text("folder")
    expect(rows.nth(1)).to_contain_text("2 fetched, 2 created")

    rows.nth(1).get_by_role("link", name=re.compile(r"^#")).click()
    expect(page.get_by_role("heading", name=re.compile(r"Run \d+ of Support"))).to_be_visible()
    log = page.locator("table.log")
    expect(log).to_contain_text("fetched 2, created 2")  # the run's own summary line, INFO

    page.go_back()
    rows.nth(0).get_by_role("link", name=re.compile(r"^#")).click()
    expect(page.get_by_text("Failed step")).to_be_visible()
    page.get_by_label("From level").select_option("error")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"level=error"))
    levels = page.locator("table.log tbody td:nth-child(2)").all_inner_texts()
    assert levels and set(levels) == {"ERROR"}
    axe_page = web.page(Role.VIEWER, bypass_csp=True)
    for path in ("/runs", page.url):
        axe_page.goto(path)
        assert_accessible(axe_page)


def test_the_list_filters_by_job_and_outcome(web: LiveWeb) -> None:
    _one_good_one_failed(web)
    client = web.browser_client(Role.VIEWER)
    failed = client.get("/runs", params={"outcome": "failed"}).text
    assert failed.count('class="status status-failing"') == 1
    assert 'class="status status-ok"' not in failed
    assert "No run yet of Other" in client.get("/runs", params={"job": "Other"}).text
    assert client.get("/runs/999999").status_code == 404


def test_runs_need_a_login(web: LiveWeb) -> None:
    answer = web.client().get("/runs")
    assert answer.status_code == 303 and "/login" in answer.headers["location"]
