"""A person's sign-in through Authlib (Google, any other issuer): once from the terminal, by
device code where the issuer offers it (RFC 8628), else by the loopback redirect with PKCE;
the refresh token is kept sealed in the database and spent for each new access token."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

from deskmail.auth.authlib_calls import fetched_token, oauth2_session
from deskmail.auth.cache import TokenCache
from deskmail.auth.failures import refusal, unreachable
from deskmail.sources.errors import SourceError, Step

SIGN_IN_WAIT = 600.0  # seconds the terminal waits for the browser's redirect
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where an issuer signs a person in and gives tokens (from the configuration or its
    metadata). No device endpoint: the loopback redirect."""

    token: str
    authorization: str | None = None
    device: str | None = None
    # Extra query parameters of the authorization URL (Google: offline access, consent).
    authorize_params: dict[str, str] = field(default_factory=dict)


class PersonSignIn:
    """Tokens for one job from the issuer's token endpoint, the refresh token in the sealed
    cache. `endpoints` is called once, when first needed (discovery may ask the network)."""

    def __init__(
        self,
        client_id: str,
        scopes: list[str],
        cache: TokenCache,
        endpoints: Callable[[], Endpoints],
        *,
        server: str,
        secret: str | None,
        ca_file: Path | None,
        timeout: float,
        sign_in_hint: str,
    ) -> None:
        self._client_id = client_id
        self._scopes = scopes
        self._store = cache
        self._find_endpoints = endpoints
        self._endpoints: Endpoints | None = None
        self._secret = secret
        self._ca_file = ca_file
        self._timeout = timeout
        self.sign_in_hint = sign_in_hint
        self.server = server

    @property
    def endpoints(self) -> Endpoints:
        if self._endpoints is None:
            self._endpoints = self._find_endpoints()
        return self._endpoints

    def _session(self, **options: Any) -> Any:
        return oauth2_session(self._client_id, self._secret, self._scopes, self._ca_file, **options)

    def _calling(self, call: Callable[[], Any]) -> dict[str, Any]:
        return fetched_token(call, self.server, self.sign_in_hint)

    def token(self, *, fresh: bool = False) -> str:
        if not fresh:
            with self._store.lock:
                stored = self._load()
            if stored is not None and float(stored.get("expires_at", 0)) > time.time() + 60:
                return str(stored["access_token"])
        # A refresh may rotate the refresh token: one process at a time (cache.renewing).
        with self._store.renewing():
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
                self.endpoints.token, refresh_token=refresh, timeout=self._timeout
            )
        )
        token.setdefault("refresh_token", refresh)  # kept unless the issuer rotates it
        token.setdefault("who", stored.get("who", ""))
        self._save(token)
        return str(token["access_token"])

    def interactive_sign_in(self, show: Callable[[str], None]) -> dict[str, Any]:
        """A person signs in: `show` gets what to open (and the code); waits for them.
        Returns the claims of the id token, if the issuer gave one."""
        if self.endpoints.device is not None:
            token = self._device_sign_in(self.endpoints.device, show)
        else:
            token = self._loopback_sign_in(show)
        claims = _id_claims(token)
        token["who"] = claims.get("preferred_username") or claims.get("email") or ""
        self._save(token)
        return claims

    def start_web_sign_in(self, redirect_uri: str) -> dict[str, Any]:
        """The web UI's "Sign in" (a seam, as MicrosoftSignIn's): the authorization-code
        flow with PKCE. Send the person to flow["auth_uri"]; keep the flow (its verifier)
        on the server side; the answer comes back to `redirect_uri` in the query."""
        from authlib.common.security import generate_token

        authorization = self._authorization_endpoint()
        verifier = generate_token(64)
        session = self._session(redirect_uri=redirect_uri, code_challenge_method="S256")
        url, state = session.create_authorization_url(
            authorization, code_verifier=verifier, **self.endpoints.authorize_params
        )
        return {
            "auth_uri": url,
            "state": state,
            "code_verifier": verifier,
            "redirect_uri": redirect_uri,
        }

    def finish_web_sign_in(self, flow: dict[str, Any], answer: dict[str, str]) -> dict[str, Any]:
        """The answer of the sign-in page (code, state): tokens kept, the person's claims."""
        if answer.get("state") != flow["state"]:
            raise SourceError(
                Step.SIGN_IN, "the answer's state does not match this sign-in", server=self.server
            )
        if "code" not in answer:
            raise refusal(answer, self.server, self.sign_in_hint)
        session = self._session(redirect_uri=flow["redirect_uri"], code_challenge_method="S256")
        token = self._calling(
            lambda: session.fetch_token(
                self.endpoints.token,
                grant_type="authorization_code",
                code=answer["code"],
                code_verifier=flow["code_verifier"],
                timeout=self._timeout,
            )
        )
        claims = _id_claims(token)
        token["who"] = claims.get("preferred_username") or claims.get("email") or ""
        self._save(token)
        return claims

    def _authorization_endpoint(self) -> str:
        authorization = self.endpoints.authorization
        if authorization is None:
            raise SourceError(
                Step.SIGN_IN,
                "the issuer offers neither a device code nor a sign-in page",
                server=self.server,
                hint="set oauth2.authorization_endpoint (or oauth2.issuer, whose metadata"
                " names it)",
            )
        return authorization

    def saved(self) -> dict[str, Any] | None:
        """What the sign-in keeps (tokens included: for auth status, which shows none)."""
        with self._store.lock:
            return self._load()

    def _device_sign_in(self, endpoint: str, show: Callable[[str], None]) -> dict[str, Any]:
        """RFC 8628: a code the person enters in any browser, the token endpoint polled."""
        from requests import RequestException

        session = self._session()
        asked = {"client_id": self._client_id, "scope": " ".join(self._scopes)}
        try:
            answer = session.post(endpoint, data=asked, timeout=self._timeout, withhold_token=True)
            flow: dict[str, Any] = answer.json()
        except RequestException as exc:
            raise unreachable(exc, self.server) from None
        except ValueError:
            flow = {}
        if "device_code" not in flow:
            flow.setdefault(
                "error", f"the device authorization endpoint answered {answer.status_code}"
            )
            raise refusal(flow, self.server, self.sign_in_hint)
        show(
            f"Open {flow.get('verification_uri_complete') or flow['verification_uri']}"
            f" in a browser and enter the code {flow['user_code']}"
        )
        interval = float(flow.get("interval", 5))
        deadline = time.monotonic() + float(flow.get("expires_in", SIGN_IN_WAIT))
        while time.monotonic() < deadline:
            time.sleep(interval)
            try:
                return self._calling(
                    lambda: session.fetch_token(
                        self.endpoints.token,
                        grant_type=DEVICE_CODE_GRANT,
                        device_code=flow["device_code"],
                        timeout=self._timeout,
                    )
                )
            except SourceError as exc:
                error = exc.detail.split(":")[0]
                if error == "slow_down":
                    interval += 5
                elif error != "authorization_pending":
                    raise
        raise SourceError(Step.SIGN_IN, "no sign-in arrived in time", server=self.server)

    def _loopback_sign_in(self, show: Callable[[str], None]) -> dict[str, Any]:
        """The loopback redirect with PKCE: the browser comes back to a local port."""
        from authlib.common.security import generate_token

        authorization = self._authorization_endpoint()
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
        url, state = session.create_authorization_url(
            authorization, code_verifier=verifier, **self.endpoints.authorize_params
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
        return self._calling(
            lambda: session.fetch_token(
                self.endpoints.token,
                grant_type="authorization_code",
                code=arrived["code"],
                code_verifier=verifier,
                timeout=self._timeout,
            )
        )

    def _load(self) -> dict[str, Any] | None:
        text = self._store.load()
        return json.loads(text) if text else None

    def _save(self, token: dict[str, Any]) -> None:
        if "expires_at" not in token and "expires_in" in token:
            token["expires_at"] = time.time() + float(token["expires_in"])
        kept = {
            k: token[k]
            for k in ("access_token", "refresh_token", "expires_at", "scope", "who")
            if k in token
        }
        self._store.save(json.dumps(kept))


def _id_claims(token: dict[str, Any]) -> dict[str, Any]:
    """The id token's claims, to say who signed in. Unverified: it came straight from the
    token endpoint over TLS (OpenID Connect Core 3.1.3.7), and nothing is decided on it."""
    try:
        payload = str(token["id_token"]).split(".")[1]
        claims: dict[str, Any] = json.loads(
            base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        )
    except (KeyError, IndexError, ValueError):
        return {}
    return claims
