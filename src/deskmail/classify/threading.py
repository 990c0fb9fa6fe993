"""Which existing ticket a mail answers, and whether its sender may post to it.

In order: In-Reply-To, then References newest first, against the Message-IDs
recorded for tickets (mail received and sent); then a ticket reference in the
subject (or a record's, "[PO-42]"); then nothing. Pure: the reads go through
TicketLookup (the store's implementation is apply/threads.py), so this is
tested with a fake.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from deskmail.classify.mail import Mail
from deskmail.classify.plan import MatchedBy, Plan, ThreadMatch
from deskmail.classify.record_references import find_record_reference
from deskmail.classify.references import TicketReference, find_reference
from deskmail.parse.message import ParsedMessage

if TYPE_CHECKING:  # lookups.py builds on TicketLookup below
    from deskmail.classify.lookups import Lookups

# A References header can list thousands of ids (a hostile or very long
# thread); the newest ones are the ones that matter, and the lookup is one
# IN (...) query that must stay under every database's parameter limit.
MAX_REPLY_IDS = 50
MAX_MESSAGE_ID = 1000  # the width of ticket_message.message_id


@dataclass(frozen=True, slots=True)
class TicketRef:
    id: int
    team: str
    number: int
    token: str


class TicketLookup(Protocol):
    def ticket_for_message_ids(self, message_ids: Sequence[str], team: str) -> TicketRef | None:
        """The ticket of the first id in message_ids recorded for a ticket.

        When one id belongs to tickets of several teams (a mail sent to two
        mailboxes), the ticket of `team` wins.
        """
        ...

    def ticket_by_number(self, team: str, number: int) -> TicketRef | None: ...

    def may_post(self, ticket_id: int, address: str) -> bool:
        """Whether the (lower-cased) address is the requester's, the user's, a
        participant's or an agent's."""
        ...


def decide(mail: Mail, plan: Plan, lookups: Lookups) -> tuple[Plan, str]:
    """The step: the ticket the mail answers, for the steps after it (a copy has none)."""
    if plan.settled:
        return plan, ""
    prefixes = tuple(kind.prefix for kind in mail.job.records.object_types)
    match = find_thread(mail.message, lookups, mail.job.team, mail.job.reference_pattern, prefixes)
    if match is None:
        return plan, "answers no ticket"
    poster = "may" if match.may_post else "may not"
    said = f"answers {match.label} (by {match.matched_by.value}); the sender {poster} post to it"
    return replace(plan, match=match), said


def find_thread(
    message: ParsedMessage,
    lookup: TicketLookup,
    team: str,
    extra_pattern: str | None = None,
    prefixes: tuple[str, ...] = (),
) -> ThreadMatch | None:
    """The ticket the message answers, or None. `team` is the job's team; `prefixes`
    those of the object types, whose records' references ("[PO-42]") count too."""
    reference = find_reference(message.subject, extra_pattern)
    if reference is None:
        number = find_record_reference(message.subject, prefixes)
        reference = TicketReference(number) if number is not None else None
    token = reference.token if reference else None
    ids = reply_ids(message)
    ticket = lookup.ticket_for_message_ids(ids, team) if ids else None
    matched_by = MatchedBy.MESSAGE_ID
    if ticket is None and reference is not None:
        ticket = lookup.ticket_by_number(reference.team or team, reference.number)
        matched_by = MatchedBy.SUBJECT
    if ticket is None:
        return None
    sender = message.sender.normalized if message.sender else ""
    return ThreadMatch(
        ticket_id=ticket.id,
        team=ticket.team,
        number=ticket.number,
        matched_by=matched_by,
        token_ok=token_matches(token, ticket.token),
        sender_allowed=bool(sender) and lookup.may_post(ticket.id, sender),
    )


def reply_ids(message: ParsedMessage) -> list[str]:
    """In-Reply-To, then References newest first; normalised, de-duplicated, capped."""
    candidates = [message.in_reply_to or "", *reversed(message.references)]
    ids: list[str] = []
    for candidate in candidates:
        normal = normalize_message_id(candidate)
        if normal and len(normal) <= MAX_MESSAGE_ID and normal not in ids:
            ids.append(normal)
            if len(ids) == MAX_REPLY_IDS:
                break
    return ids


def normalize_message_id(value: str) -> str:
    """The id without spaces and angle brackets: the form recorded and looked up."""
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    return value


def token_matches(given: str | None, expected: str) -> bool:
    # Constant time: the token is the secret that lets a stranger post.
    if not given or not expected:
        return False
    return hmac.compare_digest(given.lower().encode(), expected.lower().encode())
