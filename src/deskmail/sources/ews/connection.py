"""An exchangelib Account for an EWS job, and its failures named by the step.

The service URL is the job's service_url, or the one the Alloy document
suggests from a server name (https://SERVER/EWS/Exchange.asmx), or found by
autodiscover from the user's e-mail address. The first requests (the
authentication probe, the version, the folder) fail fast so that `deskmail
check` and a run name a dead server at once; once open, the account waits out
ErrorServerBusy as long as the server asks, up to the job's read timeout.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from deskmail.config.models import AuthMechanism, ExchangeVersion, JobConfig
from deskmail.config.oauth2 import OAuth2Flow
from deskmail.sources.base import BearerTokens
from deskmail.sources.connection import require_password
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.ews import tls
from deskmail.sources.tls import classify, explain, verifying_context

if TYPE_CHECKING:
    from exchangelib import Account

# (major, minor) builds of the versions a job can pin; Subscription Edition answers as 2019.
_BUILDS: dict[ExchangeVersion, tuple[int, int, int]] = {
    ExchangeVersion.EXCHANGE_2010_SP2: (14, 2, 0),
    ExchangeVersion.EXCHANGE_2013: (15, 0, 0),
    ExchangeVersion.EXCHANGE_2016: (15, 1, 0),
    ExchangeVersion.EXCHANGE_2019: (15, 2, 0),
}

AUTODISCOVER = "autodiscover"


def suggested_url(server: str, port: int | None = None) -> str:
    """The EWS URL of a server name, as the Alloy document suggests it."""
    where = server if port in (None, 443) else f"{server}:{port}"
    return f"https://{where}/EWS/Exchange.asmx"


def service_url(job: JobConfig) -> str | None:
    """The job's EWS URL, or None when it is to be found by autodiscover."""
    if job.service_url:
        return job.service_url
    if job.server:
        return suggested_url(job.server, job.port)
    return None


def mailbox_address(job: JobConfig) -> str:
    """The mailbox's e-mail address: `mailbox`, else `user` (an address), else the job's address."""
    for candidate in (job.mailbox, job.user, job.address):
        if candidate and "@" in candidate:
            return candidate
    raise SourceError(
        Step.MAILBOX,
        f"user {job.user!r} is a logon name, and no mailbox address is set",
        hint="set mailbox to the e-mail address of the mailbox to read",
    )


def job_tls(job: JobConfig, server: str) -> tls.JobTls:
    context = verifying_context(job.ca_file, job.reject_invalid_certificates, server)
    key = (str(job.ca_file or ""), job.reject_invalid_certificates)
    return tls.JobTls(key=key, context=context, verify=job.reject_invalid_certificates)


def open_account(
    job: JobConfig, password: str | None, tokens: BearerTokens | None = None
) -> tuple[Account, str]:
    """A logged-in Account and the service URL it talks to; raises SourceError naming the step.

    With `tokens` (a job with an oauth2 table) it signs in with OAuth2 access
    tokens, renewed once when the server refuses one; else with the password.
    """
    url = service_url(job)
    address = mailbox_address(job)
    where = url or f"{AUTODISCOVER} for {address}"
    secret = require_password(password, where) if tokens is None else ""
    quiet_exchangelib()
    tls.install()
    rules = job_tls(job, where)
    with translating(where), tls.applying(rules):
        from exchangelib import Account, Build, Configuration, Credentials, Version
        from exchangelib.errors import UnauthorizedError
        from exchangelib.protocol import FailFast

        credentials: Any = tls.keyed(
            Credentials(job.user, secret) if tokens is None else bearer_credentials(tokens),
            rules,
        )
        if tokens is None:
            # exchangelib keeps one Protocol (and its auth type) per URL and credentials: a
            # job asking another method of the same login must not reuse the first one's.
            credentials.method = str(job.auth_mechanism)
        build = _BUILDS.get(job.exchange_version)
        version = Version(build=Build(*build)) if build is not None else None
        if url is None:
            account = _autodiscover(job, address, credentials, version)
            url = str(account.protocol.service_endpoint)
        else:
            config = Configuration(
                service_endpoint=url,
                credentials=credentials,
                auth_type=_auth_type(job.auth_mechanism) if tokens is None else None,
                version=version,
                retry_policy=FailFast(),
                max_connections=1,
            )
            account = Account(
                address, config=config, autodiscover=False, access_type=_access_type(job)
            )
        tls.bind(account.protocol, rules)
        if tokens is not None:
            # exchangelib keeps one Protocol per URL and credentials: give it this pass's token.
            account.protocol.credentials = credentials
        try:
            _ = account.version  # detects the version now, while failures still name the step
        except UnauthorizedError:
            if tokens is None:
                refused = _method_refused(account, job, url)
                if refused is not None:
                    raise refused from None
                raise
            credentials.renew()  # refused before its expiry: a new one, once
            account.protocol.credentials = credentials
            _ = account.version
    return account, url


