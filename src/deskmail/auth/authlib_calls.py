"""Authlib's OAuth2 session as deskmail sets it up, and its failures named by step.

Shared by the issuers Authlib serves (google.py, generic.py); msal serves Microsoft.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from deskmail.auth.failures import refusal, unreachable
from deskmail.sources.errors import SourceError, Step


def oauth2_session(
    client_id: str, secret: str | None, scopes: list[str], ca_file: Path | None, **options: Any
) -> Any:
    """An Authlib OAuth2Session that posts the client secret (if any) and trusts `ca_file` (or the
    system's CAs), whatever REQUESTS_CA_BUNDLE says."""
    from authlib.integrations.requests_client import OAuth2Session

    session = OAuth2Session(
        client_id,
        secret,
        scope=" ".join(scopes) or None,
        # A public client (a person's sign-in without a secret) only names itself.
        token_endpoint_auth_method="client_secret_post" if secret else "none",
        **options,
    )
    session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
    session.verify = str(ca_file) if ca_file else True
    return session


def fetched_token(call: Callable[[], Any], server: str, sign_in_hint: str) -> dict[str, Any]:
    """The token `call` gets from the token endpoint; a refusal or an unreachable endpoint
    raised as SourceError naming the step."""
    from authlib.integrations.requests_client import OAuthError
    from requests import RequestException

    try:
        token: dict[str, Any] = dict(call())
    except OAuthError as exc:
        answer = {"error": exc.error, "error_description": exc.description or ""}
        raise refusal(answer, server, sign_in_hint) from None
    except RequestException as exc:
        raise unreachable(exc, server) from None
    if "access_token" not in token:
        raise SourceError(
            Step.IDENTITY, "the token endpoint answered without a token", server=server
        )
    return token
