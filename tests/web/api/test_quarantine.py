"""/api/v1/quarantine: list, detail, raw, retry, discard, bulk; agents and above."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from deskmail.store.accounts import Role
from deskmail.store.models import Ticket, TicketKind
from tests.web.conftest import LiveWeb
from tests.web.quarantined import apply_fails, quarantine


def _incidents(web: LiveWeb) -> int:
    with web.store.session() as session:
        query = select(func.count()).where(Ticket.kind == TicketKind.INCIDENT)
        return session.scalar(query) or 0


def test_list_detail_and_raw(web: LiveWeb, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = quarantine(web, monkeypatch, "BOOM one", "BOOM two")
    api = web.api(Role.AGENT)
    page = api.get("/api/v1/quarantine", params={"limit": 1}).json()
    (item,) = page["items"]
    assert item["id"] == first and item["subject"] == "BOOM one"
    assert item["sender"] == "Sender 0 <s0@example.com>" and item["attempts"] == 1
    assert item["reason"].startswith("apply: RuntimeError")
    rest = api.get("/api/v1/quarantine", params={"cursor": page["next_cursor"]}).json()
    assert [each["id"] for each in rest["items"]] == [second]

    detail = api.get(f"/api/v1/quarantine/{first}").json()
    assert detail["quarantined"] is True and detail["event"].startswith("IT-")
    assert {"name": "Subject", "value": "BOOM one"} in detail["headers"]
    raw = api.get(detail["raw_url"])
    assert raw.headers["content-type"].startswith("text/plain")
    assert b"Subject: BOOM one" in raw.content
    assert api.get("/api/v1/quarantine/999999").status_code == 404


def test_retry_discard_and_bulk(web: LiveWeb, monkeypatch: pytest.MonkeyPatch) -> None:
    one, two, three, four = quarantine(web, monkeypatch, "BOOM 1", "BOOM 2", "BOOM 3", "BOOM 4")
    api = web.api(Role.AGENT)
    with apply_fails(monkeypatch):
        still = api.post(f"/api/v1/quarantine/{one}/retry").json()
    assert still == {"id": one, "done": False, "detail": still["detail"]}
    assert still["detail"].startswith("failed again: apply:")
    assert api.get(f"/api/v1/quarantine/{one}").json()["attempts"] == 2

    done = api.post(f"/api/v1/quarantine/{one}/retry").json()
    assert done["done"] and done["detail"].startswith("created IT-")
    assert _incidents(web) == 1
    # Not quarantined any more: a second retry or discard is refused.
    assert api.post(f"/api/v1/quarantine/{one}/retry").status_code == 404
    assert api.post(f"/api/v1/quarantine/{one}/discard").status_code == 404

    discarded = api.post(f"/api/v1/quarantine/{two}/discard").json()
    assert discarded["done"] is True
    assert api.get(f"/api/v1/quarantine/{two}").json()["quarantined"] is False

    bulk = api.post(
        "/api/v1/quarantine/bulk", json={"action": "retry", "ids": [three, four, 424242]}
    ).json()
    assert [(each["id"], each["done"]) for each in bulk["results"]] == [
        (three, True),
        (four, True),
        (424242, False),
    ]
    assert _incidents(web) == 3
    assert api.get("/api/v1/quarantine").json()["items"] == []


def test_bad_bulk_bodies_name_the_field(web: LiveWeb) -> None:
    api = web.api(Role.AGENT)
    empty = api.post("/api/v1/quarantine/bulk", json={"action": "retry", "ids": []})
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "body.ids"
    wrong = api.post("/api/v1/quarantine/bulk", json={"action": "burn", "ids": [1]})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "body.action"


def test_viewers_are_refused(web: LiveWeb, monkeypatch: pytest.MonkeyPatch) -> None:
    (record_id,) = quarantine(web, monkeypatch, "BOOM")
    viewer = web.api(Role.VIEWER)
    assert viewer.get("/api/v1/quarantine").status_code == 403
    assert viewer.get(f"/api/v1/quarantine/{record_id}").status_code == 403
    assert viewer.post(f"/api/v1/quarantine/{record_id}/retry").status_code == 403
    refused = viewer.post("/api/v1/quarantine/bulk", json={"action": "discard", "ids": [record_id]})
    assert refused.status_code == 403
    assert web.api(Role.AGENT).get(f"/api/v1/quarantine/{record_id}").json()["quarantined"]
