"""Microsoft's client-credentials grant with a client secret: one form POST over httpx.

msal does this too, but importing msal imports requests, urllib3 and
charset_normalizer (msal.managed_identity, at import time, whatever http_client
msal is given) and xml.etree (its WS-Trust support). Measured on the 1,000-mail
benchmark, the import alone raises a run's peak RSS by 6.3 MiB (82.0 -> 88.3,
two runs each; one by one in a Graph process: charset_normalizer 2.6, urllib3
1.0, requests 0.7, xml.etree 0.5, msal's own modules 1.0): nearly three times
the 2.1-2.5 MiB by which a Graph run's peak (84.1-84.5) still exceeds the IMAP
run's (82.0; README "Performance"). With a secret
the grant is one request (RFC 6749 4.4, on the endpoint the tenant's OpenID
configuration names), so this module fills that gap for the commonest job; a
certificate's signed assertion and every delegated flow stay with msal
(microsoft.py).
"""

from __future__ import annotations

import json
import time
import urllib.parse
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from deskmail.auth.cache import TokenCache
from deskmail.auth.failures import refusal, unreachable
from deskmail.config.oauth2 import OAuth2Config
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.https import https_client

# A token this close to its expiry is renewed (msal's margin too): a pass must not
# start on a token that dies half-way through it.
RENEW_BEFORE = 300.0
DEFAULT_LIFETIME = 3599.0  # seconds, when an answer leaves expires_in out (as msal assumes)


@dataclass(frozen=True, slots=True)
class HeldToken:
    access_token: str
    expires_on: float  # epoch seconds
    target: str  # the scopes asked for, space-separated


class ClientSecretSignIn:
    """An application's tokens from Microsoft's identity platform, kept in `cache`."""

    def __init__(
        self,
        oauth2: OAuth2Config,
        scopes: list[str],
        cache: TokenCache,
        *,
        secret: str,
        ca_file: Path | None,
        timeout: float,
        sign_in_hint: str,
    ) -> None:
        self._oauth2 = oauth2
        self._target = " ".join(scopes)
        self._cache = cache
        self._secret = secret
        self._ca_file = ca_file
        self._timeout = timeout
        self.sign_in_hint = sign_in_hint
        self.server = urllib.parse.urlsplit(oauth2.authority_url).netloc

    def token(self, *, fresh: bool = False) -> str:
        with self._cache.lock:
            held = self._held()
            if held is None or fresh or held.expires_on - RENEW_BEFORE <= time.time():
                held = self._request()
                self._cache.save(json.dumps(asdict(held)))
            return held.access_token

    def cached_tokens(self) -> dict[str, list[dict[str, Any]]]:
        """What this process holds, in msal's shape, for auth status (never the token)."""
        held = self._held()
        found = [{"expires_on": str(int(held.expires_on)), "target": held.target}] if held else []
        return {"AccessToken": found, "RefreshToken": [], "Account": []}

    def _held(self) -> HeldToken | None:
        text = self._cache.load()
        if not text:
            return None
        try:
            held = HeldToken(**json.loads(text))
        except (TypeError, ValueError):  # msal's, before the job's credential became a secret
            return None
        return held if held.target == self._target else None

    def _request(self) -> HeldToken:
        with https_client(self._ca_file, True, self.server, self._timeout) as http:
            try:
                configuration = self._answer(
                    http.get(f"{self._oauth2.authority_url}/v2.0/.well-known/openid-configuration")
                )
                endpoint = configuration.get("token_endpoint")
                if not isinstance(endpoint, str) or not endpoint.startswith("https://"):
                    raise SourceError(
                        Step.IDENTITY,
                        "the OpenID configuration names no HTTPS token endpoint",
                        server=self.server,
                    )
                asked = time.time()
                answer = self._answer(
                    http.post(
                        endpoint,
                        data={
                            "grant_type": "client_credentials",
                            "client_id": self._oauth2.client_id,
                            "client_secret": self._secret,
                            "scope": self._target,
                        },
                    )
                )
            except httpx.HTTPError as exc:
                raise unreachable(exc, self.server) from None
        token = answer.get("access_token")
        if not isinstance(token, str):
            raise refusal(answer, self.server, self.sign_in_hint)
        lifetime = float(answer.get("expires_in") or DEFAULT_LIFETIME)
        return HeldToken(token, asked + lifetime, self._target)

    def _answer(self, response: httpx.Response) -> dict[str, Any]:
        """The JSON object answered; an error answer named by its step."""
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise SourceError(
                Step.IDENTITY,
                f"the identity provider answered {response.status_code} without JSON"
                f" ({response.url.path})",
                server=self.server,
            )
        if response.status_code >= 400 or "error" in answer:
            raise refusal(answer, self.server, self.sign_in_hint)
        return answer
