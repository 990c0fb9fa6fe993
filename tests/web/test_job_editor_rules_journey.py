"""The rule builder in a real browser: two processing rules built with the form's buttons,
reordered, a bad pattern refused next to its field naming the rule, the job saved and run,
and each mail becomes what its rule says. axe-core finds nothing on the tab."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import expect
from sqlalchemy import select

from deskmail.store.accounts import Role
from deskmail.store.models import Ticket
from deskmail.store.sealing import SECRET_KEY_ENV
from tests.support.jobs import drop_mail
from tests.web.axe import assert_accessible
from tests.web.conftest import LiveWeb
from tests.web.test_job_editor import new_mailbox, wait_for_run


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_KEY_ENV, Fernet.generate_key().decode())


def test_build_two_rules_reorder_save_and_run(web: LiveWeb, tmp_path: Path) -> None:
    box = new_mailbox(tmp_path, "drop")
    drop_mail(box, "p", "ann@example.com", "The printer is jammed")
    drop_mail(box, "a", "nagios@monitor.example.com", "CRITICAL: disk full on printer01")
    drop_mail(box, "o", "bob@example.com", "Laptop broken")
    page = web.page(Role.ADMIN, bypass_csp=True)
    page.goto("/jobs/new")
    page.get_by_label("Name", exact=True).fill("Drop")
    page.get_by_label("Protocol").select_option("maildir")
    page.get_by_label("Maildir path").fill(str(box))

    rules = page.locator("fieldset.rule")
    page.get_by_role("button", name="Add processing rule").click()
    expect(rules).to_have_count(1)
    first = rules.nth(0)
    first.get_by_label("Name", exact=True).fill("Printers")
    first.get_by_label("Rule 1 condition 1 value").fill("printer")
    first.get_by_label("Set group").fill("Printer team")

    page.get_by_role("button", name="Add processing rule").click()
    expect(rules).to_have_count(2)
    second = rules.nth(1)
    # htmx swapped the rules only: what was typed in the first is still there.
    expect(rules.nth(0).get_by_label("Name", exact=True)).to_have_value("Printers")
    second.get_by_label("Name", exact=True).fill("Alerts")
    second.get_by_label("Rule 2 condition 1 field").select_option("from")
    second.get_by_label("Rule 2 condition 1 how").select_option("domain")
    second.get_by_label("Rule 2 condition 1 value").fill("monitor.example.com")
    second.get_by_label("The mail becomes").select_option("create_event")
    second.get_by_label("Stop: no later rule is looked at").check()

    second.get_by_role("button", name=re.compile("^Move up")).click()
    expect(rules.nth(0).locator("legend")).to_have_text("Rule 1: Alerts")
    expect(rules.nth(1).locator("legend")).to_have_text("Rule 2: Printers")
    assert_accessible(page)

    # A bad pattern: refused, next to its field, naming the rule and the field.
    printers = rules.nth(1)
    printers.get_by_label("Rule 2 condition 1 how").select_option("regex")
    printers.get_by_label("Rule 2 condition 1 value").fill("(?P<sev")
    page.get_by_role("button", name="Create job").click()
    problem = page.locator("#e-rule-1-cond-0-value")
    expect(problem).to_contain_text("Rule 2 (Printers), condition 1 value: is not a valid regular")
    expect(page.get_by_label("Rule 2 condition 1 value")).to_have_attribute("aria-invalid", "true")
    assert_accessible(page)

    page.get_by_label("Rule 2 condition 1 how").select_option("contains")
    page.get_by_label("Rule 2 condition 1 value").fill("printer")
    page.get_by_role("button", name="Create job").click()
    expect(page).to_have_url(re.compile(r"/jobs\?notice="))
    page.locator('tr[data-job="Drop"]').get_by_role("button", name="Run Drop now").click()
    wait_for_run(web, "Drop")

    with web.store.session() as session:
        made = {t.subject: t for t in session.scalars(select(Ticket))}
    # The alert matched Alerts first (it says printer too, but Alerts stops).
    assert made["CRITICAL: disk full on printer01"].kind.value == "event"
    assert made["The printer is jammed"].kind.value == "incident"
    page.goto("/tickets")
    row = page.locator("tr", has_text="The printer is jammed")
    expect(row).to_contain_text("Printer team")
    expect(page.locator("tr", has_text="Laptop broken")).not_to_contain_text("Printer team")
