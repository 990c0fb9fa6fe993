"""Google (Gmail, Workspace) through Authlib: a person signs in once from the terminal with
the loopback redirect and PKCE (Google's device flow does not allow the mail scope); the
refresh token is kept sealed in the database and spent for each new access token."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from deskmail.auth.authlib_calls import fetched_token, oauth2_session
from deskmail.auth.cache import TokenCache
from deskmail.auth.failures import refusal
from deskmail.config.oauth2 import GOOGLE_AUTHORIZATION_ENDPOINT, OAuth2Config
from deskmail.sources.errors import SourceError, Step

SIGN_IN_WAIT = 600.0  # seconds the terminal waits for the browser's redirect


class GoogleSignIn:
    """Tokens for one job from Google's token endpoint, the refresh token in the sealed cache."""

    def __init__(
        self,
        oauth2: OAuth2Config,
        scopes: list[str],
        cache: TokenCache,
        *,
        secret: str | None,
        ca_file: Path | None,
        timeout: float,
        sign_in_hint: str,
    ) -> None:
        endpoint = oauth2.effective_token_endpoint
        assert endpoint is not None  # Google's default when not configured
        self._endpoint = endpoint
        self._oauth2 = oauth2
        self._scopes = scopes
        self._store = cache
        self._secret = secret
        self._ca_file = ca_file
        self._timeout = timeout
        self.sign_in_hint = sign_in_hint
        self.server = urllib.parse.urlsplit(endpoint).netloc

    def _session(self, **options: Any) -> Any:
        return oauth2_session(
            self._oauth2.client_id, self._secret, self._scopes, self._ca_file, **options
        )

    def _calling(self, call: Callable[[], Any]) -> dict[str, Any]:
        return fetched_token(call, self.server, self.sign_in_hint)

    def token(self, *, fresh: bool = False) -> str:
        with self._store.lock:
            return self._token(fresh)

    def _token(self, fresh: bool) -> str:
        stored = self._load()
        if stored is None:
            raise SourceError(
                Step.SIGN_IN,
                "nobody has signed in for this job yet",
                server=self.server,
                hint=self.sign_in_hint,
            )
        if not fresh and float(stored.get("expires_at", 0)) > time.time() + 60:
            return str(stored["access_token"])
        refresh = stored.get("refresh_token")
        if not refresh:
            raise SourceError(
                Step.SIGN_IN,
                "the sign-in holds no refresh token",
                server=self.server,
                hint=self.sign_in_hint,
            )
        session = self._session()
        token = self._calling(
            lambda: session.refresh_token(
                self._endpoint, refresh_token=refresh, timeout=self._timeout
            )
        )
        token.setdefault("refresh_token", refresh)  # Google keeps it unless it rotates
        self._save(token)
        return str(token["access_token"])

    def interactive_sign_in(self, show: Callable[[str], None]) -> dict[str, Any]:
        """The loopback redirect with PKCE: `show` gets the URL to open; waits for the browser."""
        from authlib.common.security import generate_token

        arrived: dict[str, str] = {}
        done = threading.Event()

        class Redirect(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                arrived.update({key: values[0] for key, values in query.items()})
                body = b"deskmail: signed in; you may close this page.\n"
                if "code" not in arrived:
                    body = b"deskmail: the sign-in did not complete; see the terminal.\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                done.set()

            def log_message(self, format: str, *args: Any) -> None:  # the code is in the URL
                pass

        listener = HTTPServer(("127.0.0.1", 0), Redirect)
        port = int(listener.server_address[1])
        redirect_uri = f"http://127.0.0.1:{port}/"
        verifier = generate_token(64)
        session = self._session(redirect_uri=redirect_uri, code_challenge_method="S256")
        endpoint = self._oauth2.authorization_endpoint or GOOGLE_AUTHORIZATION_ENDPOINT
        url, state = session.create_authorization_url(
            endpoint, code_verifier=verifier, access_type="offline", prompt="consent"
        )
        waiter = threading.Thread(target=listener.serve_forever, daemon=True)
        waiter.start()
        try:
            show(
                "Open this URL in a browser on this machine (from another machine, first"
                f" `ssh -L {port}:127.0.0.1:{port}` to this one):\n{url}"
            )
            if not done.wait(SIGN_IN_WAIT):
                raise SourceError(Step.SIGN_IN, "no sign-in arrived in time", server=self.server)
        finally:
            listener.shutdown()
            listener.server_close()
        if arrived.get("state") != state:
            raise SourceError(
                Step.SIGN_IN, "the redirect's state does not match this sign-in", server=self.server
            )
        if "code" not in arrived:
            raise refusal(arrived, self.server, self.sign_in_hint)
        token = self._calling(
            lambda: session.fetch_token(
                self._endpoint,
                grant_type="authorization_code",
                code=arrived["code"],
                code_verifier=verifier,
                timeout=self._timeout,
            )
        )
        self._save(token)
        return {}

    def _load(self) -> dict[str, Any] | None:
        text = self._store.load()
        return json.loads(text) if text else None

    def _save(self, token: dict[str, Any]) -> None:
        if "expires_at" not in token and "expires_in" in token:
            token["expires_at"] = time.time() + float(token["expires_in"])
        kept = {
            k: token[k]
            for k in ("access_token", "refresh_token", "expires_at", "scope")
            if k in token
        }
        self._store.save(json.dumps(kept))
