"""What the steps may ask the store, as Protocols: apply/lookups.py answers them from the
database, tests from fakes. classify/ itself never imports the store."""

from __future__ import annotations

from typing import Protocol

from deskmail.classify.plan import Recorded
from deskmail.classify.threading import TicketLookup, TicketRef


class Lookups(TicketLookup, Protocol):
    def same_bytes(self, sha256: str) -> Recorded | None:
        """A copy of these bytes this job took in before (under another source key)."""
        ...

    def recent_ticket(self, address: str, limit: int) -> TicketRef | None:
        """The (lower-cased) sender's latest ticket when they opened `limit` tickets
        through this job in the last hour; otherwise None."""
        ...

    def inline_image_seen(self, sender: str | None, sha256: str) -> bool:
        """Whether this sender sent this exact inline image before (a signature logo)."""
        ...
