"""The one small interface every mailbox protocol implements.

A source never changes the mailbox while fetching (IMAP BODY.PEEK[], POP3 RETR,
Maildir read). The only mutation is `acknowledge`, which intake calls after the
message's ticket has been committed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self


@dataclass(frozen=True, slots=True)
class MailboxInfo:
    """What a connection check reports."""

    protocol: str
    server: str  # "host:port", or the Maildir path
    folder: str  # the folder as the server names it (delimiter applied)
    keys: tuple[str, ...]  # the messages waiting, as list_keys() names them
    tls: str | None = None  # e.g. "TLSv1.3", None when the connection is in clear
    identity: str = ""  # IMAP: the UIDVALIDITY; empty elsewhere
    # Maildir: the sub-folders a run renames and deletes in, where this user cannot write.
    read_only: tuple[str, ...] = ()

    @property
    def message_count(self) -> int:
        return len(self.keys)


@dataclass(frozen=True, slots=True)
class FetchedMessage:
    """One raw message and the key that names it in this mailbox for ever.

    Key examples: "imap:INBOX/Support:1700000000:42", "pop3:000001.abcdef",
    "maildir:1700.M1P2Q3.host".
    """

    key: str
    raw: bytes


class Source(Protocol):
    """A connected mailbox. Use as a context manager: `with open_source(job) as src:`."""

    def __enter__(self) -> Source: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def info(self) -> MailboxInfo:
        """Folder, message count and identity of the open mailbox."""
        ...

    def list_keys(self) -> list[str]:
        """Keys of every message currently waiting in the mailbox, oldest first."""
        ...

    def fetch(self, keys: Iterable[str]) -> Iterator[FetchedMessage]:
        """Raw bytes of the given messages, without side effects, in the order given.

        Keys that vanished from the mailbox meanwhile are skipped.
        """
        ...

    def acknowledge(self, keys: Iterable[str]) -> None:
        """Apply the job's after-processing action (delete / move / mark seen / keep).

        Only the given keys are touched (never a bare EXPUNGE of the whole folder).
        Idempotent: acknowledging a key that is already gone is not an error.
        """
        ...

    def checkpoint(self) -> None:
        """Every message list_keys() gave is committed (taken in or quarantined).

        A source that reads changes (Graph delta, EWS SyncFolderItems) saves
        its place now, through the SyncState it was opened with, so the next
        pass starts from there; one that lists the whole mailbox each pass
        (IMAP, POP3, Maildir) has nothing to keep. Not called after a pass cut
        short: the next one reads the same changes again, and the journal
        acknowledges what it already took in.
        """
        ...

    def close(self) -> None:
        """Finish the session (POP3 QUIT commits deletions; IMAP LOGOUT)."""
        ...


class BearerTokens(Protocol):
    """OAuth2 access tokens for one job's mailbox: auth/ makes them from the job's
    oauth2 settings; XOAUTH2 logins and the Graph source spend them."""

    def token(self) -> str:
        """A valid access token: the cached one, or a new one from the identity provider.

        Raises SourceError naming the step (identity provider unreachable, client
        rejected, consent missing, sign-in needed again) when none can be had.
        """
        ...

    def refused(self, token: str) -> str:
        """The server refused `token` before its expiry (401): a new one, or SourceError."""
        ...


class SyncState(Protocol):
    """A job's saved places in its mailbox, by scope (a folder's id): intake implements it."""

    def load(self, scope: str) -> str | None:
        """The value saved for `scope`, or None before the first checkpoint."""
        ...

    def save(self, scope: str, value: str) -> None:
        """Keep `value` for `scope`, durably, replacing the previous one."""
        ...


class ClosingSource:
    """Context-manager plumbing shared by the adapters: leaving the block closes the session."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def checkpoint(self) -> None:
        """Nothing to keep: the whole mailbox is listed at every pass."""

    def close(self) -> None:
        raise NotImplementedError
