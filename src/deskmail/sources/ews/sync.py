"""The changes of one folder since a saved SyncState, page by page (SyncFolderItems).

exchangelib's `sync_items()` keeps the new state only once its generator is
consumed whole and hides it on the folder object; here each page is asked for
with the state the previous one returned, and the final state is handed back,
to be saved by Source.checkpoint only after the mail it covers is committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from exchangelib import Account
    from exchangelib.folders import BaseFolder

PAGE_SIZE = 100  # MaxChangesReturned: EWS allows 1 to 512


@dataclass(frozen=True, slots=True)
class FolderChanges:
    """Item ids created in the folder and still there, oldest first, and the state after them."""

    created: tuple[str, ...]
    sync_state: str
    pages: int


class SyncStateRefused(Exception):
    """The server no longer knows the saved SyncState (ErrorInvalidSyncStateData)."""


def read_changes(
    account: Account, folder: BaseFolder, sync_state: str | None, page_size: int = PAGE_SIZE
) -> FolderChanges:
    """Every change after `sync_state` (None: the folder's whole content), to the last page."""
    from exchangelib.errors import ErrorInvalidSyncStateData
    from exchangelib.services import SyncFolderItems

    service = SyncFolderItems(account=account)
    created: dict[str, None] = {}  # ordered set: a replayed Create is kept once
    state = sync_state
    pages = 0
    while True:
        try:
            changes = list(
                service.call(
                    folder=folder,
                    shape="IdOnly",
                    additional_fields=set(),
                    sync_state=state,
                    ignore=None,
                    max_changes_returned=page_size,
                    sync_scope=None,
                )
            )
        except ErrorInvalidSyncStateData as exc:
            raise SyncStateRefused(str(exc)) from exc
        pages += 1
        for change_type, item in changes:
            if isinstance(item, Exception):  # an item the server could not describe
                continue
            item_id = item[0].id if isinstance(item, tuple) else item.id
            if change_type == SyncFolderItems.CREATE:
                created[item_id] = None
            elif change_type == SyncFolderItems.DELETE:
                created.pop(item_id, None)
        new_state = service.sync_state
        done = bool(service.includes_last_item_in_range) or new_state == state
        state = new_state
        if done:
            return FolderChanges(tuple(created), str(state or ""), pages)
