"""The [jobs.oauth2] table: how a job signs in with OAuth2 instead of a password.

Where the secrets are (an environment variable, a file, a certificate) is written
here; the secret itself only in a job kept in the database (stored encrypted), or in
a file with a warning, as a password. The default scopes depend on the
provider, the flow and what the token is spent on (IMAP, POP3, SMTP, Graph, EWS).
"""

from __future__ import annotations

import datetime
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from deskmail.config.values import printable, setting_errors

MICROSOFT_AUTHORITY = "https://login.microsoftonline.com"
GOOGLE_TOKEN_ENDPOINT = "https://oauth2.googleapis.com/token"
GOOGLE_AUTHORIZATION_ENDPOINT = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_MAIL_SCOPE = "https://mail.google.com/"

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The ways an application proves itself: one at most.
CREDENTIAL_KEYS = ("client_secret_env", "client_secret_file", "client_secret", "certificate_file")


class OAuth2Provider(StrEnum):
    MICROSOFT = "microsoft"  # Entra ID (msal)
    GOOGLE = "google"  # Google Workspace / Gmail (Authlib)
    GENERIC = "generic"  # any other issuer, by its token_endpoint (Authlib)


class OAuth2Flow(StrEnum):
    APP = "app"  # app-only: client credentials (a secret or a certificate), no person signs in
    DELEGATED = "delegated"  # a person signs in once (deskmail auth login); refresh tokens after


def _env_name(value: str) -> str:
    # A pasted secret here must not be echoed back in the error.
    if not _ENV_NAME.fullmatch(value):
        raise ValueError(
            "must be the name of an environment variable (letters, digits and _),"
            " such as DESKMAIL_CLIENT_SECRET, not the secret itself"
        )
    return value


def _https_url(value: str) -> str:
    if not value.startswith("https://") or len(value) <= len("https://"):
        raise ValueError("must be an https:// URL (identity providers are only spoken to over TLS)")
    return printable(value.rstrip("/"))


def _scope(value: str) -> str:
    if not value or any(char.isspace() for char in value):
        raise ValueError("each scope must be one word without spaces")
    return printable(value)


EnvName = Annotated[str, AfterValidator(_env_name)]
HttpsUrl = Annotated[str, AfterValidator(_https_url)]
Scope = Annotated[str, AfterValidator(_scope)]
Text = Annotated[str, AfterValidator(printable)]


