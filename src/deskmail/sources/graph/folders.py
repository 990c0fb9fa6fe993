"""A folder path such as "Inbox/Support", resolved to a folder id.

The first part is matched against Graph's well-known folder names (display
names are translated into the mailbox's language: "Posteingang" is also the
inbox); the rest is walked down one child folder at a time, by a filter on
the display name, following nextLink (folders come 10 to a page).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from deskmail.sources.errors import SourceError, Step
from deskmail.sources.graph.client import GraphClient

# Lower-cased first part of a path -> the well-known name Graph knows it by.
WELL_KNOWN = {
    "inbox": "inbox",
    "archive": "archive",
    "deleted items": "deleteditems",
    "deleteditems": "deleteditems",
    "drafts": "drafts",
    "junk email": "junkemail",
    "junkemail": "junkemail",
    "sent items": "sentitems",
    "sentitems": "sentitems",
    "outbox": "outbox",
    "msgfolderroot": "msgfolderroot",
}
_MAX_PAGES = 1000  # a nextLink that never ends is a server fault, not a reason to hang
LISTED_DEPTH = 3  # folder_paths: "Inbox/Support/Printers" at most


@dataclass(frozen=True, slots=True)
class Folder:
    id: str
    path: str  # as the job wrote it


def mailbox_path(user: str) -> str:
    """The mailbox's URL path: /users/{address or id}."""
    return f"/users/{quote(user, safe='@')}"


def resolve_folder(client: GraphClient, mailbox: str, path: str) -> Folder:
    """The folder `path` names, under `mailbox` (mailbox_path); SourceError(FOLDER) if missing."""
    parts = [part.strip() for part in path.split("/") if part.strip()]
    if not parts:
        raise SourceError(Step.FOLDER, f"folder {path!r} names no folder", server=client.server)
    first = WELL_KNOWN.get(parts[0].casefold())
    if first is not None:
        start, rest = first, parts[1:]
    else:  # a folder beside the inbox: walk from the root of the mailbox
        start, rest = "msgfolderroot", parts
    folder_id = str(client.get(f"{mailbox}/mailFolders/{start}")["id"])
    walked = parts[0] if first is not None else ""
    for name in rest:
        found = _child(client, mailbox, folder_id, name)
        if found is None:
            under = f" under {walked!r}" if walked else " at the top of the mailbox"
            raise SourceError(
                Step.FOLDER,
                f"folder {path!r}: no folder {name!r}{under}",
                server=client.server,
            )
        folder_id = found
        walked = f"{walked}/{name}" if walked else name
    return Folder(folder_id, path)


def _child(client: GraphClient, mailbox: str, parent: str, name: str) -> str | None:
    escaped = name.replace("'", "''")  # OData string literal
    query = urlencode(
        {"$filter": f"displayName eq '{escaped}'", "includeHiddenFolders": "true"},
        quote_via=quote,
        safe="$",
    )
    url = f"{mailbox}/mailFolders/{parent}/childFolders?{query}"
    for _ in range(_MAX_PAGES):
        page = client.get(url)
        for folder in page.get("value", []):
            if str(folder.get("displayName", "")).casefold() == name.casefold():
                return str(folder["id"])
        link = page.get("@odata.nextLink")
        if not isinstance(link, str) or not client.same_server(link):
            return None
        url = link
    return None


def folder_paths(client: GraphClient, mailbox: str, depth: int = LISTED_DEPTH) -> list[str]:
    """Every folder's path as a job writes it ("Inbox/Support"), walked from the top of
    the mailbox down to `depth` levels, in the order Graph lists them."""
    paths: list[str] = []

    def walk(parent: str, prefix: str, level: int) -> None:
        url = f"{mailbox}/mailFolders/{parent}/childFolders?includeHiddenFolders=false"
        for _ in range(_MAX_PAGES):
            page = client.get(url)
            for folder in page.get("value", []):
                path = f"{prefix}{folder.get('displayName', '')}"
                paths.append(path)
                if level < depth:
                    walk(str(folder["id"]), f"{path}/", level + 1)
            link = page.get("@odata.nextLink")
            if not isinstance(link, str) or not client.same_server(link):
                return
            url = link

    walk("msgfolderroot", "", 1)
    return paths
