"""Other OAuth2 issuers through Authlib: client credentials at a token endpoint."""

from __future__ import annotations

import time
import urllib.parse
from pathlib import Path
from typing import Any

from deskmail.auth.failures import refusal, unreachable
from deskmail.config.oauth2 import OAuth2Config
from deskmail.sources.errors import SourceError, Step


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
        from authlib.integrations.requests_client import OAuth2Session, OAuthError
        from requests import RequestException

        session = OAuth2Session(
            self._oauth2.client_id,
            self._secret,
            scope=" ".join(self._scopes) or None,
            token_endpoint_auth_method="client_secret_post",
        )
        session.trust_env = False
        session.verify = str(self._ca_file) if self._ca_file else True
        try:
            token = session.fetch_token(
                self._endpoint, grant_type="client_credentials", timeout=self._timeout
            )
        except OAuthError as exc:
            answer = {"error": exc.error, "error_description": exc.description or ""}
            raise refusal(answer, self.server, self.sign_in_hint) from None
        except RequestException as exc:
            raise unreachable(exc, self.server) from None
        if "access_token" not in token:
            raise SourceError(
                Step.IDENTITY, "the token endpoint answered without a token", server=self.server
            )
        self._token = dict(token)
        return str(token["access_token"])
