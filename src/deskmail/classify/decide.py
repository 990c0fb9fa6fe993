"""What a parsed message should become, before anything is written.

Pure: no database. The apply stage resolves the reference to a ticket and
falls back to a new ticket when none matches. Processing rules, loop and
bounce checks plug in here as more decisions.
"""

from __future__ import annotations

from dataclasses import dataclass

from deskmail.classify.references import TicketReference, find_reference
from deskmail.parse.message import ParsedMessage


@dataclass(frozen=True, slots=True)
class NewTicket:
    """Open a ticket (an incident, from an end user's mail)."""


@dataclass(frozen=True, slots=True)
class FollowUp:
    """Add an activity to the referenced ticket, or open one if it does not exist."""

    reference: TicketReference


Decision = NewTicket | FollowUp


def decide(message: ParsedMessage) -> Decision:
    reference = find_reference(message.subject)
    if reference is not None:
        return FollowUp(reference)
    return NewTicket()
