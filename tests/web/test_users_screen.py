"""The Users screen (admins): add, change role, reset password, remove; the last
administrator stays."""

from __future__ import annotations

from deskmail.store.accounts import Role
from deskmail.web.accounts import find_user, list_users
from deskmail.web.security.sessions import COOKIE
from tests.web.conftest import LiveWeb


def test_an_admin_manages_users(web: LiveWeb) -> None:
    client = web.browser_client(Role.ADMIN)
    added = client.post("/users", data={"name": "dora", "role": "viewer", "password": "x" * 12})
    assert added.status_code == 303
    dora = find_user(web.store, "dora")
    assert dora.role is Role.VIEWER
    assert "dora added as viewer" in client.get(added.headers["location"]).text

    taken = client.post("/users", data={"name": "DORA", "role": "agent", "password": "x" * 12})
    assert taken.status_code == 422 and "exists already" in taken.text

    assert client.post(f"/users/{dora.id}/role", data={"role": "agent"}).status_code == 303
    assert find_user(web.store, "dora").role is Role.AGENT

    agent_session = web.client()
    agent_session.cookies.set(COOKIE, web.session_cookie(Role.AGENT))
    agent_id = web.accounts[Role.AGENT].id
    reset = client.post(f"/users/{agent_id}/password", data={"password": "brand new password"})
    assert reset.status_code == 303
    assert agent_session.get("/jobs").status_code == 303  # their sessions ended

    assert client.post(f"/users/{dora.id}/remove").status_code == 303
    assert "dora" not in {user.name for user in list_users(web.store)}


def test_the_last_administrator_can_be_neither_demoted_nor_removed(web: LiveWeb) -> None:
    client = web.browser_client(Role.ADMIN)
    me = web.accounts[Role.ADMIN].id
    demoted = client.post(f"/users/{me}/role", data={"role": "viewer"})
    assert demoted.status_code == 422 and "last administrator" in demoted.text
    assert client.post(f"/users/{me}/remove").status_code == 422
    assert client.post("/users/999999/remove").status_code == 404
