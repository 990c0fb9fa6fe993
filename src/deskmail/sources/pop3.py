"""POP3 mailbox source (stdlib poplib).

Keys are UIDL values, stable across sessions. RETR has no side effect on the
maildrop. DELE only marks a message: the server removes it when QUIT ends the
session (RFC 1939 "UPDATE state"), which `close()` sends. A crash or a dropped
connection before QUIT therefore leaves every message on the server, and the
next run acknowledges them again from the intake journal: nothing is lost.
"""

from __future__ import annotations

import base64
import binascii
import logging
import poplib
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, suppress
from types import TracebackType

from deskmail.config.models import AfterProcessing, JobConfig, Security
from deskmail.sources.base import BearerTokens, ClosingSource, FetchedMessage, MailboxInfo
from deskmail.sources.connection import (
    choose_mechanism,
    login_mechanism,
    login_secret,
    sasl_login,
    translating,
)
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.sasl import SaslClient, SaslError
from deskmail.sources.tls import endpoint, make_ssl_context, starttls_wanted, tls_version

log = logging.getLogger("deskmail.sources.pop3")

# poplib refuses any line longer than 2048 bytes ("line too long") and would
# make such a message unreadable for ever. RFC 5322 asks for 998 at most, but
# real mail (one-line HTML, broken mailers) goes far beyond. poplib reads this
# module global on every line, so it can only be raised process-wide.
_MAX_LINE = 1 << 20
poplib._MAXLINE = max(poplib._MAXLINE, _MAX_LINE)  # type: ignore[attr-defined]

_POP3_ERRORS: tuple[type[Exception], ...] = (poplib.error_proto,)
_PREFIX = "pop3:"