def quiet_exchangelib() -> None:
    """exchangelib's debug log holds the request and answer XML (mail text) and the
    request headers (a Basic password, a token): it never goes below WARNING."""
    logging.getLogger("exchangelib").setLevel(logging.WARNING)


def _access_type(job: JobConfig) -> str:
    """An app-only token acts for the mailbox by impersonation; a person's by delegation."""
    from exchangelib import DELEGATE, IMPERSONATION

    if job.oauth2 is not None and job.oauth2.flow is OAuth2Flow.APP:
        return str(IMPERSONATION)
    return str(DELEGATE)


def bearer_credentials(tokens: BearerTokens) -> Any:
    """exchangelib OAuth2 credentials that spend the job's tokens (auth/ gets and renews them)."""
    from exchangelib.credentials import OAuth2AuthorizationCodeCredentials
    from oauthlib.oauth2 import OAuth2Token

    def wrap(token: str) -> Any:
        return OAuth2Token({"access_token": token, "token_type": "Bearer"})

    # Kept out of the credentials' attributes, which exchangelib hashes into its cache key.
    current = tokens.token()

    class BearerCredentials(OAuth2AuthorizationCodeCredentials):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__(access_token=wrap(current))

        def renew(self) -> None:
            nonlocal current
            current = tokens.refused(current)
            self.access_token = wrap(current)

        def refresh(self, session: Any) -> None:
            self.renew()

    return BearerCredentials()


def wait_out_busy_server(account: Account, job: JobConfig) -> None:
    """From now on, ErrorServerBusy is waited out as the server asks (BackOffMilliseconds)."""
    account.protocol.config.retry_policy = _server_paced(job.timeouts.read)


def _autodiscover(job: JobConfig, address: str, credentials: Any, version: Any) -> Account:
    from exchangelib import Account, Configuration
    from exchangelib.protocol import FailFast

    config = Configuration(
        credentials=credentials,
        auth_type=_auth_type(job.auth_mechanism),
        version=version,
        retry_policy=FailFast(),
        max_connections=1,
    )
    return Account(address, config=config, autodiscover=True, access_type=_access_type(job))


def _auth_type(mechanism: AuthMechanism) -> str | None:
    from exchangelib.transport import BASIC, NTLM

    return {AuthMechanism.NTLM: NTLM, AuthMechanism.PLAIN: BASIC}.get(mechanism)


def _method_refused(account: Account, job: JobConfig, url: str) -> SourceError | None:
    """A login refused because the server does not offer the job's method at all (Basic
    asked of an NTLM-only server answers 401 like a wrong password): named as such."""
    asked = _auth_type(job.auth_mechanism)
    if asked is None:  # auto: exchangelib chose among what the server offers
        return None
    try:
        with account.protocol.raw_session(url) as session:
            answer = session.post(url, data=b"", allow_redirects=False, timeout=30)
            answer.close()
    except Exception:  # the refusal stands as it was reported
        return None
    header = answer.headers.get("WWW-Authenticate", "")
    offered = [
        part.split()[0]
        for part in header.split(",")
        if part.strip() and "=" not in part.split()[0]  # skip realm="..." and the like
    ]
    if answer.status_code != 401 or not offered:
        return None
    if asked.casefold() in {scheme.casefold() for scheme in offered}:
        return None
    return SourceError(
        Step.AUTHENTICATION,
        f"the server does not accept {asked} logins (it offers {', '.join(offered)})",
        server=url,
        hint="set auth_mechanism to one the server offers (ntlm, plain) or to auto",
    )


