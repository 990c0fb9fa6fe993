"""IMAP mailbox source (imapclient).

Rules that keep intake exactly-once:
- UID commands only; a key names (folder, UIDVALIDITY, UID), so a UID reused
  after a UIDVALIDITY change can never be mistaken for the message we saw.
- Fetch with BODY.PEEK[]: reading never sets \\Seen.
- Acknowledge touches only the UIDs it is given: UID EXPUNGE (UIDPLUS) or
  UID MOVE, never a bare EXPUNGE or CLOSE, which would also remove messages
  other clients flagged \\Deleted.
- Every command argument comes from the configuration or the server (folder
  names, UIDs), never from message content.
"""

from __future__ import annotations

import imaplib
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from imapclient import DELETED, SEEN, IMAPClient, SocketTimeout

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

log = logging.getLogger("deskmail.sources.imap")

# imapclient logs every protocol line at DEBUG, message bodies included; keep
# them out of a DEBUG log unless someone asks for that logger explicitly.
_wire_log = logging.getLogger("imapclient")
if _wire_log.level == logging.NOTSET:
    _wire_log.setLevel(logging.INFO)
_IMAPLIB_TRACE = logging.getLogger("imapclient.imaplib")  # imaplib's own lines, via imapclient

# imapclient raises subclasses of imaplib's errors (LoginError, CapabilityError, ...).
_IMAP_ERRORS: tuple[type[Exception], ...] = (imaplib.IMAP4.error,)
# Keeps STORE/EXPUNGE/MOVE command lines far below server limits (Dovecot: 64 KiB).
_ACK_CHUNK = 500
FETCH_BYTES = 4 * 1024 * 1024  # per FETCH command; a bigger message comes alone
# imaplib sends the LOGIN user name unquoted and both arguments as ASCII.
_NOT_IN_LOGIN = re.compile(r'[\s(){%*"\\\]]')
_SEPARATORS = re.compile(r"[./]")


@dataclass(frozen=True, slots=True)
class ImapKey:
    folder: str
    uidvalidity: int
    uid: int

    def __str__(self) -> str:
        return f"imap:{self.folder}:{self.uidvalidity}:{self.uid}"

    @classmethod
    def parse(cls, key: str) -> ImapKey | None:
        # The folder may itself contain ":", so split from the right.
        if not key.startswith("imap:"):
            return None
        folder, _, rest = key[len("imap:") :].rpartition(":")
        folder, _, uidvalidity = folder.rpartition(":")
        if not (folder and uidvalidity.isdigit() and rest.isdigit()):
            return None
        return cls(folder, int(uidvalidity), int(rest))


