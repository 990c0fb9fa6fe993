"""TLS from certificate files, and forwarded headers believed only from trusted proxies."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

from deskmail.store.accounts import Role
from deskmail.web.accounts import add_user
from deskmail.web.security.sessions import COOKIE
from tests.support.dovecot import _write_certificate
from tests.web.conftest import PASSWORD, LiveWeb


def test_tls_serves_https_with_secure_cookies_and_hsts(
    web_factory: Callable[..., LiveWeb], tmp_path: Path
) -> None:
    (tmp_path / "tls").mkdir()
    certificate, key = _write_certificate(tmp_path / "tls")
    web = web_factory(web={"tls_certificate": str(certificate), "tls_key": str(key)})
    assert web.url.startswith("https://")
    client = web.client(verify=ssl.create_default_context(cafile=certificate))
    login = client.get("/login")
    assert login.headers["strict-transport-security"].startswith("max-age=")
    assert "Secure" in login.headers["set-cookie"]  # the CSRF cookie
    client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
    signed_in = client.post(
        "/login", data={"name": web.accounts[Role.AGENT].name, "password": PASSWORD}
    )
    cookie = next(
        v for k, v in signed_in.headers.multi_items() if k == "set-cookie" and COOKIE in v
    )
    assert "Secure" in cookie and "HttpOnly" in cookie


def test_forwarded_headers_count_only_from_a_trusted_proxy(
    web_factory: Callable[..., LiveWeb],
) -> None:
    remote = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    # No trusted proxy: the headers are ignored; the client is on loopback, set-up is open.
    untrusting = web_factory(users=False)
    assert untrusting.client(headers=remote).get("/setup").status_code == 200
    # Behind a trusted proxy on loopback, the real client is the forwarded one: refused.
    behind_proxy = web_factory(users=False, web={"trusted_proxies": ["127.0.0.1"]})
    client = behind_proxy.client(headers=remote)
    refused = client.get("/setup")
    assert refused.status_code == 403
    assert "from the server itself" in refused.text
    # ... and the TLS the proxy ended counts: the session cookie is Secure.
    add_user(behind_proxy.store, "alice", Role.ADMIN, PASSWORD)
    client.get("/login")
    client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
    signed_in = client.post("/login", data={"name": "alice", "password": PASSWORD})
    assert signed_in.status_code == 303
    assert "Secure" in signed_in.headers["set-cookie"]
