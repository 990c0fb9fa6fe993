"""An exchangelib Account for an EWS job, and its failures named by the step.

The service URL is the job's service_url, or the one the Alloy document
suggests from a server name (https://SERVER/EWS/Exchange.asmx), or found by
autodiscover from the user's e-mail address. The first requests (the
authentication probe, the version, the folder) fail fast so that `deskmail
check` and a run name a dead server at once; once open, the account waits out
ErrorServerBusy as long as the server asks, up to the job's read timeout.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from deskmail.config.models import AuthMechanism, ExchangeVersion, JobConfig
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
    return tls.JobTls(context=context, verify=job.reject_invalid_certificates)


def open_account(job: JobConfig, password: str | None) -> tuple[Account, str]:
    """A logged-in Account and the service URL it talks to; raises SourceError naming the step."""
    url = service_url(job)
    address = mailbox_address(job)
    where = url or f"{AUTODISCOVER} for {address}"
    secret = require_password(password, where)
    tls.install()
    rules = job_tls(job, where)
    if url is not None:
        tls.register(url, rules)
    else:
        domain = address.rpartition("@")[2]
        for host in (domain, f"autodiscover.{domain}"):
            tls.register(f"https://{host}/", rules)
    with translating(where):
        from exchangelib import DELEGATE, Account, Build, Configuration, Credentials, Version
        from exchangelib.protocol import FailFast

        credentials = Credentials(job.user, secret)
        build = _BUILDS.get(job.exchange_version)
        version = Version(build=Build(*build)) if build is not None else None
        if url is None:
            account = _autodiscover(job, address, credentials, version)
            url = str(account.protocol.service_endpoint)
            tls.register(url, rules)
        else:
            config = Configuration(
                service_endpoint=url,
                credentials=credentials,
                auth_type=_auth_type(job.auth_mechanism),
                version=version,
                retry_policy=FailFast(),
                max_connections=1,
            )
            account = Account(address, config=config, autodiscover=False, access_type=DELEGATE)
        _ = account.version  # detects the version now, while failures still name the step
    return account, url


def wait_out_busy_server(account: Account, job: JobConfig) -> None:
    """From now on, ErrorServerBusy is waited out as the server asks (BackOffMilliseconds)."""
    account.protocol.config.retry_policy = _server_paced(job.timeouts.read)


def _autodiscover(job: JobConfig, address: str, credentials: Any, version: Any) -> Account:
    from exchangelib import DELEGATE, Account, Configuration
    from exchangelib.protocol import FailFast

    config = Configuration(
        credentials=credentials,
        auth_type=_auth_type(job.auth_mechanism),
        version=version,
        retry_policy=FailFast(),
        max_connections=1,
    )
    return Account(address, config=config, autodiscover=True, access_type=DELEGATE)


def _auth_type(mechanism: AuthMechanism) -> str | None:
    from exchangelib.transport import BASIC, NTLM

    return {AuthMechanism.NTLM: NTLM, AuthMechanism.PLAIN: BASIC}.get(mechanism)


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