def _chunks(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class ImapSource(ClosingSource):
    """One IMAP folder, selected read-write. Connects, logs in and selects on creation."""

    def __init__(
        self, job: JobConfig, password: str | None, tokens: BearerTokens | None = None
    ) -> None:
        self._job = job
        self._server = endpoint(job)
        self._tokens = tokens
        secret = login_secret(job, password, tokens, self._server)
        self._client: IMAPClient | None = None
        self._warned_no_uidplus = False
        self._move_target: str | None = None
        self._connect()
        try:
            self._login(secret)
            self._delimiter = self._read_delimiter()
            self.folder = self._resolve_folder(job.folder)
            self.uidvalidity = self._select(self.folder)
        except BaseException:
            self.close()
            raise

    # ---- Source protocol --------------------------------------------------

    def info(self) -> MailboxInfo:
        return MailboxInfo(
            protocol="imap",
            server=self._server,
            folder=self.folder,
            keys=tuple(self.list_keys()),
            tls=tls_version(self._open().socket()),
            identity=str(self.uidvalidity),
        )

    def list_keys(self) -> list[str]:
        # Everything not flagged \Deleted, whatever after_processing is: the
        # intake journal, not a flag, decides what was already processed.
        return [str(self._key(uid)) for uid in self._waiting_uids()]

    def fetch(self, keys: Iterable[str]) -> Iterator[FetchedMessage]:
        client = self._open()
        uids = self._own_uids(keys)
        for batch in self._batches(uids):
            # Explicit UID lists: imapclient 4.1 refuses range strings such as "1:*".
            with self._translating(Step.PROTOCOL):
                found: dict[int, dict[bytes, Any]] = client.fetch(batch, [b"BODY.PEEK[]"])
            for uid in batch:
                # Expunged meanwhile: absent, or present with BODY[] NIL (Dovecot).
                # Popped: the answer does not keep a message the caller has let go.
                raw = found.pop(uid, {}).get(b"BODY[]")
                if isinstance(raw, bytes):
                    yield FetchedMessage(str(self._key(uid)), raw)

    def _batches(self, uids: list[int]) -> Iterator[list[int]]:
        """fetch_batch messages per FETCH, fewer when they are big (FETCH_BYTES).

        A FETCH answer is held whole in memory; the sizes cost one small round trip.
        """
        for chunk in _chunks(uids, self._job.fetch_batch):
            with self._translating(Step.PROTOCOL):
                sizes = self._open().fetch(chunk, [b"RFC822.SIZE"])
            batch: list[int] = []
            total = 0
            for uid in chunk:
                size = sizes.get(uid, {}).get(b"RFC822.SIZE", 0)
                if batch and total + size > FETCH_BYTES:
                    yield batch
                    batch, total = [], 0
                batch.append(uid)
                total += size
            if batch:
                yield batch

    def acknowledge(self, keys: Iterable[str]) -> None:
        action = self._job.effective_after_processing
        uids = sorted(set(self._own_uids(keys)))
        if action is AfterProcessing.KEEP or not uids:
            return
        client = self._open()
        for chunk in _chunks(uids, _ACK_CHUNK):
            with self._translating(Step.PROTOCOL):
                if action is AfterProcessing.MARK_SEEN:
                    client.add_flags(chunk, [SEEN], silent=True)
                elif action is AfterProcessing.DELETE:
                    self._delete(chunk)
                else:
                    self._move(chunk, self._target())

    def close(self) -> None:
        """LOGOUT. Never CLOSE: it would expunge every \\Deleted message, not just ours.

        Best effort: every acknowledgement already took effect when it was sent,
        so a failing LOGOUT loses nothing and is not worth an error.
        """
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            try:
                client.shutdown()
            except Exception as exc:
                log.debug("closing %s: %s", self._server, exc)

    # ---- connection -------------------------------------------------------

    @property
    def client(self) -> IMAPClient:
        """The logged-in session with the folder selected, for the daemon's IDLE watcher.

        Only for commands that leave the mailbox as it is (IDLE, NOOP): changes
        go through acknowledge(), which keeps the exactly-once rules.
        """
        return self._open()

    def _translating(self, step: Step) -> AbstractContextManager[None]:
        return translating(self._server, step, _IMAP_ERRORS)

    def _open(self) -> IMAPClient:
        if self._client is None:
            raise SourceError(Step.PROTOCOL, "the IMAP session is closed", server=self._server)
        return self._client

    def _connect(self) -> None:
        job = self._job
        context = make_ssl_context(job) if job.security is not Security.NONE else None
        timeout = SocketTimeout(connect=job.timeouts.connect, read=job.timeouts.read)
        with self._translating(Step.PROTOCOL):
            client = IMAPClient(
                job.server,
                job.effective_port,
                ssl=job.security is Security.SSL,
                ssl_context=context,
                timeout=timeout,
            )
        # imapclient turns imaplib's own tracing to its highest level and logs it at
        # debug level; imaplib builds those lines before any level is checked, so
        # every fetched message was also written out whole as a repr, to be thrown
        # away (a 34 MB mail cost 113 MB). Traced only when that logger is at DEBUG.
        client._imap.debug = 5 if _IMAPLIB_TRACE.isEnabledFor(logging.DEBUG) else 0
        self._client = client
        try:
            with self._translating(Step.TLS):
                if starttls_wanted(job, client.has_capability("STARTTLS"), log):
                    client.starttls(context)
        except BaseException:
            self.close()
            raise

    def _login(self, secret: str) -> None:
        client, user = self._open(), self._job.user
        wanted = login_mechanism(self._job)
        with self._translating(Step.AUTHENTICATION):
            mechanism = choose_mechanism(
                wanted,
                lambda: _sasl_offered(client),
                encrypted=tls_version(client.socket()) is not None,
                server=self._server,
            )
        if mechanism is not None:

            def exchange(sasl: SaslClient) -> None:
                with self._translating(Step.AUTHENTICATION):
                    self._authenticate(client, sasl)

            sasl_login(mechanism, wanted, user, secret, self._tokens, self._server, exchange)
        else:
            self._plain_login(client, user, secret)
        log.debug("logged in to %s as %s", self._server, user)

    def _authenticate(self, client: IMAPClient, sasl: SaslClient) -> None:
        """AUTHENTICATE: imaplib base64s each answer and logs only its size."""
        given_up: list[SaslError] = []

        def answer(challenge: bytes) -> bytes | None:
            try:
                return sasl.respond(challenge)
            except SaslError as exc:
                given_up.append(exc)
                return None  # imaplib sends "*": the server ends the exchange

        try:
            client.sasl_login(sasl.name, answer)
        except imaplib.IMAP4.error:
            if given_up:
                raise SourceError(
                    Step.AUTHENTICATION, str(given_up[0]), server=self._server
                ) from None
            raise

    def _plain_login(self, client: IMAPClient, user: str, secret: str) -> None:
        with self._translating(Step.AUTHENTICATION):
            if user.isascii() and secret.isascii() and not _NOT_IN_LOGIN.search(user):
                client.login(user, secret)
            elif client.has_capability("AUTH=PLAIN"):
                # SASL PLAIN carries UTF-8 and any character, base64-encoded.
                client.plain_login(user, secret)
            else:
                raise SourceError(
                    Step.AUTHENTICATION,
                    "the user name or password has characters LOGIN cannot carry"
                    " and the server does not offer AUTH=PLAIN",
                    server=self._server,
                )

    # ---- folders ----------------------------------------------------------

    def _read_delimiter(self) -> str | None:
        client = self._open()
        with self._translating(Step.PROTOCOL):
            # LIST "" "" answers with the root's delimiter; some servers only
            # give it on the INBOX entry.
            for pattern in ("", "INBOX"):
                for _flags, delimiter, _name in client.list_folders("", pattern):
                    if delimiter:  # bytes, or None (NIL) on a flat server
                        return bytes(delimiter).decode()
        return None

    def _server_name(self, folder: str) -> str:
        """'INBOX/Support' or 'INBOX.Support' written with the server's own delimiter."""
        delimiter = self._delimiter
        if delimiter is None:  # a flat server: names are used as written
            return folder
        return _SEPARATORS.sub(lambda _match: delimiter, folder)  # a function: "\\" stays literal

    def _listed(self, folder: str) -> str | None:
        """The folder as the server spells it ("inbox" -> "INBOX"), None if it does not exist."""
        client = self._open()
        with self._translating(Step.FOLDER):
            listed = client.list_folders("", folder)
        for _flags, _delimiter, name in listed:
            if name == folder or name.upper() == folder.upper() == "INBOX":
                return str(name)
        return None

    def _find_folder(self, folder: str) -> str | None:
        # The name as written first, so a real "." inside a "/"-server name still works.
        for candidate in dict.fromkeys((folder, self._server_name(folder))):
            found = self._listed(candidate)
            if found is not None:
                return found
        return None

    def _resolve_folder(self, folder: str) -> str:
        found = self._find_folder(folder)
        if found is None:
            translated = self._server_name(folder)
            also = f" (nor {translated!r})" if translated != folder else ""
            raise SourceError(
                Step.FOLDER, f"folder {folder!r}{also} does not exist", server=self._server
            )
        return found

    def _select(self, folder: str) -> int:
        client = self._open()
        with self._translating(Step.FOLDER):
            response = client.select_folder(folder)
        uidvalidity = response.get(b"UIDVALIDITY")
        if not isinstance(uidvalidity, int):
            raise SourceError(
                Step.PROTOCOL, f"no UIDVALIDITY for folder {folder!r}", server=self._server
            )
        return uidvalidity

    def _target(self) -> str:
        """The move_to folder by its server name, created when missing."""
        if self._move_target is None:
            wanted = self._job.move_to or ""
            found = self._find_folder(wanted)
            if found is None:
                found = self._server_name(wanted)
                log.info("creating folder %r on %s for processed mail", found, self._server)
                with self._translating(Step.FOLDER):
                    try:
                        self._open().create_folder(found)
                    except imaplib.IMAP4.error:
                        if self._listed(found) is None:  # else another client was quicker
                            raise
            if found == self.folder:
                # Moved mail would come back under new UIDs and be taken as new mail.
                raise SourceError(
                    Step.FOLDER, f"move_to {wanted!r} is the folder being read", server=self._server
                )
            self._move_target = found
        return self._move_target

    # ---- messages ---------------------------------------------------------

    def _key(self, uid: int) -> ImapKey:
        return ImapKey(self.folder, self.uidvalidity, uid)

    def _waiting_uids(self) -> list[int]:
        with self._translating(Step.PROTOCOL):
            uids = self._open().search(["NOT", "DELETED"])
        return sorted(int(uid) for uid in uids)

    def _own_uids(self, keys: Iterable[str]) -> list[int]:
        """UIDs of the keys naming this folder at this UIDVALIDITY; others are left alone."""
        uids: list[int] = []
        for key in keys:
            parsed = ImapKey.parse(key)
            if parsed is None or parsed.folder != self.folder:
                log.warning("ignoring key %r: not a message of IMAP folder %r", key, self.folder)
            elif parsed.uidvalidity != self.uidvalidity:
                # The folder was recreated or renumbered: this UID may now be another message.
                log.warning(
                    "ignoring key %r: UIDVALIDITY is now %d, the message cannot be named safely",
                    key,
                    self.uidvalidity,
                )
            else:
                uids.append(parsed.uid)
        return uids

    def _delete(self, uids: list[int]) -> None:
        client = self._open()
        client.add_flags(uids, [DELETED], silent=True)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)  # UID EXPUNGE: exactly these UIDs
            _forget_expunges(client)
        elif not self._warned_no_uidplus:
            self._warned_no_uidplus = True
            log.warning(
                "%s lacks UIDPLUS: processed messages are flagged \\Deleted but not expunged"
                " (a plain EXPUNGE would also remove other clients' deleted mail)",
                self._server,
            )

    def _move(self, uids: list[int], target: str) -> None:
        client = self._open()
        if client.has_capability("MOVE"):
            client.move(uids, target)
            _forget_expunges(client)
        else:
            client.copy(uids, target)
            self._delete(uids)


def _sasl_offered(client: IMAPClient) -> frozenset[str]:
    """The SASL mechanisms in the capability list (AUTH=NTLM -> "NTLM"), read after STARTTLS."""
    return frozenset(
        bytes(capability[len(b"AUTH=") :]).decode("ascii", "replace").upper()
        for capability in client.capabilities()
        if capability.upper().startswith(b"AUTH=")
    )


def _forget_expunges(client: IMAPClient) -> None:
    """imapclient leaves the "* n EXPUNGE" replies to UID EXPUNGE and UID MOVE in
    imaplib's dict, one per mail for as long as the connection lives; nothing reads them."""
    client._imap.untagged_responses.pop("EXPUNGE", None)
