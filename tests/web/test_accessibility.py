"""axe-core on each screen of this package: zero WCAG 2 A/AA violations."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from deskmail.intake.run import run_job
from deskmail.store.accounts import Role
from tests.web.axe import assert_accessible, violations
from tests.web.conftest import LiveWeb

SCREENS = ["/jobs", "/tokens", "/users"]


def test_the_screens_have_no_wcag_violations(web: LiveWeb) -> None:
    page = web.page(Role.ADMIN, bypass_csp=True)
    # A job with an error shown inline, and a token listed: the busiest state of each screen.
    web.mailbox.rename(web.mailbox.with_name("gone"))
    run_job(web.store, web.config.jobs[0], config=web.config)
    web.api(Role.ADMIN).post("/api/v1/tokens", json={"label": "monitoring"})
    for path in SCREENS:
        page.goto(path)
        assert_accessible(page)
        if path == "/jobs":
            assert page.get_by_text("Last error").is_visible()
    page.goto("/login")  # logged in: sent on; log out to see the form
    page.context.clear_cookies()
    page.goto("/login")
    assert_accessible(page)


def test_the_setup_page_has_no_wcag_violations(web_factory: Callable[..., LiveWeb]) -> None:
    page = web_factory(users=False).page(bypass_csp=True)
    page.goto("/setup")
    assert_accessible(page)


@pytest.mark.parametrize("path", ["/jobs"])
def test_the_checker_finds_a_violation(web: LiveWeb, path: str) -> None:
    # The helper is not vacuous: an image without alternative text is reported.
    page = web.page(Role.VIEWER, bypass_csp=True)
    page.goto(path)
    page.evaluate("document.querySelector('main').append(document.createElement('img'))")
    assert any(found.startswith("image-alt") for found in violations(page))
