"""A real aiosmtpd SMTP server for the outgoing-mail tests.

The `smtp_server` fixture is a plain server (no TLS, no AUTH) on a free
loopback port that records every envelope it accepts (MAIL FROM, RCPT TO,
data). Variants start through `smtp_server.variant(...)` and stop with it:

    smtp_server.variant("starttls")            STARTTLS offered and required
    smtp_server.variant("ssl")                 implicit TLS
    smtp_server.variant("starttls", auth=True) AUTH required (user "desk", password "secret")
    smtp_server.variant("none", auth=True)     AUTH offered in clear text

TLS uses a self-signed certificate for localhost and 127.0.0.1 (the Dovecot
fixture's helper); `server.ca_file` trusts it. `server.config()` gives the
matching SmtpConfig. Without aiosmtpd the tests are skipped, except under
CI=true where they fail so that CI cannot go quietly green.
"""

from __future__ import annotations

import base64
import collections
import email
import email.policy
import hashlib
import hmac
import json
import os
import ssl
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest

from deskmail.config.models import SmtpConfig
from tests.support.dovecot import _free_port, _write_certificate

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
except ImportError as missing:  # pragma: no cover - depends on the environment
    _MISSING: ImportError | None = missing
else:
    _MISSING = None

USER = "desk"
PASSWORD = "secret"
UNICODE_USER = "bürø"
UNICODE_PASSWORD = "pässwörd-€"
FROM_ADDRESS = "support@desk.example.com"
Security = Literal["none", "starttls", "ssl"]


@dataclass(frozen=True)
class Received:
    """One accepted mail, as the server saw it."""

    mail_from: str  # "" for MAIL FROM:<>
    rcpt_tos: tuple[str, ...]
    data: bytes
    tls: bool  # the session was encrypted when the mail came
    user: str | None  # who had logged in

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    data_reply: str | None = None  # e.g. "451 4.3.0 try later": refuse every mail

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply is not None:
            return self.data_reply
        transport = server.transport
        self.received.append(
            Received(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                data=bytes(envelope.original_content or b""),
                tls=transport is not None and transport.get_extra_info("ssl_object") is not None,
                user=session.auth_data if isinstance(session.auth_data, str) else None,
            )
        )
        return "250 OK"


@dataclass
class _OAuth2Handler(_Handler):
    """Also AUTH XOAUTH2: an HS256 token signed with `key` whose email claim is the user."""

    key: bytes = b""
    tokens_seen: list[str] = field(default_factory=list)
    # Shared mailboxes a person may send as (Exchange's FullAccess): email -> addresses.
    full_access: dict[str, set[str]] = field(default_factory=dict)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        blob = args[1] if len(args) > 1 else ""  # args: ["XOAUTH2", initial response]
        raw = base64.b64decode(blob) if blob else await server.challenge_auth("")
        fields = dict(part.split("=", 1) for part in raw.decode().split("\x01") if "=" in part)
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        self.tokens_seen.append(token)
        holder = _token_user(token, self.key)
        if holder is not None and (holder == user or user in self.full_access.get(holder, ())):
            return AuthResult(success=True, handled=False, auth_data=user)
        # Google's and Microsoft's answer: the error as a challenge, then 535 after "".
        await server.challenge_auth('{"status":"401","schemes":"bearer","scope":"mail"}')
        return AuthResult(success=False, handled=False)


def _long_lines() -> type[Any]:
    """A Controller whose server takes AUTH lines up to 8 KiB: a bearer token makes AUTH
    XOAUTH2 longer than RFC 5321's 512 octets, and Exchange Online and Gmail take it on
    one line, as smtplib sends it."""

    class LongLineSMTP(SMTP):  # type: ignore[misc]
        command_size_limit = 8192
        command_size_limits: ClassVar[Any] = collections.defaultdict(lambda: 8192)
        line_length_limit = 8192

    class LongLineController(Controller):  # type: ignore[misc]
        def factory(self) -> Any:
            return LongLineSMTP(self.handler, **self.SMTP_kwargs)

    return LongLineController


def _token_user(token: str, key: bytes) -> str | None:
    """The email claim of a valid, unexpired HS256 token, else None."""
    try:
        head, body, signature = token.split(".")
        expected = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
        given = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None
    if not hmac.compare_digest(expected, given) or claims.get("exp", 0) < time.time():
        return None
    email_claim = claims.get("email")
    return email_claim if isinstance(email_claim, str) else None


