"""What classification decided for one message: the input of the apply stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from deskmail.config.rules import TicketSettings


class Action(StrEnum):
    CREATE_INCIDENT = "create_incident"
    CREATE_EVENT = "create_event"
    ADD_TO_TICKET = "add_to_ticket"
    IGNORE = "ignore"  # a rule said so: journal only
    DENY = "deny"  # create_new_requests = false: journal only, an automatic reply is due


class MatchedBy(StrEnum):
    MESSAGE_ID = "message-id"  # In-Reply-To / References named a mail of the ticket
    SUBJECT = "subject"  # a ticket reference in the subject


@dataclass(frozen=True, slots=True)
class ThreadMatch:
    """The existing ticket a mail answers, and whether its sender may post to it."""

    ticket_id: int
    team: str
    number: int
    matched_by: MatchedBy
    token_ok: bool  # the reference carried the ticket's unguessable token
    sender_allowed: bool  # requester, user, a participant or an agent

    @property
    def may_post(self) -> bool:
        # A Message-ID match alone is not enough: incoming Message-IDs are chosen by
        # the sender's client and seen by everyone on the thread.
        return self.sender_allowed or self.token_ok

    @property
    def label(self) -> str:
        return f"{self.team}-{self.number}"


@dataclass(frozen=True, slots=True)
class Plan:
    action: Action
    ticket_id: int | None = None  # the ticket to add to (ADD_TO_TICKET)
    # For a new ticket: the job's settings with the rules' on top.
    settings: TicketSettings = field(default_factory=TicketSettings)
    link_to: int | None = None  # a new ticket that links to this one (stranger's reply)
    rules_fired: tuple[str, ...] = ()
    reasons: tuple[str, ...] = field(default=())  # one line each, for explain and the log
    auto_reply_due: bool = False
