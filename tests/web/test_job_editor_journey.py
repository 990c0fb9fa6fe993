"""The job editor in a real browser: an administrator creates an IMAP job against the test
Dovecot, Test Connection fails on the wrong password (the authentication step) and then
passes, the job is saved and run, its counts show; the daemon picks the job up. And
axe-core finds nothing on the editor and the overview."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import expect

from deskmail.daemon.stored_jobs import StoredJobs
from deskmail.store.accounts import Role
from deskmail.store.sealing import SECRET_KEY_ENV
from tests.support.dovecot import Dovecot, make_mail
from tests.support.jobs import drop_mail
from tests.web.axe import assert_accessible
from tests.web.conftest import LiveWeb


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_KEY_ENV, Fernet.generate_key().decode())


def test_create_test_save_and_run_an_imap_job(web: LiveWeb, dovecot: Dovecot) -> None:
    user = dovecot.user("journey")
    dovecot.append(user, make_mail("Printer on fire"))
    with dovecot.imap(user, None) as imap:
        imap.create_folder("Support")
    page = web.page(Role.ADMIN)
    page.goto("/jobs")
    page.get_by_role("link", name="New job").click()
    expect(page).to_have_url(re.compile(r"/jobs/new$"))

    page.get_by_label("Name", exact=True).fill("Helpdesk")
    page.get_by_label("Protocol").select_option("imap")
    page.get_by_label("Server", exact=True).fill("127.0.0.1")
    page.get_by_label("Port", exact=True).fill(str(dovecot.imaps_port))
    page.get_by_label("Security", exact=True).select_option("ssl")
    page.get_by_label("CA file (PEM)").fill(str(dovecot.ca_file))
    page.get_by_label("User", exact=True).fill(user)
    page.get_by_label("Password", exact=True).fill("not the password")

    page.get_by_role("button", name="Test connection").click()
    failed = page.locator("#check-result .check-failed")
    expect(failed).to_contain_text("failed at step authentication")
    expect(page.locator("#check-result")).to_contain_text("Hint:")
    # htmx swapped the result only: what was typed is still in the form.
    expect(page.get_by_label("Name", exact=True)).to_have_value("Helpdesk")

    page.get_by_label("Password", exact=True).fill(dovecot.password)
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#check-result .check-passed")).to_contain_text("1 message")

    page.get_by_role("button", name="Load folders").click()
    expect(page.locator("#folders-result")).to_contain_text("Support")

    # Turn a built-in preprocessing rule on and move it to the top.
    rows = page.locator("table.preprocessing tbody tr")
    second = rows.nth(1).locator("th").inner_text().strip()
    page.get_by_role("button", name=f"Up: {second}").click()
    expect(rows.nth(0).locator("th")).to_contain_text(second)
    page.get_by_label(f"{second} switched on").check()

    page.get_by_role("button", name="Create job").click()
    expect(page).to_have_url(re.compile(r"/jobs\?notice="))
    expect(page.get_by_role("status")).to_contain_text("Helpdesk: saved")
    row = page.locator('tr[data-job="Helpdesk"]')
    expect(row).to_contain_text("database, revision 1")
    expect(row).to_contain_text("never run")

    job = web.config.jobs[0]  # the file's job is untouched; the database one is what we made
    assert job.name == "Support"
    stored = StoredJobs(web.store)
    assert stored.refresh(web.config) is True
    running = {found.name: found for found in stored.running(web.config).jobs}
    assert running["Helpdesk"].user == user
    assert running["Helpdesk"].preprocessing is not None
    assert running["Helpdesk"].preprocessing[0].name == second
    assert running["Helpdesk"].preprocessing[0].enabled is True

    row.get_by_role("button", name="Run Helpdesk now").click()
    expect(page.get_by_role("status")).to_contain_text("Helpdesk: a run has started")
    # The overview polls: the counts come without a reload.
    expect(page.locator('tr[data-job="Helpdesk"] .counts')).to_contain_text(
        "1 created", timeout=20_000
    )
    expect(page.locator('tr[data-job="Helpdesk"] .status-ok')).to_be_visible()


def test_editor_and_overview_are_accessible(web: LiveWeb, dovecot: Dovecot) -> None:
    page = web.page(Role.ADMIN, bypass_csp=True)
    page.goto("/jobs/new")
    assert_accessible(page)
    # With problems shown next to their fields.
    page.get_by_label("Name", exact=True).fill("Bad")
    page.get_by_role("textbox", name="Schedule", exact=True).fill("whenever")
    page.get_by_role("button", name="Create job").click()
    expect(page.locator("#e-schedule")).to_be_visible()
    assert_accessible(page)
    # A file job, read-only.
    page.goto("/jobs/Support/edit")
    expect(page.get_by_text("read-only here")).to_be_visible()
    assert_accessible(page)
    page.goto("/jobs")
    assert_accessible(page)


def test_the_editor_works_without_javascript(web: LiveWeb, tmp_path: Path) -> None:
    """Plain forms: the CSRF token travels in a hidden field, each button posts the page."""
    from deskmail.web.security.sessions import COOKIE

    box = tmp_path / "drop"
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir(parents=True)
    drop_mail(box, "a", "ann@example.com", "Laptop")
    assert web._browser is not None
    context = web._browser().new_context(base_url=web.url, java_script_enabled=False)
    web._contexts.append(context)
    context.add_cookies([{"name": COOKIE, "value": web.session_cookie(Role.ADMIN), "url": web.url}])
    page = context.new_page()
    page.goto("/jobs/new")
    page.get_by_label("Name", exact=True).fill("Drop")
    page.get_by_label("Protocol").select_option("maildir")
    page.get_by_label("Maildir path").fill(str(box))
    page.get_by_role("button", name="Test connection").click()
    expect(page.locator("#check-result .check-passed")).to_contain_text("Maildir")
    page.get_by_role("button", name="Create job").click()
    expect(page).to_have_url(re.compile(r"/jobs\?notice="))
    row = page.locator('tr[data-job="Drop"]')
    row.get_by_role("button", name="Test the connection of Drop").click()
    expect(page.get_by_role("status")).to_contain_text("Drop: connection test passed")
    page.locator('tr[data-job="Drop"]').get_by_role("button", name="Run Drop now").click()
    expect(page.get_by_role("status")).to_contain_text("Drop: a run has started")
    page.locator('tr[data-job="Drop"]').get_by_role("button", name="Delete Drop").click()
    expect(page.get_by_role("status")).to_contain_text("Drop: deleted")
