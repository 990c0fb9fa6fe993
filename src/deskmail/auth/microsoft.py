"""Microsoft's identity platform through msal: app-only (secret or certificate) and delegated.

One msal application per token source, its cache loaded from and saved to the
database (cache.py) whenever a token call changed it: refresh tokens rotate.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deskmail.auth.cache import TokenCache
from deskmail.auth.certificates import load_credential
from deskmail.auth.failures import refusal, unreachable
from deskmail.config.oauth2 import OAuth2Config, OAuth2Flow
from deskmail.sources.errors import SourceError, Step

# msal logs token requests at debug level, with their bodies on some paths.
logging.getLogger("msal").setLevel(logging.WARNING)


class MicrosoftSignIn:
    """msal for one job: tokens from the cache or the identity platform."""

    def __init__(
        self,
        oauth2: OAuth2Config,
        scopes: list[str],
        cache: TokenCache,
        *,
        secret: str | None,
        certificate_password: str | None,
        ca_file: Path | None,
        timeout: float,
        sign_in_hint: str,
        over_httpx: bool = False,
    ) -> None:
        """`over_httpx`: the job's own requests go through httpx (Graph), so the token calls
        do too, sharing its TLS context, rather than requests loading its own CA bundle."""
        self._oauth2 = oauth2
        self._scopes = scopes
        self._store = cache
        self._secret = secret
        self._certificate_password = certificate_password
        self._ca_file = ca_file
        self._timeout = timeout
        self.sign_in_hint = sign_in_hint
        self.server = urllib.parse.urlsplit(oauth2.authority_url).netloc
        self._over_httpx = over_httpx
        self._app: Any = None
        self._cache: Any = None

    # ---- the msal application ----------------------------------------------------

    def _application(self) -> Any:
        if self._app is not None:
            return self._app
        import msal

        self._cache = msal.SerializableTokenCache()
        stored = self._store.load()
        if stored:
            self._cache.deserialize(stored)
        options: dict[str, Any] = {
            "authority": self._oauth2.authority_url,
            "token_cache": self._cache,
            "http_client": self._http_client(),
            "timeout": self._timeout,
        }
        if self._oauth2.authority is not None:
            # msal asks login.microsoftonline.com about any other host (instance discovery,
            # and the aliases of cached accounts), even with a discovery URL of our own:
            # an authority written in the configuration is trusted as it is.
            options["instance_discovery"] = False
        try:
            if self._oauth2.flow is OAuth2Flow.APP:
                credential = self._credential()
                self._app = msal.ConfidentialClientApplication(
                    self._oauth2.client_id, client_credential=credential, **options
                )
            else:
                self._app = msal.PublicClientApplication(self._oauth2.client_id, **options)
        except ValueError as exc:  # the tenant's OpenID configuration was refused
            raise SourceError(
                Step.IDENTITY,
                _first_line(str(exc)),
                server=self.server,
                hint="check oauth2.tenant (the directory id or domain) and oauth2.authority",
            ) from None
        except self._network_errors() as exc:
            raise unreachable(exc, self.server) from None
        return self._app

    def _http_client(self) -> Any:
        """What msal sends its requests with: httpx for a job that speaks it (one TLS
        context, verified as the mailbox is), else requests, which msal imports anyway."""
        if self._over_httpx:
            from deskmail.sources.https import https_client

            return https_client(self._ca_file, True, self.server, self._timeout)
        import requests

        # trust_env=False: REQUESTS_CA_BUNDLE in the environment would override verify.
        session = requests.Session()
        session.trust_env = False
        session.verify = str(self._ca_file) if self._ca_file else True
        return session

    def _network_errors(self) -> tuple[type[BaseException], ...]:
        """What that client raises when the identity platform cannot be reached."""
        if self._over_httpx:
            import httpx

            return (httpx.TransportError,)
        import requests

        return (requests.RequestException,)

    def _credential(self) -> str | dict[str, Any]:
        if self._secret is not None:
            return self._secret
        assert self._oauth2.certificate_file is not None  # config guarantees one credential
        return load_credential(self._oauth2.certificate_file, self._certificate_password)

    def _calling(self, call: Callable[[], Any]) -> Any:
        """One token call; the cache saved when it changed, network errors named."""
        try:
            result = call()
        except self._network_errors() as exc:
            raise unreachable(exc, self.server) from None
        finally:
            if self._cache is not None and self._cache.has_state_changed:
                self._store.save(self._cache.serialize())
                self._cache.has_state_changed = False
        return result

    # ---- tokens -------------------------------------------------------------------

    def token(self, *, fresh: bool = False) -> str:
        if not fresh:
            with self._store.lock:
                held = self._unexpired_access_token()
            if held is not None:
                return held
        # A token call may spend the refresh token: one process at a time (cache.renewing).
        with self._store.renewing():
            return self._token(fresh)

    def _unexpired_access_token(self) -> str | None:
        """A saved access token msal would hand out without a token call (more than five
        minutes left, not yet due for refresh, as msal judges), or None."""
        self._application()
        self._reload()
        now = time.time()
        for entry in self._cache.search(
            self._cache.CredentialType.ACCESS_TOKEN,
            target=self._scopes,
            query={"client_id": self._oauth2.client_id},
        ):
            if (
                int(entry["expires_on"]) - now >= 5 * 60
                and int(entry.get("refresh_on", now)) >= now
            ):
                return str(entry["secret"])
        return None

    def _reload(self) -> None:
        """The cache as saved now: another source of this job may have rotated its tokens."""
        stored = self._store.load()
        if stored and self._cache is not None:
            self._cache.deserialize(stored)
            self._cache.has_state_changed = False

    def _token(self, fresh: bool) -> str:
        app = self._application()
        self._reload()
        if self._oauth2.flow is OAuth2Flow.APP:
            if fresh:
                self._calling(app.remove_tokens_for_client)
            result = self._calling(lambda: app.acquire_token_for_client(self._scopes))
        else:
            accounts = self._calling(app.get_accounts)
            if not accounts:
                raise SourceError(
                    Step.SIGN_IN,
                    "nobody has signed in for this job yet",
                    server=self.server,
                    hint=self.sign_in_hint,
                )
            result = self._calling(
                lambda: app.acquire_token_silent_with_error(
                    self._scopes, accounts[0], force_refresh=fresh
                )
            )
            if result is None:
                raise SourceError(
                    Step.SIGN_IN,
                    "the signed-in account has no token for these scopes",
                    server=self.server,
                    hint=self.sign_in_hint,
                )
        return self._access_token(result)

    def _access_token(self, result: dict[str, Any]) -> str:
        if "access_token" in result:
            return str(result["access_token"])
        raise refusal(result, self.server, self.sign_in_hint)

    def device_sign_in(self, show: Callable[[str], None]) -> dict[str, Any]:
        """The device-code flow: `show` gets msal's message (URL and code); waits for the person."""
        app = self._application()
        flow = self._calling(lambda: app.initiate_device_flow(scopes=self._scopes))
        if "user_code" not in flow:
            raise refusal(flow, self.server, self.sign_in_hint)
        show(str(flow["message"]))
        result = self._calling(lambda: app.acquire_token_by_device_flow(flow))
        self._access_token(result)
        claims: dict[str, Any] = result.get("id_token_claims") or {}
        return claims

    def start_web_sign_in(self, redirect_uri: str) -> dict[str, Any]:
        """The web UI's "Sign in" (a seam): msal's authorization-code flow with PKCE, state
        and nonce. Send the person to flow["auth_uri"]; keep the flow on the server side."""
        app = self._application()
        flow: dict[str, Any] = self._calling(
            # form_post: the code comes back in a POST body, not in a URL a log may keep.
            lambda: app.initiate_auth_code_flow(
                self._scopes, redirect_uri=redirect_uri, response_mode="form_post"
            )
        )
        return flow

    def finish_web_sign_in(self, flow: dict[str, Any], answer: dict[str, str]) -> dict[str, Any]:
        """The fields posted back to the redirect URI (code, state): tokens kept, the person's
        claims."""
        app = self._application()
        with self._store.renewing():
            self._reload()
            try:
                result = self._calling(
                    lambda: app.acquire_token_by_auth_code_flow(flow, answer, scopes=self._scopes)
                )
            except ValueError as exc:  # msal: the state does not match this sign-in
                raise SourceError(Step.SIGN_IN, str(exc), server=self.server) from None
        self._access_token(result)
        claims: dict[str, Any] = result.get("id_token_claims") or {}
        return claims

    def interactive_sign_in(self, show: Callable[[str], None]) -> dict[str, Any]:
        """A person's sign-in from the terminal: Microsoft's device code."""
        return self.device_sign_in(show)

    def accounts(self) -> list[dict[str, Any]]:
        app = self._application()
        found: list[dict[str, Any]] = self._calling(app.get_accounts)
        return found

    def cached_tokens(self) -> dict[str, list[dict[str, Any]]]:
        """What the cache holds, by kind, for auth status (the secrets stay in the cache)."""
        self._application()
        return {
            kind: list(self._cache.search(kind))
            for kind in ("AccessToken", "RefreshToken", "Account")
        }


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else "the identity platform refused the authority"
