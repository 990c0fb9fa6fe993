"""Sending mail over SMTP with the configured security, failing with the step that failed.

ssl: implicit TLS (SMTP_SSL). starttls: STARTTLS is required; a server that
does not offer it is left before AUTH, so a network attacker who strips it
never sees the password. none: clear text. Certificates are checked as for
the mailboxes (sources/tls.py). Automatic mail goes out with an empty
envelope sender (MAIL FROM:<>, RFC 3834), so a bounce of it goes nowhere.
"""

from __future__ import annotations

import base64
import smtplib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from email.message import EmailMessage
from types import TracebackType

from deskmail.config.models import SmtpConfig, SmtpSecurity
from deskmail.parse.encoded_words import one_line
from deskmail.sources.base import BearerTokens
from deskmail.sources.connection import renewing_refused_token
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.sasl import xoauth2_response
from deskmail.sources.tls import NO_STARTTLS, classify, explain, verifying_context


class SmtpError(SourceError):
    """Mail could not be sent; `step` says where it stopped.

    `refused`: the server refused this mail (RCPT or DATA) and the
    connection is still usable for the next one. `permanent`: a 5xx reply,
    sending the same again will not help.
    """

    def __init__(
        self,
        step: Step,
        detail: str,
        *,
        server: str = "",
        refused: bool = False,
        permanent: bool = False,
    ) -> None:
        super().__init__(step, detail, server=server)
        self.refused = refused
        self.permanent = permanent


def smtp_port(settings: SmtpConfig) -> int:
    if settings.port is not None:
        return settings.port
    return 465 if settings.security is SmtpSecurity.SSL else 587


def smtp_endpoint(settings: SmtpConfig) -> str:
    return f"{settings.server}:{smtp_port(settings)}"


