"""A job's OAuth2 access tokens, as sources.base.BearerTokens.

A minimal client-credentials client for the [jobs.oauth2] table (app-only,
with a client secret), kept in memory for the process. It is the seam where
the auth package's token source (msal, the encrypted token cache, delegated
sign-in) plugs in.
"""

from __future__ import annotations

import time

from deskmail.config.models import JobConfig
from deskmail.config.secrets import resolve_client_secret
from deskmail.sources.base import BearerTokens
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.tls import verifying_context

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
_EARLY = 120.0  # seconds before its expiry a token is renewed


def job_tokens(job: JobConfig) -> BearerTokens | None:
    """The job's token source, or None when it does not sign in with OAuth2."""
    if job.oauth2 is None:
        return None
    return ClientCredentials(job)


class ClientCredentials:
    """Tokens for the app itself (client credentials grant), renewed before expiry."""

    def __init__(self, job: JobConfig) -> None:
        assert job.oauth2 is not None
        self._job = job
        self._oauth2 = job.oauth2
        self._endpoint = f"{job.oauth2.authority}/{job.oauth2.tenant}/oauth2/v2.0/token"
        self._token: str | None = None
        self._expires = 0.0

    def token(self) -> str:
        if self._token is None or time.monotonic() > self._expires - _EARLY:
            self._token = self._request()
        return self._token

    def refused(self, token: str) -> str:
        if token == self._token:
            self._token = None
        return self.token()

    def _request(self) -> str:
        import httpx

        secret = resolve_client_secret(self._job)
        server = self._endpoint.removeprefix("https://").split("/", 1)[0]
        form = {
            "grant_type": "client_credentials",
            "client_id": self._oauth2.client_id,
            "client_secret": secret or "",
            "scope": " ".join(self._oauth2.scopes or [GRAPH_SCOPE]),
        }
        context = verifying_context(
            self._job.ca_file, self._job.reject_invalid_certificates, server
        )
        try:
            with httpx.Client(verify=context, trust_env=False, timeout=30.0) as client:
                response = client.post(self._endpoint, data=form)
        except httpx.HTTPError as exc:
            raise SourceError(
                Step.AUTHENTICATION,
                f"identity platform unreachable: {type(exc).__name__}",
                server=server,
            ) from exc
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code != 200 or "access_token" not in answer:
            error = str(answer.get("error", response.status_code))
            raise SourceError(
                Step.AUTHENTICATION,
                f"the identity platform refused the client id or secret ({error})",
                server=server,
            )
        self._expires = time.monotonic() + float(answer.get("expires_in", 3600))
        return str(answer["access_token"])
