"""GET /api/v1/tickets: filters, cursor pagination, updated_since; GET /api/v1/tickets/{id}."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from deskmail.intake.run import run_job
from deskmail.store.accounts import Role
from deskmail.store.models import Ticket
from tests.support.jobs import drop_mail
from tests.web.conftest import LiveWeb


def _tickets(web: LiveWeb, count: int) -> None:
    for number in range(count):
        drop_mail(web.mailbox, f"m{number}", f"user{number}@example.com", f"Printer {number} jams")
    assert run_job(web.store, web.config.jobs[0], config=web.config).created == count


def test_pages_follow_the_cursor_without_gaps_or_repeats(web: LiveWeb) -> None:
    _tickets(web, 7)
    api = web.api(Role.VIEWER)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = api.get("/api/v1/tickets", params=params).json()
        seen += [ticket["id"] for ticket in body["items"]]
        pages += 1
        cursor = body.get("next_cursor")
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == len(set(seen)) == 7
    first = api.get("/api/v1/tickets", params={"limit": 1}).json()["items"][0]
    assert first["reference"] == f"IT-{first['number']}"
    assert first["requester"]["name"]


def test_updated_since_and_filters(web: LiveWeb) -> None:
    _tickets(web, 4)
    api = web.api(Role.VIEWER)
    ids = [t["id"] for t in api.get("/api/v1/tickets").json()["items"]]
    long_ago = datetime.now(UTC) - timedelta(days=30)
    with web.store.transaction() as session:
        session.execute(update(Ticket).where(Ticket.id.in_(ids[:3])).values(updated_at=long_ago))
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    recent = api.get("/api/v1/tickets", params={"updated_since": since}).json()["items"]
    assert [t["id"] for t in recent] == ids[3:]
    # Oldest change first: the tickets changed long ago lead the list.
    assert [t["id"] for t in api.get("/api/v1/tickets").json()["items"]][:3] == ids[:3]
    words = api.get("/api/v1/tickets", params={"subject": "printer 2"}).json()["items"]
    assert [t["subject"] for t in words] == ["Printer 2 jams"]
    assert api.get("/api/v1/tickets", params={"status": "closed"}).json()["items"] == []
    naive = api.get("/api/v1/tickets", params={"updated_since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["field"] == "query.updated_since"


def test_ticket_detail_lists_its_activities(web: LiveWeb) -> None:
    _tickets(web, 1)
    api = web.api(Role.VIEWER)
    ticket = api.get("/api/v1/tickets").json()["items"][0]
    detail = api.get(f"/api/v1/tickets/{ticket['id']}").json()
    assert detail["subject"] == "Printer 0 jams"
    assert detail["description"].strip() == "body"
    assert isinstance(detail["activities"], list)
