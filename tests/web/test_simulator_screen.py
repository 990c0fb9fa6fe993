"""The rule simulator: upload an .eml or pick a kept message and see what `deskmail
explain` says, step by step; nothing is written. Administrators only."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from click.testing import CliRunner
from playwright.sync_api import expect
from sqlalchemy import func, select

from deskmail.classify.steps import STEPS
from deskmail.cli import main
from deskmail.store.accounts import Role
from deskmail.store.models import IntakeRecord, Person, Run, Ticket
from tests.support.jobs import drop_mail
from tests.web.axe import assert_accessible
from tests.web.conftest import LiveWeb
from tests.web.quarantined import quarantine

PRINTERS = {
    "name": "Printers",
    "conditions": [{"field": "subject", "op": "contains", "value": "printer"}],
    "set": {"priority": "high", "assignee": "helpdesk"},
}


def _rows(web: LiveWeb) -> tuple[int, ...]:
    with web.store.session() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (Ticket, IntakeRecord, Person, Run)
        )


@pytest.fixture
def ruled(web_factory: Callable[..., LiveWeb]) -> LiveWeb:
    return web_factory(rules=[PRINTERS])


def test_an_admin_simulates_an_uploaded_mail_and_sees_what_explain_says(ruled: LiveWeb) -> None:
    web = ruled
    mail = drop_mail(web.mailbox, "m1", "Stranger <nobody@example.net>", "Printer jams")
    before = _rows(web)
    page = web.page(Role.ADMIN)
    page.goto("/jobs")
    page.get_by_role("link", name="Rule simulator").click()
    page.get_by_label("Upload an .eml").set_input_files(str(mail))
    page.get_by_role("button", name="Simulate").click()

    result = page.locator("section.simulation")
    expect(result.get_by_role("heading", level=2)).to_have_text(
        re.compile(r"Job “Support”: create incident IT-1")
    )
    steps = result.locator("ol.steps li")
    expect(steps).to_have_count(len(STEPS))  # every step, each with what it decided
    expect(steps.nth(3)).to_have_text(
        "processing rules: the mail answers no ticket -> new incident (processor = incident)"
    )
    expect(result).to_contain_text("Matched: Printers")
    expect(result.locator("dl.facts").last).to_contain_text("priority")
    expect(result.get_by_text("Nothing was changed.", exact=True)).to_be_visible()

    # Exactly what the command prints for the same mail and configuration.
    assert web.config.source_file is not None
    printed = CliRunner().invoke(
        main, ["explain", str(mail), "--config", str(web.config.source_file)]
    )
    assert printed.exit_code == 0, printed.output
    page.get_by_text("As deskmail explain prints it").click()
    assert result.locator("details pre").inner_text() == printed.output.rstrip("\n")
    assert _rows(web) == before  # nothing written

    axe = web.page(Role.ADMIN, bypass_csp=True)
    axe.goto("/simulator")
    assert_accessible(axe)


def test_a_quarantined_message_can_be_picked(
    ruled: LiveWeb, monkeypatch: pytest.MonkeyPatch
) -> None:
    (record_id,) = quarantine(ruled, monkeypatch, "BOOM printer on fire")
    before = _rows(ruled)
    page = ruled.page(Role.ADMIN)
    page.goto("/simulator")
    page.get_by_label("or pick a kept message").select_option(f"quarantined:{record_id}")
    page.get_by_role("button", name="Simulate").click()
    expect(page.locator("section.simulation")).to_contain_text("BOOM printer on fire")
    expect(page.locator("section.simulation")).to_contain_text("Matched: Printers")
    assert _rows(ruled) == before


def test_neither_or_both_inputs_are_refused_naming_the_field(web: LiveWeb) -> None:
    client = web.browser_client(Role.ADMIN)
    neither = client.post("/simulator", files={"job": (None, "Support")})
    assert neither.status_code == 422
    assert "send either an .eml file or a message reference" in neither.text
    unknown = client.post("/simulator", files={"message": (None, "quarantined:999")})
    assert unknown.status_code == 422 and "no kept message quarantined:999" in unknown.text


def test_only_admins_simulate(web: LiveWeb) -> None:
    agent = web.browser_client(Role.AGENT)
    assert agent.get("/simulator").status_code == 403
    eml = b"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n"
    assert agent.post("/simulator", files={"eml": ("m.eml", eml)}).status_code == 403
