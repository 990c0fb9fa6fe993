"""Other OAuth2 issuers through Authlib: client credentials at a token endpoint."""

from __future__ import annotations

import time
import urllib.parse
from pathlib import Path
from typing import Any

from deskmail.auth.authlib_calls import fetched_token, oauth2_session
from deskmail.config.oauth2 import OAuth2Config


class GenericSignIn:
    """App-only tokens from an issuer's token endpoint, kept in memory until they expire."""

    def __init__(
        self,
        oauth2: OAuth2Config,
        scopes: list[str],
        *,
        secret: str | None,
        ca_file: Path | None,
        timeout: float,
        sign_in_hint: str,
    ) -> None:
        endpoint = oauth2.effective_token_endpoint
        assert endpoint is not None  # the configuration requires it for generic
        self._endpoint = endpoint
        self._oauth2 = oauth2
        self._scopes = scopes
        self._secret = secret
        self._ca_file = ca_file
        self._timeout = timeout
        self.sign_in_hint = sign_in_hint
        self.server = urllib.parse.urlsplit(endpoint).netloc
        self._token: dict[str, Any] | None = None

    def token(self, *, fresh: bool = False) -> str:
        held = self._token
        if not fresh and held is not None and held.get("expires_at", 0) > time.time() + 60:
            return str(held["access_token"])
        session = oauth2_session(self._oauth2.client_id, self._secret, self._scopes, self._ca_file)
        token = fetched_token(
            lambda: session.fetch_token(
                self._endpoint, grant_type="client_credentials", timeout=self._timeout
            ),
            self.server,
            self.sign_in_hint,
        )
        self._token = token
        return str(token["access_token"])
