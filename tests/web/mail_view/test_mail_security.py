"""A hostile mail, taken in by run-once and opened in the browser: nothing in it runs,
nothing loads from outside until the viewer asks, then only its images load.

Asserted from the page (no script's effect, the frame's document) and from the
log of a local server standing in for the sites the mail points at.
"""

from __future__ import annotations

import re
import time

from click.testing import CliRunner
from playwright.sync_api import expect

from deskmail.cli import main
from deskmail.store.accounts import Role
from tests.web.conftest import LiveWeb
from tests.web.mail_view.mails import deliver, hostile_mail
from tests.web.mail_view.remote_server import RemoteServer


def _settle(remote: RemoteServer, seconds: float = 1.0) -> list[str]:
    time.sleep(seconds)  # a fetch the page would make has had time to arrive
    return list(remote.requests)


def test_a_hostile_mail_runs_nothing_and_loads_nothing_until_asked(web_factory) -> None:  # type: ignore[no-untyped-def]
    web: LiveWeb = web_factory(include_raw_message=True)
    with RemoteServer() as remote:
        deliver(web.mailbox, "hostile", hostile_mail(remote.url))
        ran = CliRunner().invoke(main, ["run-once", "--config", str(web.config.source_file)])
        assert ran.exit_code == 0, ran.output

        page = web.page(Role.VIEWER)
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto("/tickets")
        page.get_by_role("link", name="IT-1").click()
        expect(page.get_by_role("heading", name="Invoice overdue")).to_be_visible()

        frame_element = page.locator("iframe.mail-frame")
        assert (
            frame_element.get_attribute("sandbox") == "allow-popups allow-popups-to-escape-sandbox"
        )
        frame = page.frame_locator("iframe.mail-frame")
        expect(frame.locator("p", has_text="Dear customer")).to_contain_text("pay now")
        # The inline image shows (embedded), the tracker and every other fetch do not.
        expect(frame.locator("img[alt=logo]")).to_have_attribute(
            "src", re.compile("^data:image/png;")
        )
        assert frame.locator("img[alt=tracker]").get_attribute("src") is None
        assert frame.locator("script, form, iframe, [onload], [onerror]").count() == 0
        assert frame.get_by_text("click", exact=True).get_attribute("href") is None
        assert frame.get_by_role("link", name="a fine link").get_attribute("target") == "_blank"
        assert page.evaluate("window.pwned") is None
        assert _settle(remote) == []
        assert dialogs == []

        # The frame's own answer: a CSP that forbids script and remote loads.
        body = web.browser_client(Role.VIEWER).get(frame_element.get_attribute("src") or "")
        policy = body.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "sandbox" in policy and "img-src data:" in policy
        assert remote.url not in body.text

        # Asked for: the frame reloads with the remote image, and only that is fetched.
        page.get_by_role("link", name="Load remote images").click()
        expect(frame.locator("img[alt=tracker]")).to_have_attribute(
            "src", f"{remote.url}/pixel.png"
        )
        assert (
            frame.locator("img[alt=tracker]").evaluate("img => img.complete && img.naturalWidth")
            == 1
        )
        assert _settle(remote) == ["/pixel.png"]
        assert page.evaluate("window.pwned") is None

        # The SVG and HTML attachments are downloads, never pages of deskmail's origin.
        client = web.browser_client(Role.VIEWER)
        for name in ("chart.svg", "invoice.html"):
            link = page.get_by_role("link", name=name)
            answer = client.get(link.get_attribute("href") or "")
            assert answer.status_code == 200
            assert answer.headers["content-disposition"].startswith("attachment;")
            assert answer.headers["content-type"] == "application/octet-stream"
            assert answer.headers["x-content-type-options"] == "nosniff"
            with page.expect_download() as download:
                link.click()
            assert download.value.suggested_filename == name
        assert _settle(remote, 0.5) == ["/pixel.png"]

        # The raw message: shown as text, downloadable as message/rfc822.
        raw = page.get_by_role("link", name="View the raw message").get_attribute("href") or ""
        shown = client.get(raw)
        assert shown.headers["content-type"] == "text/plain; charset=utf-8"
        assert "Message-ID: <hostile@client.example.com>" in shown.text
        saved = client.get(raw + "?download=true")
        assert saved.headers["content-type"] == "message/rfc822"
        assert saved.headers["content-disposition"].startswith("attachment;")
