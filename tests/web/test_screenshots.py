"""Screenshots of the main screens on the sample (`deskmail sample init`), for the README.

Runs with the other browser tests, on the sample's SQLite database, and writes its PNGs to a
temporary folder; `make screenshots` (DESKMAIL_SCREENSHOTS=docs/screenshots)
writes them into docs/screenshots/ for the README. Every screen of the navigation
bar is taken, so a screen added later is taken too.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from deskmail.config.files import load_configuration
from deskmail.intake.run import run_job
from deskmail.sample.setup import init_sample
from deskmail.store.accounts import Role
from deskmail.store.engine import Store
from tests.support.webhook_receiver import Receiver
from tests.web.conftest import LiveWeb, _add_accounts

TARGET_ENV = "DESKMAIL_SCREENSHOTS"
VIEWPORT = {"width": 1280, "height": 800}
PNG = b"\x89PNG\r\n\x1a\n"


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


@pytest.fixture
def sample_web(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[LiveWeb]:
    """The web server on the sample (`deskmail sample init`, then one run), SQLite."""
    from deskmail.web.app import create_app
    from deskmail.web.server import WebServer

    config_file, _ = init_sample(tmp_path / "var" / "sample")
    config = load_configuration(config_file)
    store = Store(config.database.url, config.storage.attachments_dir, config_file)
    for job in config.jobs:
        run_job(store, job, config=config)
    app = create_app(config, store)
    server = WebServer(app, app.state.deskmail.web, port=0)
    server.start()
    mailbox = config_file.parent / "mailbox"
    live = LiveWeb(server.url, config, store, mailbox, _add_accounts(store))
    live._browser = lambda: request.getfixturevalue("browser")
    try:
        yield live
    finally:
        live.close()
        server.stop()
        store.dispose()


def test_screenshots_of_the_main_screens(
    sample_web: LiveWeb, receiver: Receiver, tmp_path: Path
) -> None:
    web = sample_web
    target = Path(os.environ.get(TARGET_ENV) or tmp_path / "screenshots")
    target.mkdir(parents=True, exist_ok=True)
    admin = web.api(Role.ADMIN)
    admin.post("/api/v1/tokens", json={"label": "reporting script"})
    hook = admin.post(
        "/api/v1/webhooks",
        json={
            "url": "http://127.0.0.1:8765/hooks/deskmail",
            "events": ["ticket.created", "event.opened", "run.failed"],
            "description": "the operations board",
        },
    ).json()
    # The receiver's port changes every run: the endpoint shows a fixed one, posted to the
    # receiver through a change of URL and back.
    admin.patch(f"/api/v1/webhooks/{hook['id']}", json={"url": receiver.url})
    admin.post(f"/api/v1/webhooks/{hook['id']}/test")
    receiver.answers.append(503)
    delivery = admin.post(f"/api/v1/webhooks/{hook['id']}/test").json()["delivery_id"]
    admin.patch(f"/api/v1/webhooks/{hook['id']}", json={"url": hook["url"]})

    page = web.page(Role.ADMIN)
    page.set_viewport_size(VIEWPORT)
    page.goto("/jobs")
    screens = [
        (_slug(link.inner_text()), link.get_attribute("href") or "")
        for link in page.locator("nav[aria-label=Main] a").all()
    ]
    # The API docs page is the vendored Swagger UI: a large picture of someone else's screen.
    screens = [(name, url) for name, url in screens if name != "api-docs"]
    assert ("webhooks", "/webhooks") in [
        (name, re.sub(r"^https?://[^/]+", "", url)) for name, url in screens
    ]
    screens += [
        ("webhook-endpoint", f"/webhooks/{hook['id']}"),
        ("webhook-delivery", f"/webhooks/deliveries/{delivery}"),
    ]
    taken = []
    for name, url in screens:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        path = target / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        taken.append(path)
    # The job editor's processing rules, two of them built as an administrator would.
    page.goto("/jobs/new")
    page.get_by_label("Name", exact=True).fill("Service desk")
    rules = page.locator("fieldset.rule")
    page.get_by_role("button", name="Add processing rule").click()
    rules.nth(0).get_by_label("Name", exact=True).fill("Monitoring alerts")
    rules.nth(0).get_by_label("Rule 1 condition 1 field").select_option("from")
    rules.nth(0).get_by_label("Rule 1 condition 1 how").select_option("domain")
    rules.nth(0).get_by_label("Rule 1 condition 1 value").fill("monitor.example.com")
    rules.nth(0).get_by_label("The mail becomes").select_option("create_event")
    page.get_by_role("button", name="Add processing rule").click()
    rules.nth(1).get_by_label("Name", exact=True).fill("Printers")
    rules.nth(1).get_by_label("Rule 2 condition 1 value").fill("printer")
    rules.nth(1).get_by_label("Set group").fill("Printer team")
    path = target / "job-editor-rules.png"
    page.evaluate("document.querySelector('fieldset.rule').scrollIntoView()")
    page.screenshot(path=str(path))
    taken.append(path)
    page.context.clear_cookies()
    page.goto("/login")
    page.screenshot(path=str(target / "login.png"))
    taken.append(target / "login.png")

    for path in taken:
        data = path.read_bytes()
        assert data.startswith(PNG) and len(data) > 5_000, path  # a real picture, not blank
    if os.environ.get(TARGET_ENV):
        print(f"screenshots in {target}: {', '.join(p.name for p in taken)}")
    else:
        shutil.rmtree(target)
