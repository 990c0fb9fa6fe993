"""The tickets list (filters, subject search, pages) and a ticket's page, walked as a user."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from deskmail.intake.run import run_job
from deskmail.store.accounts import Role
from deskmail.store.models import TicketKind, TicketStatus
from tests.support.jobs import drop_mail
from tests.web.axe import assert_accessible
from tests.web.conftest import LiveWeb
from tests.web.ticket_data import add_tickets

REFERENCE = re.compile(r"IT-\d+")


def _references(html: str) -> list[str]:
    return re.findall(r">(IT-\d+)</a>", html)


def _three_mails(web: LiveWeb) -> None:
    drop_mail(web.mailbox, "a", "ann@example.com", "Printer jammed on floor 2")
    drop_mail(web.mailbox, "b", "bob@example.com", "Laptop battery swollen")
    drop_mail(web.mailbox, "c", "cy@example.com", "PRINTER toner empty")
    assert run_job(web.store, web.config.jobs[0], config=web.config).created == 3


def test_the_filters_and_the_search_narrow_the_list(web: LiveWeb) -> None:
    _three_mails(web)
    client = web.browser_client(Role.VIEWER)

    def shown(**params: str) -> list[str]:
        answer = client.get("/tickets", params=params)
        assert answer.status_code == 200, answer.text
        return _references(answer.text)

    assert len(shown()) == 3
    assert len(shown(q="printer")) == 2  # any case, any place in the subject
    assert len(shown(q="printer toner")) == 1  # every word
    assert shown(q="scanner") == []
    assert len(shown(status="new", kind="incident", team="IT", group="Service Desk")) == 3
    assert shown(status="closed") == []
    assert shown(kind="event") == []
    assert len(shown(job="Support")) == 3
    assert shown(job="Elsewhere") == []
    assert shown(created_from="2999-01-01") == []
    assert len(shown(created_to="2999-01-01")) == 3
    refused = client.get("/tickets", params={"created_from": "yesterday"})
    assert refused.status_code == 422
    assert "from: &#39;yesterday&#39; is not a date" in refused.text
    assert client.get("/tickets", params={"status": "pending"}).status_code == 422


def test_pages_go_back_in_time_without_gaps_or_repeats(web: LiveWeb) -> None:
    add_tickets(web.store, 120)
    client = web.browser_client(Role.VIEWER)
    seen: list[str] = []
    url: str | None = "/tickets?q=generated"
    pages = 0
    while url:
        html = client.get(url).text
        seen += _references(html)
        pages += 1
        found = re.search(r'<a href="([^"]+)" rel="next">', html)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert pages == 3
    assert len(seen) == len(set(seen)) == 120
    assert seen[0] == "IT-120" and seen[-1] == "IT-1"  # latest change first


def test_a_user_opens_a_ticket_and_reads_its_timeline(web: LiveWeb) -> None:
    drop_mail(web.mailbox, "first", "ann@example.com", "VPN drops every hour", "It drops.")
    run_job(web.store, web.config.jobs[0], config=web.config)
    reply = (
        "From: Ann <ann@example.com>\r\nTo: support@example.com\r\nSubject: Re: [IT-1] VPN\r\n"
        "Message-ID: <second@client.example.com>\r\nIn-Reply-To: <first@client.example.com>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        "<p>Still <b>dropping</b> today.</p>\r\n"
    )
    (web.mailbox / "new" / "second.eml").write_bytes(reply.encode())
    assert run_job(web.store, web.config.jobs[0], config=web.config).updated == 1

    page = web.page(Role.VIEWER)
    page.goto("/tickets")
    page.get_by_label("Subject words").fill("vpn")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"q=vpn"))
    page.get_by_role("link", name="IT-1").click()
    expect(page.get_by_role("heading", name="VPN drops every hour")).to_be_visible()
    expect(
        page.get_by_role("heading", name=re.compile("^Opening mail from ann@example.com"))
    ).to_be_visible()
    expect(page.get_by_text("It drops.")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("^Mail from Ann"))).to_be_visible()
    frame = page.frame_locator("iframe.mail-frame")
    expect(frame.locator("b")).to_have_text("dropping")
    # Without the raw message kept there is nothing to download and no remote image to offer.
    expect(page.get_by_text("the original message was not kept")).to_be_visible()
    assert page.get_by_role("link", name="View the raw message").count() == 0
    page.get_by_text("Text part").click()
    expect(page.get_by_text("Still dropping today.")).to_be_visible()
    page.get_by_role("link", name="Back to the list").click()
    expect(page).to_have_url(re.compile(r"/tickets$"))


def test_events_list_only_events_and_say_open_or_closed(web: LiveWeb) -> None:
    add_tickets(web.store, 2, subject="Incident {n}")
    add_tickets(web.store, 1, kind=TicketKind.EVENT, subject="Disk full on srv{n}")
    add_tickets(
        web.store, 1, kind=TicketKind.EVENT, status=TicketStatus.CLOSED, subject="Backup late {n}"
    )
    page = web.page(Role.VIEWER)
    page.goto("/events")
    expect(page.get_by_role("row")).to_have_count(3)  # the header and two events
    page.get_by_label("Status").select_option("closed")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("cell", name="Backup late 0")).to_be_visible()
    expect(page.get_by_role("cell", name="Disk full on srv0")).to_have_count(0)
    page.get_by_role("link", name=REFERENCE).click()
    expect(page).to_have_url(re.compile(r"/events/\d+$"))
    expect(page.get_by_role("heading", name="Backup late 0")).to_be_visible()
    assert page.get_by_label("Type").count() == 0  # the type is fixed here


def test_the_screens_need_a_session(web: LiveWeb) -> None:
    add_tickets(web.store, 1)
    anonymous = web.client()
    for path in ("/tickets", "/tickets/1", "/events", "/tickets/1/frame", "/tickets/1/raw"):
        answer = anonymous.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/login?next=")
    assert web.browser_client(Role.VIEWER).get("/tickets/999").status_code == 404


def test_the_tickets_screens_are_accessible(web: LiveWeb) -> None:
    _three_mails(web)
    add_tickets(web.store, 1, kind=TicketKind.EVENT, subject="Disk full")
    page = web.page(Role.ADMIN, bypass_csp=True)
    for path in ("/tickets", "/tickets/1", "/events", "/tickets?created_from=bad"):
        page.goto(path)
        assert_accessible(page)
