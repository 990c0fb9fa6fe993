"""One delta round on one folder: the messages added or changed since the saved link.

A round follows nextLink until a deltaLink, which the source saves only once
the round's mail is committed (Source.checkpoint). What Graph documents as
hazards is handled here: `@removed` entries drop a message listed earlier in
the round, a change that comes twice (replayed, or changed twice) is listed
once, `410 Gone` restarts from the Location it names (or from scratch), and an
expired or unknown delta token (syncStateNotFound) restarts from scratch. A
restart lists the whole folder again; the journal knows every key already
taken in, so nothing is ticketed twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from deskmail.sources.errors import SourceError, Step
from deskmail.sources.graph.client import GraphClient, GraphError

log = logging.getLogger("deskmail.sources.graph")

PAGE_SIZE = 200  # messages per page (Prefer: odata.maxpagesize); Graph's default is 10
# Error codes with which Graph says a delta token can no longer be used.
_EXPIRED = frozenset({"syncstatenotfound", "syncstateinvalid", "resyncrequired"})
_MAX_RESTARTS = 3
_MAX_PAGES = 100_000


@dataclass(frozen=True, slots=True)
class DeltaRound:
    ids: list[str]  # messages added or changed, oldest first, each once
    delta_link: str  # where the next round starts, once this one is committed
    resynced: bool  # the saved link could not be used: the whole folder was listed


def first_url(mailbox: str, folder_id: str) -> str:
    return f"{mailbox}/mailFolders/{folder_id}/messages/delta?$select=receivedDateTime"


def read_changes(
    client: GraphClient,
    mailbox: str,
    folder_id: str,
    saved: str | None,
    page_size: int | None = None,
) -> DeltaRound:
    """The round's changes; `page_size` defaults to PAGE_SIZE."""
    size = page_size or PAGE_SIZE
    start = first_url(mailbox, folder_id)
    resynced = saved is not None and not client.same_server(saved)
    url = saved if saved is not None and not resynced else start
    received: dict[str, str] = {}  # id -> receivedDateTime, in the order first seen
    restarts = 0
    for _ in range(_MAX_PAGES):
        response = client.get_or_gone(url, prefer=(f"odata.maxpagesize={size}",))
        code, message = _error(response) if response.status_code >= 400 else ("", "")
        if response.status_code == 410 or code.casefold() in _EXPIRED:
            restarts += 1
            if restarts > _MAX_RESTARTS:
                raise SourceError(
                    Step.PROTOCOL,
                    f"Graph asked for a full resync {restarts} times in one round",
                    server=client.server,
                )
            location = response.headers.get("location")
            url = location if location and client.same_server(location) else start
            why = "410 Gone" if response.status_code == 410 else code
            log.warning("the folder's delta link is no longer valid (%s): reading it again", why)
            received.clear()
            resynced = True
            continue
        if response.status_code >= 400:
            raise GraphError(response.status_code, code, message)
        page = response.json()
        for item in page.get("value", []):
            message_id = str(item.get("id", ""))
            if not message_id:
                continue
            if "@removed" in item:
                received.pop(message_id, None)
            elif message_id not in received:
                received[message_id] = str(item.get("receivedDateTime") or "")
        delta_link = page.get("@odata.deltaLink")
        if isinstance(delta_link, str) and client.same_server(delta_link):
            oldest_first = sorted(received, key=lambda i: received[i] or "~")
            return DeltaRound(oldest_first, delta_link, resynced)
        next_link = page.get("@odata.nextLink")
        if not isinstance(next_link, str) or not client.same_server(next_link):
            raise SourceError(
                Step.PROTOCOL,
                "a delta page ended with neither nextLink nor deltaLink on this server",
                server=client.server,
            )
        url = next_link
    raise SourceError(Step.PROTOCOL, "the delta round did not end", server=client.server)


def _error(response: httpx.Response) -> tuple[str, str]:
    """Graph's error code and message, or empty strings for a body without them."""
    try:
        error = response.json().get("error", {})
        return str(error.get("code", "")), str(error.get("message", ""))
    except (ValueError, AttributeError):
        return "", ""
