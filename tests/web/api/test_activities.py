"""GET a ticket's activities with bodies, the raw .eml, attachments; GET /events."""

from __future__ import annotations

from email.message import EmailMessage

from deskmail.intake.run import run_job
from deskmail.store.accounts import Role
from deskmail.store.models import TicketKind, TicketStatus
from tests.support.jobs import drop_mail
from tests.web.conftest import LiveWeb
from tests.web.ticket_data import add_tickets


def _mail_with_a_reply(web: LiveWeb) -> None:
    drop_mail(web.mailbox, "first", "ann@example.com", "VPN drops", "It drops.")
    run_job(web.store, web.config.jobs[0], config=web.config)
    reply = EmailMessage()
    reply["From"] = "ann@example.com"
    reply["To"] = "support@example.com"
    reply["Subject"] = "Re: VPN drops"
    reply["Message-ID"] = "<second@client.example.com>"
    reply["In-Reply-To"] = "<first@client.example.com>"
    reply.set_content("Log attached.\n")
    reply.add_attachment(b"line 1\nline 2\n", maintype="text", subtype="plain", filename="vpn.log")
    reply.add_attachment(b"<svg/>", maintype="image", subtype="svg+xml", filename="x.svg")
    (web.mailbox / "new" / "second.eml").write_bytes(bytes(reply))
    assert run_job(web.store, web.config.jobs[0], config=web.config).updated == 1


def test_activities_carry_their_bodies_attachments_and_raw_message(web_factory) -> None:  # type: ignore[no-untyped-def]
    web: LiveWeb = web_factory(include_raw_message=True)
    _mail_with_a_reply(web)
    api = web.api(Role.VIEWER)
    ticket = api.get("/api/v1/tickets/1").json()
    assert ticket["job"] == "Support" and ticket["description"].startswith("It drops.")
    listed = api.get("/api/v1/tickets/1/activities").json()
    mail = next(item for item in listed["items"] if item["kind"] == "mail")
    assert mail["body"].startswith("Log attached.") and mail["raw_kept"] is True
    names = {a["filename"] for a in mail["attachments"]}
    assert {"vpn.log", "x.svg"} <= names
    assert api.get(f"/api/v1/activities/{mail['id']}").json() == mail

    raw = api.get(f"/api/v1/activities/{mail['id']}/raw")
    assert raw.status_code == 200 and raw.headers["content-type"] == "message/rfc822"
    assert b"Message-ID: <second@client.example.com>" in raw.content
    opening = api.get("/api/v1/tickets/1/raw")
    assert b"<first@client.example.com>" in opening.content

    svg = next(a for a in mail["attachments"] if a["filename"] == "x.svg")
    got = api.get(f"/api/v1/attachments/{svg['id']}")
    assert got.content == b"<svg/>"
    assert got.headers["content-type"] == "application/octet-stream"
    assert (
        got.headers["content-disposition"]
        == "attachment; filename=\"x.svg\"; filename*=UTF-8''x.svg"
    )
    assert got.headers["x-content-type-options"] == "nosniff"
    every = api.get("/api/v1/tickets/1/attachments").json()
    assert {a["id"] for a in mail["attachments"]} <= {a["id"] for a in every}

    for path in ("/api/v1/activities/999", "/api/v1/activities/999/raw", "/api/v1/attachments/999",
                 "/api/v1/tickets/999/activities", "/api/v1/tickets/999/raw"):  # fmt: skip
        missing = api.get(path)
        assert missing.status_code == 404, path
        assert missing.headers["content-type"] == "application/problem+json"


def test_a_raw_message_not_kept_is_a_clear_404(web: LiveWeb) -> None:
    drop_mail(web.mailbox, "first", "ann@example.com", "VPN drops")
    run_job(web.store, web.config.jobs[0], config=web.config)
    answer = web.api(Role.VIEWER).get("/api/v1/tickets/1/raw")
    assert answer.status_code == 404
    assert answer.json()["detail"] == "the raw message of ticket 1 was not kept"


def test_events_are_the_tickets_of_kind_event(web: LiveWeb) -> None:
    add_tickets(web.store, 2, subject="Incident {n}")
    events = add_tickets(web.store, 2, kind=TicketKind.EVENT, subject="Disk {n}")
    closed = add_tickets(web.store, 1, kind=TicketKind.EVENT, status=TicketStatus.CLOSED)
    api = web.api(Role.VIEWER)
    listed = api.get("/api/v1/events").json()["items"]
    assert sorted(e["id"] for e in listed) == events + closed
    assert [
        e["id"] for e in api.get("/api/v1/events", params={"open": "true"}).json()["items"]
    ] == events
    assert [
        e["id"] for e in api.get("/api/v1/events", params={"open": "false"}).json()["items"]
    ] == closed
    assert api.get(f"/api/v1/events/{events[0]}").json()["subject"] == "Disk 0"
    assert api.get("/api/v1/events/1").status_code == 404  # an incident
    wrong = api.get("/api/v1/events", params={"kind": "incident"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "query.kind"


def test_the_ticket_list_filters_by_group_job_and_creation_time(web: LiveWeb) -> None:
    drop_mail(web.mailbox, "a", "ann@example.com", "Printer jammed")
    run_job(web.store, web.config.jobs[0], config=web.config)
    add_tickets(web.store, 2)  # made otherwise: no job, no group
    api = web.api(Role.VIEWER)

    def ids(**params: str) -> list[int]:
        answer = api.get("/api/v1/tickets", params=params)
        assert answer.status_code == 200, answer.text
        return [t["id"] for t in answer.json()["items"]]

    assert ids(job="Support") == [1]
    assert ids(group="Service Desk") == [1]
    assert ids(site="Head Office") == [1]
    assert len(ids(created_to="2026-11-02T00:00:00Z")) == 2
    assert ids(created_from="2026-11-02T00:00:00Z") == [1]
    naive = api.get("/api/v1/tickets", params={"created_from": "2026-11-02T00:00:00"})
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "query.created_from"


def test_the_api_needs_a_token(web: LiveWeb) -> None:
    anonymous = web.client()
    for path in ("/api/v1/events", "/api/v1/tickets/1/activities", "/api/v1/attachments/1",
                 "/api/v1/activities/1/raw", "/api/v1/people", "/api/v1/groups"):  # fmt: skip
        assert anonymous.get(path).status_code == 401, path
