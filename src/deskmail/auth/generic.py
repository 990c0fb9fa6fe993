"""Other OAuth2 issuers through Authlib: their endpoints, from the table or the issuer's
metadata; client credentials at the token endpoint (a person's sign-in is person.py's)."""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deskmail.auth.authlib_calls import fetched_token, oauth2_session
from deskmail.auth.failures import unreachable
from deskmail.auth.person import Endpoints
from deskmail.config.oauth2 import OAuth2Config, OAuth2Flow
from deskmail.sources.errors import SourceError, Step


def issuer_server(oauth2: OAuth2Config) -> str:
    """The identity provider's host, for messages."""
    url = oauth2.effective_token_endpoint or oauth2.issuer or ""
    return urllib.parse.urlsplit(url).netloc


def issuer_endpoints(
    oauth2: OAuth2Config, ca_file: Path | None, timeout: float
) -> Callable[[], Endpoints]:
    """The endpoints set in the table; those it leaves out from the issuer's metadata
    (OpenID Connect Discovery, else RFC 8414), asked for only when first needed."""

    def find() -> Endpoints:
        metadata: dict[str, Any] = {}
        if oauth2.issuer is not None and (
            oauth2.token_endpoint is None or oauth2.flow is OAuth2Flow.DELEGATED
        ):
            metadata = _metadata(oauth2.issuer, ca_file, timeout)
        token = oauth2.token_endpoint or metadata.get("token_endpoint")
        if not token:
            raise SourceError(
                Step.IDENTITY,
                "the issuer's metadata names no token_endpoint",
                server=issuer_server(oauth2),
                hint="set oauth2.token_endpoint",
            )
        return Endpoints(
            token=str(token),
            authorization=oauth2.authorization_endpoint or metadata.get("authorization_endpoint"),
            device=metadata.get("device_authorization_endpoint"),
        )

    return find


def _metadata(issuer: str, ca_file: Path | None, timeout: float) -> dict[str, Any]:
    from requests import RequestException

    parts = urllib.parse.urlsplit(issuer)
    places = [
        f"{issuer}/.well-known/openid-configuration",
        f"{parts.scheme}://{parts.netloc}/.well-known/oauth-authorization-server{parts.path}",
    ]
    session = oauth2_session("", None, [], ca_file)
    for place in places:
        try:
            answer = session.get(place, timeout=timeout, withhold_token=True)
        except RequestException as exc:
            raise unreachable(exc, parts.netloc) from None
        if answer.status_code == 200:
            try:
                found: dict[str, Any] = answer.json()
            except ValueError:
                continue
            return found
    raise SourceError(
        Step.IDENTITY,
        f"no OAuth2 metadata at {places[0]} nor at {places[1]}",
        server=parts.netloc,
        hint="check oauth2.issuer, or set oauth2.token_endpoint and authorization_endpoint",
    )


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
        self._endpoints = issuer_endpoints(oauth2, ca_file, timeout)
        self._endpoint: str | None = None
        self._oauth2 = oauth2
        self._scopes = scopes
        self._secret = secret
        self._ca_file = ca_file
        self._timeout = timeout
        self.sign_in_hint = sign_in_hint
        self.server = issuer_server(oauth2)
        self._token: dict[str, Any] | None = None

    def token(self, *, fresh: bool = False) -> str:
        held = self._token
        if not fresh and held is not None and held.get("expires_at", 0) > time.time() + 60:
            return str(held["access_token"])
        if self._endpoint is None:
            self._endpoint = self._endpoints().token
        endpoint = self._endpoint
        session = oauth2_session(self._oauth2.client_id, self._secret, self._scopes, self._ca_file)
        token = fetched_token(
            lambda: session.fetch_token(
                endpoint, grant_type="client_credentials", timeout=self._timeout
            ),
            self.server,
            self.sign_in_hint,
        )
        self._token = token
        return str(token["access_token"])
