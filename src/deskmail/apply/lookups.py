"""The store's answers to what classify's steps ask (classify/lookups.py), in the
intake transaction or explain's read-only session."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from deskmail.apply.attachments import inline_seen_from
from deskmail.apply.batch import Batch
from deskmail.apply.recent_tickets import recent_ticket_for_sender
from deskmail.apply.threads import StoreLookup
from deskmail.classify.plan import Recorded
from deskmail.classify.threading import TicketRef
from deskmail.config.models import JobConfig


class StoreLookups(StoreLookup):
    """`batch`: what the transaction knows already; `same_bytes`: the journal's answer
    (intake/journal.py), None: no journal is asked."""

    def __init__(
        self,
        session: Session,
        batch: Batch,
        job: JobConfig,
        same_bytes: Callable[[str], Recorded | None] | None = None,
    ) -> None:
        super().__init__(session)
        self.batch = batch
        self.job = job
        self._same_bytes = same_bytes

    def same_bytes(self, sha256: str) -> Recorded | None:
        return self._same_bytes(sha256) if self._same_bytes is not None else None

    def recent_ticket(self, address: str, limit: int) -> TicketRef | None:
        ticket = recent_ticket_for_sender(self.session, self.job, address, limit, self.batch)
        if ticket is None:
            return None
        return TicketRef(ticket.id, ticket.team.name, ticket.number, ticket.token)

    def inline_image_seen(self, sender: str | None, sha256: str) -> bool:
        return inline_seen_from(self.session, sender, sha256)