class OAuth2Config(BaseModel):
    """A job's (or an SMTP table's) OAuth2 sign-in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: OAuth2Provider = OAuth2Provider.MICROSOFT
    tenant: Text = Field(
        default="", description="Microsoft: the directory (tenant) id or domain; required"
    )
    client_id: Text = Field(min_length=1, description="the application (client) id")
    client_secret_env: EnvName | None = Field(
        default=None, description="name of the environment variable holding the client secret"
    )
    client_secret_file: Path | None = Field(
        default=None, description="file whose first line is the client secret"
    )
    # repr=False: a secret (secrets.redact, the jobs catalog's sealing and the logs' redactor
    # find secrets by it).
    client_secret: str | None = Field(
        default=None, repr=False, description="accepted with a warning; prefer client_secret_env"
    )
    certificate_file: Path | None = Field(
        default=None, description="Microsoft app-only: the certificate and key, PEM or PFX"
    )
    certificate_password_env: EnvName | None = Field(
        default=None, description="variable holding the password of certificate_file's key"
    )
    flow: OAuth2Flow = Field(
        default=OAuth2Flow.APP, description="app: client credentials; delegated: auth login"
    )
    authority: HttpsUrl | None = Field(
        default=None, description=f"Microsoft identity platform; default: {MICROSOFT_AUTHORITY}"
    )
    token_endpoint: HttpsUrl | None = Field(
        default=None, description="generic: the issuer's token endpoint; google: its default"
    )
    authorization_endpoint: HttpsUrl | None = Field(
        default=None, description="google, generic: the sign-in page, for deskmail auth login"
    )
    issuer: HttpsUrl | None = Field(
        default=None,
        description="generic: the issuer, whose metadata names the endpoints not set here",
    )
    ca_file: Path | None = Field(
        default=None, description="extra trust anchor (PEM) for the identity provider"
    )
    scopes: list[Scope] | None = Field(
        default=None, description="default: by provider, flow and protocol"
    )
    secret_expires: datetime.date | None = Field(
        default=None, description="when the client secret expires, as the portal shows it"
    )
    expiry_warning_days: int = Field(
        default=30, ge=0, le=365, description="warn and open an event this many days before"
    )

    @property
    def authority_url(self) -> str:
        """Microsoft: the authority msal is given, base URL and tenant."""
        return f"{self.authority or MICROSOFT_AUTHORITY}/{self.tenant}"

    @property
    def effective_token_endpoint(self) -> str | None:
        if self.token_endpoint is not None:
            return self.token_endpoint
        if self.provider is OAuth2Provider.GOOGLE:
            return GOOGLE_TOKEN_ENDPOINT
        return None

    @property
    def has_client_secret(self) -> bool:
        return any(
            value is not None
            for value in (self.client_secret_env, self.client_secret_file, self.client_secret)
        )

    def scopes_for(self, use: str) -> list[str]:
        """The scopes asked for when the token is spent on `use`: imap, pop3, smtp, graph, ews."""
        if self.scopes:
            return list(self.scopes)
        if self.provider is OAuth2Provider.GOOGLE:
            return [GOOGLE_MAIL_SCOPE]
        if self.provider is OAuth2Provider.GENERIC:
            return []  # the issuer's default for the client
        if self.flow is OAuth2Flow.APP:
            # App-only tokens name the resource; its permissions come from the registration.
            resource = "graph.microsoft.com" if use == "graph" else "outlook.office365.com"
            return [f"https://{resource}/.default"]
        delegated = {
            "imap": "https://outlook.office.com/IMAP.AccessAsUser.All",
            "pop3": "https://outlook.office.com/POP.AccessAsUser.All",
            "smtp": "https://outlook.office.com/SMTP.Send",
            "graph": "https://graph.microsoft.com/Mail.ReadWrite",
            "ews": "https://outlook.office.com/EWS.AccessAsUser.All",
        }
        return [delegated.get(use, delegated["imap"])]

    @model_validator(mode="after")
    def _check_credentials(self) -> OAuth2Config:
        problems = self._problems()
        if problems:
            raise setting_errors(self, problems)
        return self

    def _problems(self) -> list[tuple[str, str]]:
        """(key, problem) pairs, all at once, so the table is fixed in one round."""
        problems: list[tuple[str, str]] = []
        given = [key for key in CREDENTIAL_KEYS if getattr(self, key) is not None]
        if len(given) > 1:
            problems.append(("", f"{' and '.join(given)} are set; keep only one"))
        provider = self.provider
        if provider is OAuth2Provider.MICROSOFT:
            if not self.tenant:
                problems.append(
                    ("tenant", "is required for Microsoft: the directory (tenant) id or domain")
                )
            elif self.tenant.lower() in ("common", "organizations", "consumers"):
                problems.append(
                    ("tenant", f"'{self.tenant}' is not a tenant: name the directory id or domain")
                )
            if self.flow is OAuth2Flow.APP and not given:
                problems.append(
                    (
                        "",
                        'flow = "app" needs a credential: set client_secret_env,'
                        " client_secret_file or certificate_file",
                    )
                )
        else:
            if self.certificate_file is not None:
                problems.append(("certificate_file", "is only used with provider = 'microsoft'"))
            if self.authority is not None:
                problems.append(("authority", "is only used with provider = 'microsoft'"))
            if self.tenant:
                problems.append(("tenant", "is only used with provider = 'microsoft'"))
        if provider is OAuth2Provider.GOOGLE:
            if self.flow is not OAuth2Flow.DELEGATED:
                problems.append(
                    (
                        "flow",
                        "must be 'delegated' with Google: Gmail is read by a signed-in account",
                    )
                )
            if not self.has_client_secret:
                problems.append(
                    (
                        "",
                        "Google needs the OAuth client's secret (a desktop app's too):"
                        " set client_secret_env or client_secret_file",
                    )
                )
        if provider is OAuth2Provider.GENERIC:
            discovered = " (or issuer, whose metadata names it)"
            if self.token_endpoint is None and self.issuer is None:
                problems.append(
                    ("token_endpoint", f"is required with provider = 'generic'{discovered}")
                )
            if self.flow is OAuth2Flow.APP and not self.has_client_secret:
                problems.append(("", "needs client_secret_env or client_secret_file"))
            if (
                self.flow is OAuth2Flow.DELEGATED
                and self.authorization_endpoint is None
                and self.issuer is None
            ):
                problems.append(
                    (
                        "authorization_endpoint",
                        f"is required for a person's sign-in with provider = 'generic'{discovered}",
                    )
                )
        elif self.issuer is not None:
            problems.append(("issuer", "is only used with provider = 'generic'"))
        if self.certificate_password_env is not None and self.certificate_file is None:
            problems.append(("certificate_password_env", "is only used with certificate_file"))
        if self.secret_expires is not None and not self.has_client_secret:
            problems.append(
                (
                    "secret_expires",
                    "is the date of a client secret; a certificate's date is read from"
                    " the certificate itself",
                )
            )
        if self.authorization_endpoint is not None and provider is OAuth2Provider.MICROSOFT:
            problems.append(
                ("authorization_endpoint", "is only used with provider = 'google' or 'generic'")
            )
        return problems
