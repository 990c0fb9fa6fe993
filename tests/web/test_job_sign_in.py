""" "Sign in with Microsoft" (web/pages/job_sign_in.py) in a real browser against the fake
identity platform: the authorization-code flow with PKCE, its answer posted back, the
tokens kept as `deskmail auth login` keeps them; a replayed or unknown answer refused."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from playwright.sync_api import expect

from deskmail.auth.tokens import job_tokens
from deskmail.jobs.catalog import JobCatalog
from deskmail.jobs.running import load_one
from deskmail.store.accounts import Role
from deskmail.store.sealing import SECRET_KEY_ENV
from tests.support.identity import IdentityPlatform, identity_platform, jwt_claims
from tests.web.conftest import LiveWeb


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_KEY_ENV, Fernet.generate_key().decode())


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[IdentityPlatform]:
    directory = tmp_path / "identity"
    directory.mkdir()
    with identity_platform(directory) as running:
        yield running


def _delegated_job(web: LiveWeb, platform: IdentityPlatform, client_id: str) -> dict[str, Any]:
    table = {
        "name": "Graph desk",
        "protocol": "imap",
        "server": "127.0.0.1",
        "user": "support@contoso.example",
        "auth_mechanism": "xoauth2",
        "oauth2": {
            "tenant": platform.tenant,
            "client_id": client_id,
            "authority": platform.url,
            "ca_file": str(platform.ca_file),
            "flow": "delegated",
        },
    }
    made = web.api(Role.ADMIN).post("/api/v1/jobs", json=table)
    assert made.status_code == 201, made.text
    return table


def test_sign_in_with_microsoft_keeps_the_tokens(web: LiveWeb, platform: IdentityPlatform) -> None:
    from deskmail.web.security.sessions import COOKIE

    app = platform.register(public=True)
    _delegated_job(web, platform, app.client_id)
    assert web._browser is not None
    # The fake identity platform's certificate is its own: trusted for this context only.
    context = web._browser().new_context(base_url=web.url, ignore_https_errors=True)
    web._contexts.append(context)
    context.add_cookies([{"name": COOKIE, "value": web.session_cookie(Role.ADMIN), "url": web.url}])
    page = context.new_page()
    page.goto("/jobs/Graph desk/edit")
    page.get_by_role("link", name="Sign in with Microsoft").click()
    expect(page.get_by_role("status")).to_contain_text("signed in as agent@contoso.example")
    assert platform.grant_types == ["authorization_code"]

    catalog = JobCatalog(web.config, web.store)
    job = load_one(catalog, catalog.stored_rows({"Graph desk"})[0])
    tokens = job_tokens(job, web.store)
    assert tokens is not None
    assert jwt_claims(tokens.token())["email"] == "agent@contoso.example"


def test_an_unknown_or_replayed_answer_is_refused(web: LiveWeb, platform: IdentityPlatform) -> None:
    app = platform.register(public=True)
    _delegated_job(web, platform, app.client_id)
    client = web.browser_client(Role.ADMIN)
    started = client.get("/jobs/Graph desk/sign-in")
    assert started.status_code == 303
    location = started.headers["location"]
    assert location.startswith(platform.url) and "code_challenge_method=S256" in location
    state = re.search(r"[?&]state=([^&]+)", location)
    assert state is not None
    anonymous = web.client()
    forged = anonymous.post("/jobs/sign-in/callback", data={"code": "x", "state": "guessed"})
    assert forged.status_code == 400 and "unknown or has expired" in forged.text
    # A wrong code for the right state: the provider refuses it; the state is spent.
    wrong = anonymous.post("/jobs/sign-in/callback", data={"code": "x", "state": state.group(1)})
    assert wrong.status_code == 502 and "sign-in failed" in wrong.text
    again = anonymous.post("/jobs/sign-in/callback", data={"code": "x", "state": state.group(1)})
    assert again.status_code == 400


def test_sign_in_needs_an_admin_and_a_delegated_job(web: LiveWeb) -> None:
    assert web.browser_client(Role.VIEWER).get("/jobs/Support/sign-in").status_code == 403
    refused = web.browser_client(Role.ADMIN).get("/jobs/Support/sign-in")
    assert refused.status_code == 409 and "without a person" in refused.text
    assert web.browser_client(Role.ADMIN).get("/jobs/Nope/sign-in").status_code == 404


def test_sign_in_with_another_issuer_comes_back_in_the_query(
    web: LiveWeb, platform: IdentityPlatform
) -> None:
    """Authlib (auth/person.py): the answer is a redirect to the callback with code and state."""
    from deskmail.web.security.sessions import COOKIE

    app = platform.register(public=True)
    table = {
        "name": "Other desk",
        "protocol": "imap",
        "server": "127.0.0.1",
        "user": "support@contoso.example",
        "auth_mechanism": "xoauth2",
        "oauth2": {
            "provider": "generic",
            "client_id": app.client_id,
            "authorization_endpoint": platform.endpoint("authorize"),
            "token_endpoint": platform.endpoint("token"),
            "ca_file": str(platform.ca_file),
            "flow": "delegated",
            "scopes": ["https://outlook.office365.com/IMAP.AccessAsUser.All", "offline_access"],
        },
    }
    assert web.api(Role.ADMIN).post("/api/v1/jobs", json=table).status_code == 201
    assert web._browser is not None
    context = web._browser().new_context(base_url=web.url, ignore_https_errors=True)
    web._contexts.append(context)
    context.add_cookies([{"name": COOKIE, "value": web.session_cookie(Role.ADMIN), "url": web.url}])
    page = context.new_page()
    page.goto("/jobs/Other desk/edit")
    page.get_by_role("link", name="Sign in with the identity provider").click()
    expect(page.get_by_role("status")).to_contain_text("Other desk: signed in")
    assert platform.grant_types == ["authorization_code"]
    catalog = JobCatalog(web.config, web.store)
    job = load_one(catalog, catalog.stored_rows({"Other desk"})[0])
    tokens = job_tokens(job, web.store)
    assert tokens is not None
    assert jwt_claims(tokens.token())["email"] == "agent@contoso.example"


def test_a_sign_in_started_on_one_front_end_finishes_on_another(
    web_factory: Callable[..., LiveWeb], platform: IdentityPlatform
) -> None:
    """Two `deskmail web` on one database: the provider's answer lands on the other one."""
    first = web_factory()
    second = web_factory(users=False)  # the same configuration and database
    app = platform.register(public=True)
    _delegated_job(first, platform, app.client_id)
    started = first.browser_client(Role.ADMIN).get("/jobs/Graph desk/sign-in")
    assert started.status_code == 303
    # The person signs in at the identity platform, which answers to the callback
    # the sign-in named; here the answer is sent to the second front end instead.
    with httpx.Client(verify=str(platform.ca_file)) as browser:
        answered = browser.get(started.headers["location"])
    assert answered.status_code == 200, answered.text
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', answered.text))
    assert {"code", "state"} <= set(fields)
    finished = second.client().post("/jobs/sign-in/callback", data=fields)
    assert finished.status_code == 200, finished.text
    assert "signed in as agent@contoso.example" in finished.text
    catalog = JobCatalog(second.config, second.store)
    job = load_one(catalog, catalog.stored_rows({"Graph desk"})[0])
    tokens = job_tokens(job, second.store)
    assert tokens is not None
    assert jwt_claims(tokens.token())["email"] == "agent@contoso.example"
    # Single use, on either front end.
    assert first.client().post("/jobs/sign-in/callback", data=fields).status_code == 400
    assert second.client().post("/jobs/sign-in/callback", data=fields).status_code == 400


def test_a_pending_sign_in_is_sealed_single_use_and_expires(web: LiveWeb) -> None:
    from datetime import timedelta

    from cryptography.fernet import MultiFernet
    from sqlalchemy import select, update

    from deskmail.store.models import PendingSignIn, utcnow
    from deskmail.web.sign_ins import PendingSignIns

    keys = Fernet(Fernet.generate_key())
    pending = PendingSignIns(web.store, lambda: MultiFernet([keys]))
    flow = {"state": "s1", "code_verifier": "verifier-secret", "auth_uri": "https://x"}
    pending.add("Desk", "admin-user", flow)
    pending.add("Desk", "admin-user", flow | {"state": "s2"})
    with web.store.session() as session:
        rows = session.scalars(select(PendingSignIn)).all()
    assert len(rows) == 2
    assert all("verifier-secret" not in row.sealed and row.state_hash != "s1" for row in rows)
    taken = pending.take("s1")
    assert taken is not None and taken.flow == flow and taken.started_by == "admin-user"
    assert pending.take("s1") is None
    with web.store.transaction() as session:
        session.execute(update(PendingSignIn).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert pending.take("s2") is None
