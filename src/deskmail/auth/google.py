"""Google (Gmail, Workspace): a person signs in once from the terminal (person.py) with the
loopback redirect and PKCE, since Google's device flow does not allow the mail scope."""

from __future__ import annotations

from collections.abc import Callable

from deskmail.auth.person import Endpoints
from deskmail.config.oauth2 import GOOGLE_AUTHORIZATION_ENDPOINT, OAuth2Config


def google_endpoints(oauth2: OAuth2Config) -> Callable[[], Endpoints]:
    """Google's endpoints, or those the table sets instead."""
    token = oauth2.effective_token_endpoint
    assert token is not None  # Google's default when not configured
    endpoints = Endpoints(
        token=token,
        authorization=oauth2.authorization_endpoint or GOOGLE_AUTHORIZATION_ENDPOINT,
        # A refresh token only with offline access, and again at each consent.
        authorize_params={"access_type": "offline", "prompt": "consent"},
    )
    return lambda: endpoints
