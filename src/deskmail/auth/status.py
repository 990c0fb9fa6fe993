"""What `deskmail auth status` shows for a job: who is signed in, which scopes, and when
each token and the client's own credential expires. Never a token or a secret."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from deskmail.auth.certificates import certificate_expiry
from deskmail.auth.tokens import JobTokens
from deskmail.config.errors import ConfigError
from deskmail.config.models import JobConfig
from deskmail.config.oauth2 import OAuth2Config, OAuth2Flow, OAuth2Provider
from deskmail.config.secrets import resolve_certificate_password
from deskmail.sources.errors import SourceError

UTC = datetime.UTC
# Microsoft's refresh tokens live 90 days from their issue, and each use issues a new one.
MICROSOFT_REFRESH_LIFETIME = datetime.timedelta(days=90)


@dataclass(frozen=True, slots=True)
class CredentialExpiry:
    """The client's own credential: a certificate's not-after, or a secret's configured date."""

    what: str  # "client secret" or "certificate"
    expires: datetime.datetime | None  # None: a secret whose date is not configured


@dataclass(frozen=True, slots=True)
class SignInStatus:
    job: str
    provider: str
    flow: str
    accounts: tuple[str, ...]  # who is signed in (delegated), by user name
    scopes: tuple[str, ...]
    access_expires: datetime.datetime | None  # the cached access token's expiry
    refresh_held: bool
    credential: CredentialExpiry | None
    problem: str = ""  # the cache could not be read, or the like
    refresh_issued: datetime.datetime | None = None  # when the held refresh token was issued
    refresh_lifetime: datetime.timedelta | None = None  # the issuer's, where it is known


def credential_expiry(job: JobConfig, oauth2: OAuth2Config) -> CredentialExpiry | None:
    """When the job's client credential expires, as far as this side can know."""
    if oauth2.certificate_file is not None:

        def fail(setting: str, problem: str) -> ConfigError:
            return ConfigError(job.origin_file, job.key(f"oauth2.{setting}"), problem)

        password = resolve_certificate_password(oauth2, fail)
        return CredentialExpiry(
            "certificate", certificate_expiry(oauth2.certificate_file, password)
        )
    if oauth2.has_client_secret:
        expires = None
        if oauth2.secret_expires is not None:
            expires = datetime.datetime.combine(oauth2.secret_expires, datetime.time(), UTC)
        return CredentialExpiry("client secret", expires)
    return None


def expiring_soon(job: JobConfig, now: datetime.datetime) -> tuple[str, datetime.datetime] | None:
    """(what, when) if the job's client credential expires within oauth2.expiry_warning_days."""
    oauth2 = job.oauth2
    if oauth2 is None:
        return None
    found = credential_expiry(job, oauth2)
    if found is None or found.expires is None:
        return None
    if found.expires - now > datetime.timedelta(days=oauth2.expiry_warning_days):
        return None
    return found.what, found.expires


def sign_in_status(job: JobConfig, tokens: JobTokens) -> SignInStatus:
    oauth2 = job.oauth2
    assert oauth2 is not None
    accounts: tuple[str, ...] = ()
    access: datetime.datetime | None = None
    refresh = False
    issued: datetime.datetime | None = None
    problem = ""
    scopes = tuple(oauth2.scopes_for(job.protocol.value))
    if oauth2.provider is OAuth2Provider.MICROSOFT:
        try:
            held = tokens.sign_in.cached_tokens()  # type: ignore[attr-defined]
        except (SourceError, ConfigError) as exc:
            problem = str(exc)
        else:
            accounts = tuple(sorted({str(a.get("username", "")) for a in held["Account"]}))
            expiries = [int(t["expires_on"]) for t in held["AccessToken"] if t.get("expires_on")]
            if expiries:
                access = datetime.datetime.fromtimestamp(max(expiries), UTC)
                scopes = tuple(
                    sorted({s for t in held["AccessToken"] for s in str(t["target"]).split()})
                )
            refresh = bool(held["RefreshToken"])
            # msal stamps a refresh token with the time it was stored, i.e. issued.
            stamps = [
                int(t["last_modification_time"])
                for t in held["RefreshToken"]
                if str(t.get("last_modification_time", "")).isdigit()
            ]
            if stamps:
                issued = datetime.datetime.fromtimestamp(max(stamps), UTC)
    elif oauth2.flow is OAuth2Flow.DELEGATED:  # Google, another issuer: Authlib's token
        try:
            saved = tokens.sign_in.saved() or {}  # type: ignore[attr-defined]
        except (SourceError, ConfigError) as exc:
            saved, problem = {}, str(exc)
        if saved:
            accounts = (str(saved.get("who") or "(the issuer did not say who)"),)
            access = datetime.datetime.fromtimestamp(float(saved.get("expires_at", 0)), UTC)
            scopes = tuple(str(saved.get("scope") or "").split()) or scopes
            refresh = bool(saved.get("refresh_token"))
    try:
        credential = credential_expiry(job, oauth2)
    except (SourceError, ConfigError) as exc:
        credential, problem = None, problem or str(exc)
    return SignInStatus(
        job=job.name,
        provider=oauth2.provider.value,
        flow=oauth2.flow.value,
        accounts=accounts,
        scopes=scopes,
        access_expires=access,
        refresh_held=refresh,
        credential=credential,
        problem=problem,
        refresh_issued=issued,
        refresh_lifetime=(
            MICROSOFT_REFRESH_LIFETIME if oauth2.provider is OAuth2Provider.MICROSOFT else None
        ),
    )


def status_lines(status: SignInStatus, now: datetime.datetime) -> list[str]:
    """The status in plain words, one fact a line, for the terminal."""
    lines = [f"{status.job}: {status.provider}, {status.flow}"]
    if status.flow == "delegated":
        who = ", ".join(status.accounts) if status.accounts else "nobody (run deskmail auth login)"
        lines.append(f"  signed in: {who}")
    lines.append(f"  scopes: {' '.join(status.scopes) or '(the issuer default)'}")
    # An application's tokens are kept by the process that asked (auth/cache.py).
    none = "none cached" if status.flow == "delegated" else "none kept between runs (each asks)"
    lines.append(f"  access token: {_expiry(status.access_expires, now, none)}")
    if status.flow == "delegated":
        lines.append(f"  refresh token: {_refresh_expiry(status)}")
    if status.credential is not None:
        lines.append(
            f"  {status.credential.what}: "
            + _expiry(status.credential.expires, now, "expiry unknown (set oauth2.secret_expires)")
        )
    if status.problem:
        lines.append(f"  problem: {status.problem}")
    return lines


def _refresh_expiry(status: SignInStatus) -> str:
    if not status.refresh_held:
        return "none"
    if status.refresh_issued is None or status.refresh_lifetime is None:
        return "held (renewed at each use)"
    until = status.refresh_issued + status.refresh_lifetime
    return (
        f"expires about {until:%Y-%m-%d} ({status.refresh_lifetime.days} days after it was"
        f" issued, {status.refresh_issued:%Y-%m-%d %H:%M} UTC; each use issues a new one)"
    )


def _expiry(moment: datetime.datetime | None, now: datetime.datetime, unknown: str) -> str:
    if moment is None:
        return unknown
    when = f"{moment:%Y-%m-%d %H:%M} UTC"
    if moment <= now:
        return f"expired {when}"
    left = moment - now
    if left.days >= 1:
        return f"expires {when} (in {left.days} days)"
    return f"expires {when} (in {max(int(left.total_seconds() // 60), 0)} min)"
