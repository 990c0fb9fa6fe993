"""API errors are RFC 9457 problem responses that name the field; no secret is ever sent."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from sqlalchemy import select

from deskmail.config.models import DeskmailConfig, WebConfig
from deskmail.store.accounts import ApiToken, Role, WebUser
from deskmail.store.engine import Store
from deskmail.web.app import create_app
from deskmail.web.server import WebServer
from tests.web.conftest import PASSWORD, LiveWeb

PROBLEM = "application/problem+json"


def test_validation_errors_name_the_field(web: LiveWeb) -> None:
    api = web.api(Role.ADMIN)
    missing = api.post("/api/v1/tokens", json={})
    assert missing.status_code == 422
    assert missing.headers["content-type"] == PROBLEM
    body = missing.json()
    assert body["status"] == 422 and body["title"]
    assert [e["field"] for e in body["errors"]] == ["body.label"]

    short = api.post("/api/v1/users", json={"name": "bob", "role": "agent", "password": "short"})
    assert short.status_code == 422
    assert short.json()["errors"][0]["field"] == "body.password"
    assert "short" not in short.text  # what was sent is not echoed

    role = api.post("/api/v1/users", json={"name": "bob", "role": "boss", "password": "x" * 12})
    assert role.json()["errors"][0]["field"] == "body.role"

    limit = api.get("/api/v1/tickets", params={"limit": 0})
    assert limit.json()["errors"][0]["field"] == "query.limit"
    cursor = api.get("/api/v1/tickets", params={"cursor": "nonsense"})
    assert cursor.status_code == 422
    assert cursor.json()["errors"][0]["field"] == "query.cursor"


def test_404_409_and_401_are_problems_too(web: LiveWeb) -> None:
    api = web.api(Role.ADMIN)
    for answer, status in (
        (api.get("/api/v1/tickets/999999"), 404),
        (api.get("/api/v1/jobs/nope"), 404),
        (api.get("/api/v1/no-such-thing"), 404),
        (
            api.post(
                "/api/v1/users", json={"name": "Agent-User", "role": "agent", "password": "x" * 12}
            ),
            409,
        ),
        (api.delete(f"/api/v1/users/{web.accounts[Role.ADMIN].id}"), 409),
        (web.client().get("/api/v1/me"), 401),
    ):
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["status"] == status
    taken = api.post(
        "/api/v1/users", json={"name": "agent-user", "role": "agent", "password": "x" * 12}
    )
    assert taken.json()["errors"][0]["field"] == "body.name"


def test_an_unexpected_error_is_a_500_problem_that_tells_nothing(
    tmp_path: Path, store: Store
) -> None:
    app = create_app(DeskmailConfig(source_file=tmp_path / "deskmail.toml"), store)

    @app.get("/api/v1/boom")
    def boom() -> None:
        raise RuntimeError("the mail said: secret text")

    server = WebServer(app, WebConfig(), port=0)
    server.start()
    try:
        answer = httpx.get(f"{server.url}/api/v1/boom")
    finally:
        server.stop()
    assert answer.status_code == 500
    assert answer.headers["content-type"] == PROBLEM
    assert "secret text" not in answer.text


def test_no_secret_ever_reaches_a_response(web: LiveWeb) -> None:
    admin_api = web.api(Role.ADMIN)
    made = admin_api.post("/api/v1/tokens", json={"label": "shown once"}).json()
    secret = made.pop("token")
    with web.store.session() as session:
        hashes = list(session.scalars(select(WebUser.password_hash)))
        digests = list(session.scalars(select(ApiToken.digest)))
    browser = web.browser_client(Role.ADMIN)
    answers = [
        admin_api.get("/api/v1/users"),
        admin_api.get("/api/v1/tokens"),
        admin_api.get("/api/v1/me"),
        admin_api.get("/api/v1/openapi.json"),
        browser.get("/users"),
        browser.get("/tokens"),
        browser.get("/jobs"),
        web.client().get("/metrics"),
    ]
    for answer in answers:
        assert answer.status_code == 200, answer.request.url
        text = answer.text
        assert "$argon2" not in text
        assert not any(value in text for value in hashes + digests)
        assert secret not in text, answer.request.url
        assert PASSWORD not in text
    assert re.fullmatch(r"dmt_[A-Za-z0-9_-]{43}", secret)
