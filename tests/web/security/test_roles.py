"""Each role is refused what it may not do, on the pages and on the API; a token never
has more rights than its owner."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from deskmail.store.accounts import Role, WebUser
from tests.web.conftest import LiveWeb

# (method, path, form or JSON, the least role that may)
PAGES = [
    ("GET", "/jobs", None, Role.VIEWER),
    ("GET", "/tokens", None, Role.VIEWER),
    ("GET", "/users", None, Role.ADMIN),
    ("POST", "/jobs/Support/run", {}, Role.ADMIN),
    ("POST", "/jobs/Support/switch", {"enabled": "false"}, Role.ADMIN),
    ("POST", "/users", {"name": "new", "role": "viewer", "password": "long enough pw"}, Role.ADMIN),
]
API = [
    ("GET", "/api/v1/me", None, Role.VIEWER),
    ("GET", "/api/v1/jobs", None, Role.VIEWER),
    ("GET", "/api/v1/tickets", None, Role.VIEWER),
    ("GET", "/api/v1/users", None, Role.ADMIN),
    (
        "POST",
        "/api/v1/users",
        {"name": "new", "role": "viewer", "password": "long enough pw"},
        Role.ADMIN,
    ),
]


def _allowed(status: int) -> bool:
    return status not in (401, 403)


@pytest.mark.parametrize("role", list(Role))
def test_pages_refuse_the_roles_below_what_they_need(web: LiveWeb, role: Role) -> None:
    client = web.browser_client(role)
    for method, path, form, needed in PAGES:
        answer = client.request(method, path, data=form)
        assert _allowed(answer.status_code) == role.allows(needed), (method, path, answer.text)
        if not role.allows(needed):
            assert "role or higher" in answer.text


@pytest.mark.parametrize("role", list(Role))
def test_the_api_refuses_the_roles_below_what_it_needs(web: LiveWeb, role: Role) -> None:
    client = web.api(role)
    for method, path, body, needed in API:
        answer = client.request(method, path, json=body)
        assert _allowed(answer.status_code) == role.allows(needed), (method, path, answer.text)
        if not role.allows(needed):
            assert answer.status_code == 403
            assert answer.headers["content-type"] == "application/problem+json"


def test_a_page_without_a_session_sends_to_the_login(web: LiveWeb) -> None:
    answer = web.client().get("/users")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fusers"


def test_the_api_without_a_token_or_with_a_bad_one_is_401(web: LiveWeb) -> None:
    assert web.client().get("/api/v1/me").status_code == 401
    bad = web.client(headers={"Authorization": "Bearer dmt_not-a-token"}).get("/api/v1/me")
    assert bad.status_code == 401
    assert bad.headers["www-authenticate"].startswith("Bearer")


def test_a_token_never_has_more_rights_than_its_owner(web: LiveWeb) -> None:
    agent = web.api(Role.AGENT)
    asked = agent.post("/api/v1/tokens", json={"label": "more", "role": "admin"})
    assert asked.status_code == 403
    assert asked.json()["errors"][0]["field"] == "body.role"
    made = agent.post("/api/v1/tokens", json={"label": "less", "role": "viewer"}).json()
    assert made["role"] == "viewer"
    lesser = web.client(headers={"Authorization": f"Bearer {made['token']}"})
    assert lesser.get("/api/v1/me").json()["role"] == "viewer"

    # An admin's token follows its owner down when the owner is demoted.
    admin_token = web.token(Role.ADMIN)
    client = web.client(headers={"Authorization": f"Bearer {admin_token}"})
    assert client.get("/api/v1/users").status_code == 200
    with web.store.transaction() as session:
        session.execute(
            update(WebUser).where(WebUser.id == web.accounts[Role.ADMIN].id).values(role=Role.AGENT)
        )
    assert client.get("/api/v1/users").status_code == 403
    assert client.get("/api/v1/me").json()["role"] == "agent"


def test_tokens_of_others_are_out_of_reach_but_for_admins(web: LiveWeb) -> None:
    viewer, agent, admin = web.api(Role.VIEWER), web.api(Role.AGENT), web.api(Role.ADMIN)
    mine = viewer.post("/api/v1/tokens", json={"label": "viewer's"}).json()
    assert all(t["owner"] == "agent-user" for t in agent.get("/api/v1/tokens").json())
    assert agent.delete(f"/api/v1/tokens/{mine['id']}").status_code == 404
    assert "viewer-user" in {t["owner"] for t in admin.get("/api/v1/tokens").json()}
    assert admin.delete(f"/api/v1/tokens/{mine['id']}").status_code == 204
