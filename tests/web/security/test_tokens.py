"""API tokens: shown once, stored as a digest, with expiry and last use, never more rights
than their owner; an administrator revokes another user's token in the browser and the API
refuses it from then on."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import expect
from sqlalchemy import select, update

from deskmail.store.accounts import ApiToken, Role
from deskmail.web.security.digests import digest
from tests.web.conftest import LiveWeb


def test_a_token_is_kept_as_a_digest_only(web: LiveWeb) -> None:
    made = web.api(Role.AGENT).post("/api/v1/tokens", json={"label": "report"}).json()
    secret = made["token"]
    assert secret.startswith("dmt_") and len(secret) > 40
    with web.store.session() as session:
        row = session.scalars(select(ApiToken).where(ApiToken.id == made["id"])).one()
        stored = [str(getattr(row, column.key)) for column in ApiToken.__table__.columns]
    assert row.digest == digest(secret)
    assert not any(secret in value for value in stored)
    assert secret.startswith(made["prefix"]) and len(made["prefix"]) < 12
    # Listed, but never the token again.
    listed = web.api(Role.AGENT).get("/api/v1/tokens")
    assert secret not in listed.text and "token" not in listed.json()[0]


def test_an_expired_token_is_refused(web: LiveWeb) -> None:
    agent = web.api(Role.AGENT)
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    made = agent.post("/api/v1/tokens", json={"label": "short", "expires_at": soon}).json()
    assert made["expires_at"] is not None
    client = web.client(headers={"Authorization": f"Bearer {made['token']}"})
    assert client.get("/api/v1/me").status_code == 200
    with web.store.transaction() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == made["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    refused = client.get("/api/v1/me")
    assert refused.status_code == 401
    assert "revoked or expired" in refused.json()["detail"]

    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    bad = agent.post("/api/v1/tokens", json={"label": "late", "expires_at": past})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "body.expires_at"


def test_the_last_use_is_recorded(web: LiveWeb) -> None:
    admin = web.api(Role.ADMIN)
    made = admin.post("/api/v1/tokens", json={"label": "cron"}).json()
    assert made["last_used_at"] is None
    web.client(headers={"Authorization": f"Bearer {made['token']}"}).get("/api/v1/me")
    [listed] = [t for t in admin.get("/api/v1/tokens").json() if t["id"] == made["id"]]
    used = datetime.fromisoformat(listed["last_used_at"])
    assert abs(datetime.now(UTC) - used) < timedelta(minutes=1)


def test_a_forged_form_cannot_make_a_token_above_its_owner(web: LiveWeb) -> None:
    client = web.browser_client(Role.VIEWER)
    page = client.post("/tokens", data={"label": "sneaky", "role": "admin", "expires_days": "30"})
    assert page.status_code == 200
    secret = re.search(r'value="(dmt_[^"]+)"', page.text)
    assert secret is not None
    api = web.client(headers={"Authorization": f"Bearer {secret.group(1)}"})
    assert api.get("/api/v1/me").json()["role"] == "viewer"
    assert api.get("/api/v1/users").status_code == 403
    assert (
        api.post("/api/v1/webhooks", json={"url": "https://x.example", "events": ["*"]}).status_code
        == 403
    )


def test_an_administrator_revokes_another_users_token_and_the_api_refuses_it(
    web: LiveWeb,
) -> None:
    agent = web.api(Role.AGENT)
    made = agent.post("/api/v1/tokens", json={"label": "agent's script"}).json()
    script = web.client(headers={"Authorization": f"Bearer {made['token']}"})
    assert script.get("/api/v1/tickets").status_code == 200

    page = web.page(Role.ADMIN)
    page.goto("/tokens")
    row = page.get_by_role("row", name=re.compile("agent's script"))
    expect(row).to_contain_text("agent-user")
    expect(row).to_contain_text(made["prefix"])
    expect(row).not_to_contain_text(made["token"])
    row.get_by_role("button", name="Revoke agent's script").click()
    expect(page.get_by_role("row", name=re.compile("agent's script"))).to_have_count(0)

    refused = script.get("/api/v1/tickets")
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    # The agent's own other tokens are untouched.
    assert agent.get("/api/v1/me").status_code == 200


def test_removing_a_user_ends_their_tokens_and_sessions(web: LiveWeb) -> None:
    from deskmail.web.security.sessions import COOKIE

    agent = web.api(Role.AGENT)
    browser = web.client()
    browser.cookies.set(COOKIE, web.session_cookie(Role.AGENT))
    assert agent.get("/api/v1/me").status_code == 200
    assert browser.get("/jobs").status_code == 200
    removed = web.api(Role.ADMIN).delete(f"/api/v1/users/{web.accounts[Role.AGENT].id}")
    assert removed.status_code == 204
    assert agent.get("/api/v1/me").status_code == 401
    assert browser.get("/jobs").status_code == 303
