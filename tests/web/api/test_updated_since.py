"""updated_since on the lists that lacked it: people, groups, sites, teams, users, tokens,
webhook endpoints, jobs (and events, through the tickets' filters). Each list's rows are
set back to a day long past; then one row is changed through the API: with updated_since
between the two, the changed row is listed and the untouched one is not."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import update

from deskmail.store.accounts import ApiToken, Role, WebUser
from deskmail.store.models import (
    Group,
    Person,
    Site,
    StoredJob,
    Team,
    Ticket,
    TicketKind,
    WebhookEndpoint,
)
from deskmail.store.sealing import SECRET_KEY_ENV
from tests.support.webhook_receiver import Receiver
from tests.web.conftest import LiveWeb
from tests.web.ticket_data import add_tickets

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
SINCE = {"updated_since": "2021-01-01T00:00:00+00:00"}


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_KEY_ENV, Fernet.generate_key().decode())


def _set_back(web: LiveWeb, *models: Any) -> None:
    with web.store.transaction() as session:
        for model in models:
            session.execute(update(model).values(updated_at=LONG_AGO))


def _items(answer: httpx.Response) -> list[dict[str, Any]]:
    assert answer.status_code == 200, answer.text
    body = answer.json()
    found: list[dict[str, Any]] = body["items"] if isinstance(body, dict) else body
    return found


def test_people_groups_sites_and_teams(web: LiveWeb) -> None:
    admin = web.api(Role.ADMIN)
    made = {}
    for kind in ("groups", "sites", "teams"):
        made[kind] = [
            admin.post(f"/api/v1/{kind}", json={"name": f"{kind} {n}"}).json() for n in (1, 2)
        ]
    people = [
        admin.post("/api/v1/people", json={"name": n, "emails": [f"{n}@example.com"]}).json()
        for n in ("ann", "bob")
    ]
    _set_back(web, Group, Site, Team, Person)
    for kind, (renamed, kept) in made.items():
        everything = _items(admin.get(f"/api/v1/{kind}"))
        assert {row["name"] for row in everything} >= {renamed["name"], kept["name"]}
        assert _items(admin.get(f"/api/v1/{kind}", params=SINCE)) == []
        assert (
            admin.patch(f"/api/v1/{kind}/{renamed['id']}", json={"name": "new"}).status_code == 200
        )
        listed = _items(admin.get(f"/api/v1/{kind}", params=SINCE))
        assert [row["id"] for row in listed] == [renamed["id"]], kind
        assert datetime.fromisoformat(listed[0]["updated_at"]) > LONG_AGO
    assert _items(admin.get("/api/v1/people", params=SINCE)) == []
    # Only an address changes: a row of its own, and still a change of the person.
    changed = admin.patch(f"/api/v1/people/{people[0]['id']}", json={"emails": ["ann@example.org"]})
    assert changed.status_code == 200
    listed = _items(admin.get("/api/v1/people", params=SINCE))
    assert [row["id"] for row in listed] == [people[0]["id"]]
    # Sent again unchanged: no change, still not listed.
    _set_back(web, Person)
    admin.patch(f"/api/v1/people/{people[0]['id']}", json={"emails": ["ann@example.org"]})
    assert _items(admin.get("/api/v1/people", params=SINCE)) == []


def test_a_ticket_number_drawn_is_no_change_of_the_team(web: LiveWeb) -> None:
    admin = web.api(Role.ADMIN)
    team = admin.post("/api/v1/teams", json={"name": "Desk"}).json()
    _set_back(web, Team)
    add_tickets(web.store, 2, team="Desk")
    assert _items(admin.get("/api/v1/teams", params=SINCE)) == []
    assert team["id"]


def test_users_and_tokens(web: LiveWeb) -> None:
    admin = web.api(Role.ADMIN)
    agent = web.api(Role.AGENT)  # its token is used from now on
    _set_back(web, WebUser, ApiToken)
    assert _items(admin.get("/api/v1/users", params=SINCE)) == []
    users = {row["name"]: row["id"] for row in _items(admin.get("/api/v1/users"))}
    assert (
        admin.patch(f"/api/v1/users/{users['viewer-user']}", json={"role": "agent"}).status_code
        == 200
    )
    assert [row["name"] for row in _items(admin.get("/api/v1/users", params=SINCE))] == [
        "viewer-user"
    ]
    # The admin's token is used by the asking itself; the agent's is not, until it asks.
    owners = {row["owner"] for row in _items(admin.get("/api/v1/tokens", params=SINCE))}
    assert "agent-user" not in owners and "admin-user" in owners
    assert agent.get("/api/v1/me").status_code == 200
    owners = {row["owner"] for row in _items(admin.get("/api/v1/tokens", params=SINCE))}
    assert "agent-user" in owners


def test_webhook_endpoints(web: LiveWeb, receiver: Receiver) -> None:
    admin = web.api(Role.ADMIN)
    ids = [
        admin.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["run.failed"]}).json()[
            "id"
        ]
        for _ in range(2)
    ]
    _set_back(web, WebhookEndpoint)
    assert _items(admin.get("/api/v1/webhooks", params=SINCE)) == []
    assert admin.patch(f"/api/v1/webhooks/{ids[1]}", json={"enabled": False}).status_code == 200
    assert [row["id"] for row in _items(admin.get("/api/v1/webhooks", params=SINCE))] == [ids[1]]


def test_jobs_and_events(web: LiveWeb, tmp_path: Path) -> None:
    admin = web.api(Role.ADMIN)
    for name in ("One", "Two"):
        made = admin.post(
            "/api/v1/jobs", json={"name": name, "protocol": "maildir", "path": str(tmp_path)}
        )
        assert made.status_code == 201, made.text
    _set_back(web, StoredJob)
    assert _items(admin.get("/api/v1/jobs", params=SINCE)) == []
    assert admin.patch("/api/v1/jobs/Two", json={"schedule": "1h"}).status_code == 200
    listed = _items(admin.get("/api/v1/jobs", params=SINCE))
    assert [row["name"] for row in listed] == ["Two"]  # the file's job has no such time
    assert {row["name"] for row in _items(admin.get("/api/v1/jobs"))} == {"Support", "One", "Two"}

    old, new = add_tickets(web.store, 2, kind=TicketKind.EVENT)
    _set_back(web, Ticket)
    with web.store.transaction() as session:
        session.execute(update(Ticket).where(Ticket.id == new).values(updated_at=datetime.now(UTC)))
    listed = _items(admin.get("/api/v1/events", params=SINCE))
    assert [row["id"] for row in listed] == [new] and old != new
