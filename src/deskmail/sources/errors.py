"""Connection failures named by the step that failed, for `deskmail check` and events."""

from __future__ import annotations

from enum import StrEnum


class Step(StrEnum):
    DNS = "DNS"
    CONNECT = "connect"  # refused, unreachable, reset
    TIMEOUT = "timeout"
    TLS = "TLS handshake"
    CERTIFICATE = "certificate"
    STARTTLS = "STARTTLS not offered"
    AUTHENTICATION = "authentication"
    FOLDER = "folder"
    PROTOCOL = "protocol"  # the server said something we could not understand
    SECRET = "password"  # the configured password source could not be read
    AUTODISCOVER = "autodiscover"  # EWS: no service found for the address
    VERSION = "Exchange version"  # EWS: the server refused the version asked for
    MAILBOX = "mailbox"  # Graph, EWS: not found, or this login or app may not open it
    IDENTITY = "identity provider"  # OAuth2: its endpoint unreachable, or the tenant unknown
    CLIENT = "client credentials"  # OAuth2: client id, secret or certificate rejected
    CONSENT = "consent or permission"  # OAuth2: scope not granted, admin consent missing
    SIGN_IN = "sign-in"  # OAuth2: nobody signed in, or the refresh token expired or was revoked


class SourceError(Exception):
    """A mailbox could not be used; `step` says where it stopped."""

    def __init__(self, step: Step, detail: str, *, server: str = "", hint: str = "") -> None:
        self.step = step
        self.detail = detail
        self.server = server
        self.hint = hint  # what to do, when the step's usual hint would mislead
        where = f" ({server})" if server else ""
        super().__init__(f"{step.value} failed{where}: {detail}")