class SmtpSession:
    """One connection, logged in when a user is set; send several mails through it.

    with SmtpSession(settings, password) as smtp:
        smtp.send(message, ["alice@example.com"])
    """

    def __init__(
        self, settings: SmtpConfig, password: str | None, tokens: BearerTokens | None = None
    ) -> None:
        self.settings = settings
        self.server = smtp_endpoint(settings)
        self._password = password
        self._tokens = tokens  # with an oauth2 table: XOAUTH2 instead of the password
        self._client: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpSession:
        self.open()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        settings = self.settings
        context = None
        if settings.security is not SmtpSecurity.NONE:
            context = verifying_context(
                settings.ca_file, settings.reject_invalid_certificates, self.server, SmtpError
            )
        host, port, timeout = settings.server, smtp_port(settings), settings.timeout
        with self._failing(Step.PROTOCOL, "greeting"):
            if settings.security is SmtpSecurity.SSL:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    host, port, timeout=timeout, context=context
                )
            else:
                client = smtplib.SMTP(host, port, timeout=timeout)
        self._client = client
        try:
            with self._failing(Step.PROTOCOL, "EHLO"):
                client.ehlo_or_helo_if_needed()
            if settings.security is SmtpSecurity.STARTTLS:
                if not client.has_extn("starttls"):
                    raise SmtpError(Step.STARTTLS, NO_STARTTLS, server=self.server)
                with self._failing(Step.TLS, "STARTTLS"):
                    client.starttls(context=context)
                    client.ehlo()
            if settings.user:
                self._login(client, settings.user)
        except BaseException:
            self.close()
            raise

    def send(
        self, message: EmailMessage, recipients: Sequence[str], envelope_sender: str = ""
    ) -> dict[str, tuple[int, bytes]]:
        """Send one mail; returns the recipients refused while others accepted it.

        The empty envelope sender is the default: all mail deskmail sends
        on its own is automatic.
        """
        client = self._client
        if client is None:
            raise RuntimeError("SmtpSession.send before open")
        with self._failing(Step.PROTOCOL, "sending", refused=True):
            try:
                return client.send_message(
                    message, from_addr=envelope_sender, to_addrs=list(recipients)
                )
            except smtplib.SMTPRecipientsRefused as exc:
                raise self._recipients_refused(exc) from exc

    def close(self) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()  # the mail already sent is sent; a failed QUIT changes nothing

    def _login(self, client: smtplib.SMTP, user: str) -> None:
        if self.settings.oauth2 is not None:
            self._login_with_token(client, user)
            return
        password = self._password
        if password is None:
            raise SmtpError(
                Step.SECRET,
                "user is set but no password_env, password_file or password",
                server=self.server,
            )
        with self._failing(Step.AUTHENTICATION, "AUTH"):
            if (user + password).isascii():
                client.login(user, password)
                return
            # smtplib encodes credentials as ASCII; AUTH PLAIN is UTF-8 (RFC 4616).
            if "PLAIN" not in client.esmtp_features.get("auth", "").upper().split():
                raise smtplib.SMTPException(
                    "non-ASCII credentials need AUTH PLAIN, which the server does not offer"
                )
            token = base64.b64encode(f"\0{user}\0{password}".encode()).decode("ascii")
            code, reply = client.docmd("AUTH", f"PLAIN {token}")
            if code != 235:
                raise smtplib.SMTPAuthenticationError(code, reply)

    def _login_with_token(self, client: smtplib.SMTP, user: str) -> None:
        """AUTH XOAUTH2 (smtplib base64s the answer); a refused token is renewed once."""
        if self._tokens is None:
            raise SmtpError(
                Step.SIGN_IN,
                "smtp signs in with oauth2 but no token source was given",
                server=self.server,
            )

        def attempt(token: str) -> None:
            answers = [xoauth2_response(user, token).decode(), ""]  # "" after an error challenge

            def answer(challenge: bytes | None = None) -> str:
                return answers.pop(0) if answers else ""

            with self._failing(Step.AUTHENTICATION, "AUTH XOAUTH2"):
                client.auth("XOAUTH2", answer)

        try:
            renewing_refused_token(attempt, self._tokens.token(), self._tokens, self.server)
        except SmtpError:
            raise
        except SourceError as exc:  # from the identity provider: the same step, as SmtpError
            raise SmtpError(exc.step, exc.detail, server=exc.server or self.server) from exc

    def _recipients_refused(self, exc: smtplib.SMTPRecipientsRefused) -> SmtpError:
        replies = "; ".join(
            f"{address}: {_reply(code, text)}" for address, (code, text) in exc.recipients.items()
        )
        permanent = all(code >= 500 for code, _text in exc.recipients.values())
        return SmtpError(
            Step.PROTOCOL,
            f"RCPT TO refused: {replies}",
            server=self.server,
            refused=True,
            permanent=permanent,
        )

    @contextmanager
    def _failing(self, step: Step, doing: str, *, refused: bool = False) -> Iterator[None]:
        """Turn smtplib and socket errors into an SmtpError naming the step."""
        try:
            yield
        except SmtpError:
            raise
        except smtplib.SMTPResponseException as exc:  # the server answered with an error
            if isinstance(exc, smtplib.SMTPSenderRefused):
                doing = f"MAIL FROM:<{exc.sender}> refused"
                refused = False  # every mail has this sender: our settings or the server
            elif isinstance(exc, smtplib.SMTPDataError):
                doing = "DATA refused"
            raise SmtpError(
                step,
                f"{doing}: {_reply(exc.smtp_code, exc.smtp_error)}",
                server=self.server,
                refused=refused,
                permanent=500 <= exc.smtp_code < 600,
            ) from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise SmtpError(
                Step.CONNECT, f"{doing}: the server closed the connection", server=self.server
            ) from exc
        except smtplib.SMTPException as exc:  # e.g. no AUTH offered, no SMTPUTF8
            raise SmtpError(step, f"{doing}: {exc}", server=self.server, refused=refused) from exc
        except OSError as exc:  # DNS, refused, timeout, TLS, certificate
            raise SmtpError(classify(exc), explain(exc), server=self.server) from exc


def send_message(
    settings: SmtpConfig,
    password: str | None,
    message: EmailMessage,
    recipients: Sequence[str],
    envelope_sender: str = "",
) -> dict[str, tuple[int, bytes]]:
    """Open a connection, send one mail, close."""
    with SmtpSession(settings, password) as session:
        return session.send(message, recipients, envelope_sender)


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return one_line(f"{code} {text}")
