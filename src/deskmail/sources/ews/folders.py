"""A folder path ("Inbox/Support") to an EWS folder, from the well-known inbox.

The first part "Inbox" (any case, as IMAP writes "INBOX") is the mailbox's
distinguished inbox, whatever its display name in the mailbox's language;
a path that starts elsewhere is read from the top of the information store.
Each further part is a child folder's display name, found by a shallow
FindFolder, so a mailbox with many folders is not walked whole.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from deskmail.sources.errors import SourceError, Step

if TYPE_CHECKING:
    from exchangelib import Account
    from exchangelib.folders import BaseFolder

WELL_KNOWN_INBOX = "inbox"


def path_parts(path: str) -> list[str]:
    """ "Inbox/Support" -> ["Inbox", "Support"]; "/" separates, empty parts are dropped."""
    return [part for part in path.split("/") if part.strip()]


def resolve_folder(account: Account, path: str, server: str) -> BaseFolder:
    """The folder at `path`; raises SourceError(FOLDER) naming the first part not found."""
    from exchangelib.errors import ErrorFolderNotFound

    parts = path_parts(path)
    if parts and parts[0].lower() == WELL_KNOWN_INBOX:
        folder: BaseFolder = account.inbox
        parts = parts[1:]
        walked = ["Inbox"]
    else:
        folder = account.msg_folder_root
        walked = []
    for name in parts:
        try:
            folder = folder // name
        except ErrorFolderNotFound as exc:
            inside = "/".join(walked) or "the top of the mailbox"
            raise SourceError(
                Step.FOLDER, f"no folder {name!r} in {inside} (folder {path!r})", server=server
            ) from exc
        walked.append(name)
    return folder