class SmtpServer:
    """One running aiosmtpd instance."""

    def __init__(
        self,
        security: Security,
        auth: bool,
        certificate: tuple[Path, Path],
        oauth2_key: bytes | None = None,
    ) -> None:
        self.security = security
        self.auth = auth
        self.host = "127.0.0.1"
        self.port = _free_port()
        self.ca_file, self._key_file = certificate
        self._handler = _Handler() if oauth2_key is None else _OAuth2Handler(key=oauth2_key)
        self.auth_attempts: list[str] = []  # user names that tried AUTH, whatever the outcome
        self._controller: Any = None
        self._variants: dict[tuple[Security, bool, bytes | None], SmtpServer] = {}

    @property
    def tokens_seen(self) -> list[str]:
        """The bearer tokens AUTH XOAUTH2 was tried with (oauth2 variants)."""
        handler = self._handler
        return handler.tokens_seen if isinstance(handler, _OAuth2Handler) else []

    def grant_full_access(self, person: str, mailbox: str) -> None:
        """Add-MailboxPermission -AccessRights FullAccess: `person`'s token opens `mailbox`
        (the shared address as the XOAUTH2 user) on this oauth2 variant."""
        handler = self._handler
        assert isinstance(handler, _OAuth2Handler), "an oauth2 variant"
        handler.full_access.setdefault(person, set()).add(mailbox)

    @property
    def received(self) -> list[Received]:
        return self._handler.received

    def refuse_data(self, reply: str | None) -> None:
        """Answer every DATA with `reply` ("451 ..." or "550 ..."); None accepts again."""
        self._handler.data_reply = reply

    def start(self) -> None:
        context = None
        if self.security != "none":
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.ca_file, self._key_file)
        controller = Controller if not isinstance(self._handler, _OAuth2Handler) else _long_lines()
        self._controller = controller(
            self._handler,
            hostname=self.host,
            port=self.port,
            server_hostname="smtp.test",
            ssl_context=context if self.security == "ssl" else None,
            tls_context=context if self.security == "starttls" else None,
            require_starttls=self.security == "starttls",
            auth_required=self.auth,
            auth_require_tls=self.security != "none",
            authenticator=self._authenticate if self.auth else None,
            ready_timeout=5,
        )
        self._controller.start()

    def stop(self) -> None:
        for variant in self._variants.values():
            variant.stop()
        self._variants.clear()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def variant(
        self, security: Security, *, auth: bool = False, oauth2_key: bytes | None = None
    ) -> SmtpServer:
        """A second server with other settings, started once and stopped with this one.

        With `oauth2_key`, AUTH XOAUTH2 takes tokens signed with that key (HS256).
        """
        key = (security, auth, oauth2_key)
        if key not in self._variants:
            server = SmtpServer(security, auth, (self.ca_file, self._key_file), oauth2_key)
            server.start()
            self._variants[key] = server
        return self._variants[key]

    def config(self, **overrides: Any) -> SmtpConfig:
        """Settings for this server: the test CA trusted, credentials when AUTH is on."""
        fields: dict[str, Any] = {
            "server": self.host,
            "port": self.port,
            "security": self.security,
            "ca_file": self.ca_file,
            "from_address": FROM_ADDRESS,
            "timeout": 5,
        }
        if self.auth:
            fields.update(user=USER, password=PASSWORD)
        fields.update(overrides)
        return SmtpConfig(**fields)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = data.login.decode("utf-8", "replace")
        self.auth_attempts.append(user)
        good = {(USER, PASSWORD), (UNICODE_USER, UNICODE_PASSWORD)}
        ok = (user, data.password.decode("utf-8", "replace")) in good
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)


def pytest_configure(config: pytest.Config) -> None:
    # The clear-text AUTH variant is deliberate: it proves we never use it.
    config.addinivalue_line(
        "filterwarnings", "ignore:Requiring AUTH while not requiring TLS:UserWarning"
    )


def _require_aiosmtpd() -> None:
    if _MISSING is None:
        return
    reason = f"aiosmtpd is not installed ({_MISSING}); pip install -e '.[test]'"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"SMTP tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def smtp_certificate() -> Iterator[tuple[Path, Path]]:
    """(certificate, key) for localhost and 127.0.0.1, made once per session."""
    with tempfile.TemporaryDirectory(prefix="deskmail-smtp-") as directory:
        yield _write_certificate(Path(directory))


@pytest.fixture
def smtp_server(smtp_certificate: tuple[Path, Path]) -> Iterator[SmtpServer]:
    """A plain recording SMTP server of this test, with its variants."""
    _require_aiosmtpd()
    server = SmtpServer("none", False, smtp_certificate)
    server.start()
    try:
        yield server
    finally:
        server.stop()
