"""The web tests' fixtures: the real application served by uvicorn on a random loopback
port (on SQLite and on PostgreSQL), a user per role, API clients with tokens, and
Debian's Chromium driven by Playwright.

    def test_x(web: LiveWeb) -> None:                      # the server
        client = web.api(Role.AGENT)                       # httpx client with a token
        page = web.page(Role.ADMIN)                        # a logged-in browser page

Browser: /usr/bin/chromium (scripts/system-deps.sh installs it), never a
downloaded one. Without it the browser tests are skipped, or FAIL under CI=true.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from deskmail.config.files import load_configuration
from deskmail.config.models import DeskmailConfig
from deskmail.store.accounts import Role
from deskmail.store.engine import Store
from deskmail.store.migrate import upgrade
from tests.support.jobs import maildir_config

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery staple"  # every test user's password


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    name: str
    role: Role
    password: str = PASSWORD


@dataclass
class LiveWeb:
    """A running deskmail web server and what the tests need around it."""

    url: str
    config: DeskmailConfig
    store: Store
    mailbox: Path
    accounts: dict[Role, Account]
    _browser: Callable[[], Any] | None = None  # pytest-playwright's browser, on first use
    _clients: list[httpx.Client] = field(default_factory=list)
    _contexts: list[Any] = field(default_factory=list)

    def client(self, **options: Any) -> httpx.Client:
        """An HTTP client on the server, without credentials (it keeps cookies)."""
        made = httpx.Client(base_url=self.url, follow_redirects=False, timeout=30, **options)
        self._clients.append(made)
        return made

    def token(self, role: Role, label: str = "tests") -> str:
        from deskmail.web.accounts import user_by_id
        from deskmail.web.security.tokens import create_token

        owner = user_by_id(self.store, self.accounts[role].id)
        return create_token(self.store, owner, label, role, None).secret

    def api(self, role: Role) -> httpx.Client:
        """A client of the API with a bearer token of the user of that role."""
        return self.client(headers={"Authorization": f"Bearer {self.token(role)}"})

    def session_cookie(self, role: Role) -> str:
        """A live session of that role's user, as the login page would open it."""
        from deskmail.web.security.sessions import open_session

        return open_session(self.store, self.accounts[role].id, "127.0.0.1")

    def browser_client(self, role: Role) -> httpx.Client:
        """A client with a logged-in session and a CSRF cookie + header, like a page's."""
        from deskmail.web.security.sessions import COOKIE

        client = self.client()
        client.cookies.set(COOKIE, self.session_cookie(role))
        client.get("/login")  # sets the csrftoken cookie
        client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
        return client

    def page(
        self, role: Role | None = None, *, bypass_csp: bool = False, javascript: bool = True
    ) -> Any:
        """A Chromium page; logged in as the user of `role` (by a session cookie) if given.

        bypass_csp only for accessibility checks (axe is injected as a script);
        javascript=False: a browser that runs no script at all.
        """
        assert self._browser is not None
        context = self._browser().new_context(
            base_url=self.url, bypass_csp=bypass_csp, java_script_enabled=javascript
        )
        self._contexts.append(context)
        if role is not None:
            from deskmail.web.security.sessions import COOKIE

            context.add_cookies(
                [{"name": COOKIE, "value": self.session_cookie(role), "url": self.url}]
            )
        return context.new_page()

    def close(self) -> None:
        for client in self._clients:
            client.close()
        for context in self._contexts:
            context.close()


@functools.cache
def _password_hash() -> str:
    from deskmail.web.security.passwords import hash_password

    return hash_password(PASSWORD)  # argon2id takes a while: once per test process


def _add_accounts(store: Store) -> dict[Role, Account]:
    from deskmail.store.accounts import WebUser

    made = {}
    with store.transaction() as session:
        for role in Role:
            user = WebUser(name=f"{role.value}-user", role=role, password_hash=_password_hash())
            session.add(user)
            session.flush()
            made[role] = Account(user.id, user.name, role)
    return made


@pytest.fixture
def web_factory(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., LiveWeb]]:
    """Start a server: web_factory(users=True, web={"key": value}, **job_settings).

    `web`: a [web] table to add to the configuration file."""
    from deskmail.web.app import create_app
    from deskmail.web.server import WebServer

    started: list[tuple[LiveWeb, WebServer]] = []

    def start(
        *, users: bool = True, web: dict[str, Any] | None = None, **job_settings: Any
    ) -> LiveWeb:
        path, mailbox = maildir_config(tmp_path, database_url, **job_settings)
        if web is not None:
            with path.open("a", encoding="utf-8") as file:
                file.write("\n".join(["", "[web]", *(f"{k} = {v!r}" for k, v in web.items())]))
        upgrade(database_url)
        config = load_configuration(path)
        store = Store(config.database.url, config.storage.attachments_dir, path)
        accounts = _add_accounts(store) if users else {}
        app = create_app(config, store)
        server = WebServer(app, app.state.deskmail.web, port=0)
        server.start()
        live = LiveWeb(server.url, config, store, mailbox, accounts)
        live._browser = lambda: request.getfixturevalue("browser")
        started.append((live, server))
        return live

    yield start
    for live, server in started:
        live.close()
        server.stop()
        live.store.dispose()


@pytest.fixture
def web(web_factory: Callable[..., LiveWeb]) -> LiveWeb:
    """A server with a user per role (admin-user, agent-user, viewer-user)."""
    return web_factory()


# ---- the browser: Debian's Chromium through pytest-playwright ---------------------------


def _need_chromium() -> None:
    if shutil.which(CHROMIUM) is None:
        message = f"{CHROMIUM} is missing: run scripts/system-deps.sh (Debian's chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    _need_chromium()
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        # As root Chromium needs --no-sandbox; the rest keeps it off the network.
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
        ],
    }
