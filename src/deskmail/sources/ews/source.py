"""The EWS source: list by SyncFolderItems, fetch MIME content, acknowledge after commit.

Key: "ews:{mailbox}:{folder id}:{ItemId}". An ItemId changes when the item
moves, so a mail moved out and back comes back under a new key: the intake
journal's Message-ID + SHA-256 guard keeps it from making a second ticket.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from deskmail.config.models import AfterProcessing, JobConfig
from deskmail.sources.base import (
    BearerTokens,
    ClosingSource,
    FetchedMessage,
    MailboxInfo,
    SyncState,
)
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.ews.connection import open_account, translating, wait_out_busy_server
from deskmail.sources.ews.folders import resolve_folder
from deskmail.sources.ews.sync import FolderChanges, SyncStateRefused, read_changes

if TYPE_CHECKING:
    from exchangelib.folders import BaseFolder

log = logging.getLogger(__name__)

FETCH_CHUNK = 10  # items per GetItem: MIME content of a few large mails per answer, not 50


def item_key(mailbox: str, folder_id: str, item_id: str) -> str:
    return f"ews:{mailbox}:{folder_id}:{item_id}"


def item_id_of(key: str) -> str:
    """The ItemId at the end of a key (EWS ids are base64: no colon)."""
    return key.rsplit(":", 1)[1]


class EwsSource(ClosingSource):
    def __init__(
        self,
        job: JobConfig,
        password: str | None,
        state: SyncState | None,
        tokens: BearerTokens | None = None,
    ) -> None:
        self._job = job
        self._state = state
        self._account, self._url = open_account(job, password, tokens)
        self._mailbox = str(self._account.primary_smtp_address).lower()
        with translating(self._url):
            self._folder = resolve_folder(self._account, job.folder, self._url)
            self._move_to: BaseFolder | None = None
            if job.effective_after_processing is AfterProcessing.MOVE and job.move_to:
                self._move_to = resolve_folder(self._account, job.move_to, self._url)
        self._folder_id = str(self._folder.id)
        self._pending_state: str | None = None
        wait_out_busy_server(self._account, job)

    @property
    def _scope(self) -> str:
        return f"ews:{self._mailbox}:{self._folder_id}"

    def _key(self, item_id: str) -> str:
        return item_key(self._mailbox, self._folder_id, item_id)

    def info(self) -> MailboxInfo:
        """What check shows: every message in the folder now (the saved state is not used).

        Raises SourceError(MAILBOX) when this login lacks a right the after-processing
        action needs, read from EffectiveRights without changing anything.
        """
        with translating(self._url):
            changes = read_changes(self._account, self._folder, None)
            missing = self._missing_rights(changes.created[:1])
        if missing:
            after = self._job.effective_after_processing.value
            raise SourceError(
                Step.MAILBOX,
                f"this login may not {missing}, which after_processing = {after} needs",
                server=self._url,
                hint="give this login Full Access to the mailbox (Add-MailboxPermission"
                " -AccessRights FullAccess) or Editor on the folders; or after_processing = keep",
            )
        return MailboxInfo(
            protocol="ews",
            server=self._url,
            folder=self._job.folder,
            keys=tuple(self._key(item_id) for item_id in changes.created),
            tls="HTTPS" if self._url.lower().startswith("https") else None,
            identity=self._mailbox,
        )

    def _missing_rights(self, sample: tuple[str, ...]) -> str:
        """What the after-processing action needs and EffectiveRights denies; "" if nothing.

        An item's rights are read from one waiting item (none waiting: nothing to
        read them from); a move's target folder must let this login create items.
        """
        after = self._job.effective_after_processing
        if after is AfterProcessing.KEEP:
            return ""
        if after is AfterProcessing.MOVE and self._move_to is not None:
            rights = getattr(self._move_to, "effective_rights", None)
            if rights is not None and not rights.create_contents:
                return f"create items in {self._job.move_to}"
        if not sample:
            return ""
        (item,) = self._get([self._key(item_id) for item_id in sample], ["effective_rights"])
        rights = None if isinstance(item, Exception) else item.effective_rights
        if rights is None:
            return ""
        if after is AfterProcessing.MARK_SEEN and not rights.modify:
            return f"change the mail in {self._job.folder} (mark it read)"
        if after in (AfterProcessing.DELETE, AfterProcessing.MOVE) and not rights.delete:
            return f"remove mail from {self._job.folder}"
        return ""

    def list_keys(self) -> list[str]:
        saved = self._state.load(self._scope) if self._state is not None else None
        changes = self._changes(saved)
        self._pending_state = changes.sync_state
        return [self._key(item_id) for item_id in changes.created]

    def _changes(self, saved: str | None) -> FolderChanges:
        with translating(self._url):
            try:
                return read_changes(self._account, self._folder, saved)
            except SyncStateRefused as exc:
                # The folder's whole content is listed again; the journal knows what it took in.
                log.warning(
                    "job %s: the server no longer knows the saved sync state (%s);"
                    " reading the folder from the start",
                    self._job.name,
                    exc,
                )
                return read_changes(self._account, self._folder, None)

    def checkpoint(self) -> None:
        if self._state is not None and self._pending_state:
            self._state.save(self._scope, self._pending_state)

    def fetch(self, keys: Iterable[str]) -> Iterator[FetchedMessage]:
        wanted = list(keys)
        for start in range(0, len(wanted), FETCH_CHUNK):
            chunk = wanted[start : start + FETCH_CHUNK]
            with translating(self._url):
                items = self._get(chunk, ["mime_content"])
            for key, item in zip(chunk, items, strict=True):
                if isinstance(item, Exception):  # ErrorItemNotFound: gone meanwhile
                    log.info("job %s: %s is no longer in the mailbox", self._job.name, key)
                    continue
                raw = item.mime_content
                if raw is None:
                    raise SourceError(
                        Step.PROTOCOL, "the server sent no MIME content", server=self._url
                    )
                yield FetchedMessage(key=key, raw=bytes(raw))

    def _get(self, keys: list[str], fields: list[str]) -> list[Any]:
        from exchangelib.properties import ItemId

        ids = [ItemId(id=item_id_of(key)) for key in keys]
        return list(self._account.fetch(ids=ids, only_fields=fields))

    def acknowledge(self, keys: Iterable[str]) -> None:
        wanted = list(keys)
        after = self._job.effective_after_processing
        if not wanted or after is AfterProcessing.KEEP:
            return
        with translating(self._url):
            if after is AfterProcessing.MARK_SEEN:
                results = self._mark_read(wanted)
            elif after is AfterProcessing.MOVE:
                results = self._account.bulk_move(
                    ids=[self._item_id(key) for key in wanted], to_folder=self._move_to
                )
            else:
                from exchangelib.items import MOVE_TO_DELETED_ITEMS

                # To Deleted Items, never a HardDelete (what item.delete() does).
                results = self._account.bulk_delete(
                    ids=[self._item_id(key) for key in wanted],
                    delete_type=MOVE_TO_DELETED_ITEMS,
                )
        self._raise_unless_done(list(results))

    def _mark_read(self, keys: list[str]) -> list[Any]:
        items = [item for item in self._get(keys, ["is_read"]) if not isinstance(item, Exception)]
        for item in items:
            item.is_read = True
        if not items:
            return []
        return list(self._account.bulk_update(items=[(item, ("is_read",)) for item in items]))

    def _item_id(self, key: str) -> Any:
        from exchangelib.properties import ItemId

        return ItemId(id=item_id_of(key))

    def _raise_unless_done(self, results: list[Any]) -> None:
        """An item already gone is done (idempotent); any other refusal is an error."""
        from exchangelib.errors import ErrorItemNotFound

        for result in results:
            if isinstance(result, ErrorItemNotFound):
                continue
            if isinstance(result, Exception):
                with translating(self._url):
                    raise result

    def close(self) -> None:
        self._account.protocol.close()
