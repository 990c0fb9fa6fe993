"""A job's BearerTokens (sources.base): built from its oauth2 table, spent by XOAUTH2 and Graph."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from deskmail.auth.cache import CacheUnreadable, ProcessTokenCache, StoredTokenCache, TokenCache
from deskmail.config.errors import ConfigError
from deskmail.config.files import command_line
from deskmail.config.models import DeskmailConfig, JobConfig
from deskmail.config.oauth2 import OAuth2Config, OAuth2Flow, OAuth2Provider
from deskmail.config.secrets import resolve_certificate_password, resolve_client_secret
from deskmail.sources.errors import SourceError, Step
from deskmail.store.engine import Store
from deskmail.store.sealing import SecretKeyError, key_file_for, sealing_keys


class SignIn(Protocol):
    server: str

    def token(self, *, fresh: bool = False) -> str: ...


class JobTokens:
    """sources.base.BearerTokens for one job: cached tokens first, new ones when needed."""

    def __init__(self, sign_in: SignIn) -> None:
        self.sign_in = sign_in

    def token(self) -> str:
        return self.sign_in.token()

    def refused(self, token: str) -> str:
        fresh = self.sign_in.token(fresh=True)
        if fresh == token:
            raise SourceError(
                Step.AUTHENTICATION,
                "the server refused a token the identity provider still stands by",
                server=self.sign_in.server,
            )
        return fresh


def sign_in_command(job: JobConfig, *, smtp: bool = False) -> str:
    """The exact command that signs the job (or its outgoing mail) in again, for its own
    configuration file."""
    words = ["auth", "login", "--job", job.name] + (["--smtp"] if smtp else [])
    return command_line(job.origin_file, *words)


def job_tokens(
    job: JobConfig, store: Store, *, use: str | None = None, smtp: bool = False
) -> JobTokens | None:
    """The job's tokens (or its [smtp] table's, with `smtp`), None when it uses a password.

    Raises ConfigError when a secret the table names cannot be read, SourceError
    (step sign-in) when the sealed cache cannot be opened.
    """
    oauth2 = job.smtp.oauth2 if smtp and job.smtp is not None else job.oauth2
    if oauth2 is None:
        return None
    prefix = "smtp.oauth2" if smtp else "oauth2"
    return tokens_for(
        oauth2,
        store,
        cache_name=f"{job.name} (smtp)" if smtp else job.name,
        use=use or ("smtp" if smtp else job.protocol.value),
        file=job.origin_file,
        key=job.key(prefix),
        ca_file=oauth2.ca_file or job.ca_file,
        timeout=job.timeouts.connect,
        hint=f"sign in again: {sign_in_command(job, smtp=smtp)}",
    )


def smtp_tokens(config: DeskmailConfig, job: JobConfig, store: Store) -> JobTokens | None:
    """XOAUTH2 tokens for the mail the job sends: its own [smtp] table's, or the global one's."""
    if job.smtp is not None:
        return job_tokens(job, store, smtp=True)
    smtp = config.smtp
    if smtp is None or smtp.oauth2 is None:
        return None
    return tokens_for(
        smtp.oauth2,
        store,
        cache_name="[smtp]",
        use="smtp",
        file=config.source_file,
        key="smtp.oauth2",
        ca_file=smtp.oauth2.ca_file or smtp.ca_file,
        timeout=smtp.timeout,
        hint=f"sign in again: {sign_in_command(job, smtp=True)}",
    )


def tokens_for(
    oauth2: OAuth2Config,
    store: Store,
    *,
    cache_name: str,
    use: str,
    file: Path | None,
    key: str,
    ca_file: Path | None,
    timeout: float,
    hint: str,
) -> JobTokens:
    """Tokens for any oauth2 table: a job's, a job's [smtp] or the global [smtp] one."""

    def fail(setting: str, problem: str) -> ConfigError:
        return ConfigError(file, f"{key}.{setting}", problem)

    secret = resolve_client_secret(oauth2, fail)
    scopes = oauth2.scopes_for(use)
    cache: TokenCache = ProcessTokenCache(store, cache_name)
    if oauth2.flow is OAuth2Flow.DELEGATED:  # a refresh token to keep: sealed in the database
        try:
            keys = sealing_keys(key_file_for(file))
        except SecretKeyError as exc:
            raise SourceError(Step.SIGN_IN, str(exc)) from None
        cache = StoredTokenCache(store, cache_name, keys)
    if oauth2.provider is OAuth2Provider.MICROSOFT:
        from deskmail.auth.microsoft import MicrosoftSignIn

        return JobTokens(
            MicrosoftSignIn(
                oauth2,
                scopes,
                cache,
                secret=secret,
                certificate_password=resolve_certificate_password(oauth2, fail),
                ca_file=ca_file,
                timeout=timeout,
                sign_in_hint=hint,
                over_httpx=use == "graph",
            )
        )
    if oauth2.provider is OAuth2Provider.GOOGLE or oauth2.flow is OAuth2Flow.DELEGATED:
        from deskmail.auth.generic import issuer_endpoints, issuer_server
        from deskmail.auth.google import google_endpoints
        from deskmail.auth.person import PersonSignIn

        google = oauth2.provider is OAuth2Provider.GOOGLE
        return JobTokens(
            PersonSignIn(
                oauth2.client_id,
                scopes,
                cache,
                google_endpoints(oauth2) if google else issuer_endpoints(oauth2, ca_file, timeout),
                server=issuer_server(oauth2),
                secret=secret,
                ca_file=ca_file,
                timeout=timeout,
                sign_in_hint=hint,
            )
        )
    from deskmail.auth.generic import GenericSignIn

    return JobTokens(
        GenericSignIn(
            oauth2, scopes, secret=secret, ca_file=ca_file, timeout=timeout, sign_in_hint=hint
        )
    )


__all__ = [
    "CacheUnreadable",
    "JobTokens",
    "job_tokens",
    "sign_in_command",
    "smtp_tokens",
    "tokens_for",
]
