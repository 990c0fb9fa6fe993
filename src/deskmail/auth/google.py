"""Google (Gmail, Workspace) through Authlib: a person signs in once from the terminal with
the loopback redirect and PKCE (Google's device flow does not allow the mail scope)."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from deskmail.auth.cache import StoredTokenCache
from deskmail.auth.person import Endpoints, PersonSignIn
from deskmail.config.oauth2 import GOOGLE_AUTHORIZATION_ENDPOINT, OAuth2Config


def google_sign_in(
    oauth2: OAuth2Config,
    scopes: list[str],
    cache: StoredTokenCache,
    *,
    secret: str | None,
    ca_file: Path | None,
    timeout: float,
    sign_in_hint: str,
) -> PersonSignIn:
    """Tokens for one job from Google's token endpoint, the refresh token in the sealed cache."""
    token = oauth2.effective_token_endpoint
    assert token is not None  # Google's default when not configured
    endpoints = Endpoints(
        token=token,
        authorization=oauth2.authorization_endpoint or GOOGLE_AUTHORIZATION_ENDPOINT,
        # A refresh token only with offline access, and again at each consent.
        authorize_params={"access_type": "offline", "prompt": "consent"},
    )
    return PersonSignIn(
        oauth2.client_id,
        scopes,
        cache,
        lambda: endpoints,
        server=urllib.parse.urlsplit(token).netloc,
        secret=secret,
        ca_file=ca_file,
        timeout=timeout,
        sign_in_hint=sign_in_hint,
    )
