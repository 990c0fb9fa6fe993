"""What becomes of a mail: one name for the outcome, from classify's plan to the
journal's record and a run's counts.

In the bottom layer because every stage names it: classify decides it, apply
writes it, the journal stores these words, intake and the reports count them.
A processing rule's `action` (config/rules.py) is not one of them: it is what
a rule asks for, in the configuration's words, and the steps after the rules
(create new requests, the flood limit) may still decide otherwise.
"""

from __future__ import annotations

from enum import StrEnum


class Fate(StrEnum):
    CREATED = "created"  # a new ticket: an incident or an event (TicketKind)
    UPDATED = "updated"  # a mail activity on an existing ticket
    DUPLICATE = "duplicate"  # the same bytes were taken in before, under another key
    IGNORED = "ignored"  # a rule, a bounce or an out-of-office reply: journal only
    DENIED = "denied"  # create_new_requests = false: journal only, an automatic reply is due
    # What intake alone knows: no step decided these mails.
    QUARANTINED = "quarantined"  # failed a stage; raw bytes kept, not acknowledged
    SKIPPED = "skipped"  # another instance recorded it first (never stored)


class TicketKind(StrEnum):
    INCIDENT = "incident"
    EVENT = "event"