def _server_paced(max_wait: float) -> Any:
    from exchangelib.errors import UnauthorizedError
    from exchangelib.protocol import FaultTolerance

    class ServerPaced(FaultTolerance):  # type: ignore[misc]
        """Waits when the server says it is busy; a refused login is not a busy server."""

        def raise_response_errors(self, response: Any) -> None:
            if response.status_code == 401:
                raise UnauthorizedError(f"Invalid credentials for {response.url}")
            super().raise_response_errors(response)

    return ServerPaced(max_wait=max_wait)


def _network_cause(exc: BaseException) -> OSError | None:
    """The socket or TLS error under exchangelib's and requests' wrappers, if any."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and not _is_wrapper(current):
            return current
        pending += [current.__cause__, current.__context__, getattr(current, "reason", None)]
        pending += [arg for arg in current.args if isinstance(arg, BaseException)]
    return None


def _is_wrapper(exc: OSError) -> bool:
    # requests' exceptions are IOErrors that only wrap urllib3's; urllib3's wrap the socket's.
    module = type(exc).__module__
    if module.startswith("requests"):
        return True
    if module.startswith("urllib3"):
        return not isinstance(exc, ssl.SSLError) and type(exc).__name__ not in (
            "NameResolutionError",
        )
    return False


@contextmanager
def translating(server: str) -> Iterator[None]:
    """exchangelib's and the network's failures as a SourceError naming the step."""
    try:
        yield
    except SourceError:
        raise
    except Exception as exc:
        raise describe(exc, server) from exc


def describe(exc: Exception, server: str) -> SourceError:
    from exchangelib import errors

    name = type(exc).__name__
    if isinstance(exc, errors.AutoDiscoverFailed):
        return SourceError(
            Step.AUTODISCOVER,
            "no EWS service found (the domain's autodiscover URLs and its DNS SRV record"
            " were tried)",
            server=server,
        )
    if isinstance(exc, (errors.ErrorServerBusy, errors.RateLimitError)):
        return SourceError(
            Step.PROTOCOL,
            f"the server stays busy ({name}: {exc})",
            server=server,
            hint="Exchange throttles this login (its EWS throttling policy); the next run"
            " tries again, and a larger timeouts.read waits longer within a run",
        )
    if isinstance(exc, errors.UnauthorizedError):
        return SourceError(Step.AUTHENTICATION, str(exc) or name, server=server)
    if isinstance(exc, errors.TransportError) and "authentication" in str(exc).lower():
        # "No compatible auth type was reported by server": the method is refused.
        return SourceError(
            Step.AUTHENTICATION,
            str(exc),
            server=server,
            hint="set auth_mechanism to one the server accepts (ntlm, plain) or to auto",
        )
    if isinstance(
        exc,
        (
            errors.ErrorNonExistentMailbox,
            errors.ErrorAccessDenied,
            errors.ErrorImpersonateUserDenied,
            errors.ErrorMailboxStoreUnavailable,
        ),
    ):
        return SourceError(Step.MAILBOX, f"{name}: {exc}", server=server)
    if (
        isinstance(
            exc,
            (
                errors.ErrorInvalidServerVersion,
                errors.ErrorInvalidSchemaVersionForMailboxVersion,
                errors.ErrorIncorrectSchemaVersion,
            ),
        )
        or "server version" in str(exc).lower()
    ):
        return SourceError(Step.VERSION, f"{name}: {exc}", server=server)
    if isinstance(exc, errors.ErrorFolderNotFound):
        return SourceError(Step.FOLDER, str(exc), server=server)
    cause = _network_cause(exc)
    if cause is not None:
        return SourceError(classify(cause), explain(cause), server=server)
    if isinstance(exc, errors.RedirectError):
        return SourceError(
            Step.PROTOCOL,
            f"the server redirects to {exc.url}",
            server=server,
            hint="set service_url to the EWS URL the server redirects to",
        )
    return SourceError(Step.PROTOCOL, f"{name}: {exc}", server=server)