class Pop3Source(ClosingSource):
    """The POP3 maildrop (POP3 has only INBOX). Connects and logs in on creation."""

    def __init__(
        self, job: JobConfig, password: str | None, tokens: BearerTokens | None = None
    ) -> None:
        self._job = job
        self._server = endpoint(job)
        self._tokens = tokens
        secret = login_secret(job, password, tokens, self._server)
        self._pop: poplib.POP3 | None = None
        self._capa: dict[str, list[str]] | None = None  # as read before login, None after STLS
        self._deleted: set[int] = set()
        self._connect()
        try:
            self._login(secret)
            # The session sees a fixed snapshot: message numbers do not move
            # until QUIT, so one UIDL at the start maps keys for the whole session.
            self._numbers = self._read_uidl()
        except BaseException:
            self._abandon()
            raise

    # ---- Source protocol --------------------------------------------------

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        # Still QUIT: every DELE so far belongs to a committed message. But the
        # error in flight matters more than one from QUIT.
        try:
            self.close()
        except SourceError as quit_error:
            log.warning("%s: %s", self._server, quit_error)

    def info(self) -> MailboxInfo:
        return MailboxInfo(
            protocol="pop3",
            server=self._server,
            folder="INBOX",
            keys=tuple(self.list_keys()),
            tls=tls_version(self._open().sock),
        )

    def list_keys(self) -> list[str]:
        return [
            _PREFIX + uidl for uidl, number in self._numbers.items() if number not in self._deleted
        ]

    def fetch(self, keys: Iterable[str]) -> Iterator[FetchedMessage]:
        pop = self._open()
        for key in keys:
            number = self._number(key)
            if number is None:
                continue
            try:
                with self._translating(Step.PROTOCOL):
                    _response, lines, _octets = pop.retr(number)
            except SourceError as exc:
                # Servers without a maildrop lock (Dovecot's default) answer -ERR when
                # another session expunged the message meanwhile: skip it, as IMAP does.
                # Anything else also stays on the server and is tried again next run.
                log.warning("skipping %s: %s", key, exc.detail)
                continue
            # poplib strips the line ends and the dot-stuffing; POP3 lines end in CRLF.
            yield FetchedMessage(key, b"".join(line + b"\r\n" for line in lines))

    def acknowledge(self, keys: Iterable[str]) -> None:
        action = self._job.effective_after_processing
        if action is AfterProcessing.KEEP:
            return
        if action is not AfterProcessing.DELETE:
            raise ValueError(f"POP3 cannot {action.value}: it has no folders or flags")
        pop = self._open()
        for key in keys:
            number = self._number(key)
            if number is None:
                continue  # already gone, or deleted earlier in this session
            try:
                with self._translating(Step.PROTOCOL):
                    pop.dele(number)  # takes effect at QUIT (close)
            except SourceError as exc:
                # Expunged by another session; if it is still there, the next run sees
                # it listed and already processed, and deletes it again.
                log.warning("could not delete %s: %s", key, exc.detail)
                continue
            self._deleted.add(number)

    def close(self) -> None:
        """QUIT: the server now removes the messages marked with DELE."""
        pop, self._pop = self._pop, None
        if pop is None:
            return
        try:
            with self._translating(Step.PROTOCOL):
                pop.quit()
        finally:
            with suppress(OSError):
                pop.close()
        if self._deleted:
            log.info("%s: %d message(s) deleted at QUIT", self._server, len(self._deleted))

    # ---- connection -------------------------------------------------------

    def _translating(self, step: Step) -> AbstractContextManager[None]:
        return translating(self._server, step, _POP3_ERRORS)

    def _open(self) -> poplib.POP3:
        if self._pop is None:
            raise SourceError(Step.PROTOCOL, "the POP3 session is closed", server=self._server)
        return self._pop

    def _abandon(self) -> None:
        """Drop the connection without QUIT, so nothing marked is deleted."""
        pop, self._pop = self._pop, None
        if pop is not None:
            # After a failed STLS handshake poplib still holds the socket that
            # ssl consumed, and its close() raises EBADF on it.
            with suppress(OSError):
                pop.close()

    def _connect(self) -> None:
        job = self._job
        context = make_ssl_context(job) if job.security is not Security.NONE else None
        with self._translating(Step.PROTOCOL):
            if job.security is Security.SSL:
                pop: poplib.POP3 = poplib.POP3_SSL(
                    job.server, job.effective_port, timeout=job.timeouts.connect, context=context
                )
            else:
                pop = poplib.POP3(job.server, job.effective_port, timeout=job.timeouts.connect)
        self._pop = pop
        try:
            pop.sock.settimeout(job.timeouts.read)  # the connect timeout was for the greeting
            self._capa = self._capabilities(pop)
            with self._translating(Step.TLS):
                if starttls_wanted(job, "STLS" in self._capa, log):
                    pop.stls(context)
                    self._capa = None  # RFC 2595: what was said in clear may have been forged
        except BaseException:
            self._abandon()
            raise

    @staticmethod
    def _capabilities(pop: poplib.POP3) -> dict[str, list[str]]:
        try:
            return pop.capa()
        except poplib.error_proto:  # a server without CAPA offers no STLS either
            return {}

    def _sasl_offered(self) -> frozenset[str]:
        """The mechanisms on CAPA's SASL line, asked again after STLS."""
        if self._capa is None:
            self._capa = self._capabilities(self._open())
        return frozenset(name.upper() for name in self._capa.get("SASL", []))

    def _login(self, secret: str) -> None:
        pop, user = self._open(), self._job.user
        wanted = login_mechanism(self._job)
        with self._translating(Step.AUTHENTICATION):
            mechanism = choose_mechanism(
                wanted,
                self._sasl_offered,
                encrypted=tls_version(pop.sock) is not None,
                server=self._server,
            )
        if mechanism is None:
            with self._translating(Step.AUTHENTICATION):
                pop.user(user)
                pop.pass_(secret)
        else:

            def exchange(sasl: SaslClient) -> None:
                with self._translating(Step.AUTHENTICATION):
                    self._authenticate(pop, sasl)

            sasl_login(mechanism, wanted, user, secret, self._tokens, self._server, exchange)
        log.debug("logged in to %s as %s", self._server, user)

    def _authenticate(self, pop: poplib.POP3, sasl: SaslClient) -> None:
        """RFC 5034 AUTH: "+ challenge" lines answered in base64 until +OK or -ERR.

        poplib has no AUTH: the exchange goes through its one-line command helper.
        """
        reply = _command(pop, f"AUTH {sasl.name}")
        while reply == b"+" or reply.startswith(b"+ "):
            try:
                answer = sasl.respond(_challenge(sasl, reply))
            except SaslError as exc:
                with suppress(poplib.error_proto):
                    _command(pop, "*")  # cancels the exchange: the server answers -ERR
                raise SourceError(Step.AUTHENTICATION, str(exc), server=self._server) from None
            reply = _command(pop, base64.b64encode(answer).decode("ascii"))

    def _read_uidl(self) -> dict[str, int]:
        pop = self._open()
        try:
            with self._translating(Step.PROTOCOL):
                _response, lines, _octets = pop.uidl()
        except SourceError as exc:
            if exc.step is not Step.PROTOCOL:
                raise
            raise SourceError(
                Step.PROTOCOL,
                f"UIDL failed ({exc.detail}); without UIDL messages cannot be named safely",
                server=self._server,
            ) from exc
        numbers: dict[str, int] = {}
        for line in lines:
            number, _, uidl = line.decode("ascii", "replace").partition(" ")
            numbers[uidl.strip()] = int(number)
        return numbers

    def _number(self, key: str) -> int | None:
        """The message number of a key in this session, None if gone or already deleted."""
        if not key.startswith(_PREFIX):
            log.warning("ignoring key %r: not a POP3 key", key)
            return None
        number = self._numbers.get(key[len(_PREFIX) :])
        return None if number is None or number in self._deleted else number


def _challenge(sasl: SaslClient, reply: bytes) -> bytes:
    """The decoded challenge of a "+ base64" continuation line."""
    try:
        return base64.b64decode(reply[1:].strip(), validate=True)
    except binascii.Error:
        raise SaslError(f"{sasl.name}: the server's challenge is not base64") from None


def _command(pop: poplib.POP3, line: str) -> bytes:
    """One line and its one-line reply, by poplib's own helper: error_proto on -ERR.

    poplib prints what it sends only when debugging is on, which deskmail never
    switches on: these lines carry the password's proofs.
    """
    reply: bytes = pop._shortcmd(line)  # type: ignore[attr-defined]
    return reply
