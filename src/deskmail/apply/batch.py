"""What one intake transaction remembers between its messages, passed explicitly.

A batch of mail asks the database once for what every message needs (the
senders' people and recent tickets) and keeps what it made (teams, groups,
tickets whose rows still wait, numbers drawn in a block). A new Batch per
transaction: a rollback forgets it together with the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from deskmail.store.models import IntakeRecord, Ticket
from deskmail.webhooks.outbox import Subscribers


@dataclass(slots=True)
class Batch:
    # get_or_create: (model, name) -> the row, looked up once per batch (context.py).
    named: dict[tuple[type[Any], str], Any] = field(default_factory=dict)
    # find_person: lower-cased address -> person id, or None for nobody (people.py).
    people: dict[str, int | None] = field(default_factory=dict)
    # The flood limit: lower-cased address -> its tickets of the last hour, newest first
    # (recent_tickets.py), kept current as the batch opens tickets.
    recent_tickets: dict[str, list[int]] = field(default_factory=dict)
    # Tickets made in this batch, whose rows still wait (store/deferred.py), by id.
    made: dict[int, Ticket] = field(default_factory=dict)
    # Team id -> the next ticket number to give, when drawn in a block (tickets.py).
    numbers: dict[int, int] | None = None
    # The journal by SHA-256: earlier copies of the batch's mails, looked up at once, and
    # the batch's own rows (intake/process.py); None: each mail asks the database.
    copies: dict[str, IntakeRecord] | None = None
    # The webhook endpoints, read at the batch's first webhook (webhooks/outbox.py).
    webhooks: Subscribers = field(default_factory=Subscribers)
