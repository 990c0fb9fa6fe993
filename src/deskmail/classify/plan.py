"""What classification decided for one message: the input of the apply stage.

The steps of classify/steps.py each return a refined Plan; the last one is
what apply writes and `deskmail explain` shows, step by step (Plan.trace).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from deskmail.config.fate import Fate, TicketKind
from deskmail.config.rules import TicketSettings
from deskmail.parse.message import ParsedAttachment


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
class DroppedAttachment:
    filename: str
    size: int
    media_type: str
    reason: str  # one sentence, fit for the log and for a note on the ticket
    notify: bool = False  # say it on the ticket: someone may be waiting for this file


@dataclass(frozen=True, slots=True)
class AttachmentSelection:
    kept: tuple[ParsedAttachment, ...]
    dropped: tuple[DroppedAttachment, ...]


@dataclass(frozen=True, slots=True)
class Recorded:
    """An earlier copy of the same bytes, as the journal holds it."""

    ticket_id: int | None
    activity_id: int | None


@dataclass(frozen=True, slots=True)
class Traced:
    """One step of classify/steps.py and what it decided ("" when it had nothing to decide)."""

    step: str
    decided: str


@dataclass(frozen=True, slots=True)
class Capture:
    """A named group's text from a rule's regex condition (classify/rules.py).
    Mail text: shown by `deskmail explain`, never logged."""

    rule: str
    position: int  # the rule's place in job.rules: names need not be unique
    group: str
    text: str


@dataclass(frozen=True, slots=True)
class Extracted:
    """One value a rule gave a field of a new ticket: what classify/extraction.py made of
    a capture, or (given) a custom field's fixed value from the rule's set table."""

    rule: str
    group: str  # the named group it came from ("" for a given value)
    field: str  # a built-in field (priority, group, ...) or a custom field's name
    custom: bool
    value: str | None  # in its stored form; None: left empty, `problem` says why
    problem: str = ""  # never the value: it is mail text and goes to the log
    mapped: bool = False  # through the rule's map table
    given: bool = False  # set.custom of the rule (configuration), not a capture


@dataclass(frozen=True, slots=True)
class Plan:
    fate: Fate | None = None  # None until a step decides (only between steps)
    kind: TicketKind = TicketKind.INCIDENT  # of the new ticket (CREATED)
    ticket_id: int | None = None  # the ticket to add to (UPDATED)
    # For a new ticket: the job's settings with the rules' on top.
    settings: TicketSettings = field(default_factory=TicketSettings)
    link_to: int | None = None  # a new ticket that links to this one (stranger's reply)
    rules_fired: tuple[str, ...] = ()
    reasons: tuple[str, ...] = field(default=())  # one line each, for explain and the log
    auto_reply_due: bool = False
    match: ThreadMatch | None = None  # the ticket the mail answers, whoever may post
    by_rule: bool = False  # a rule asked for the new ticket: create_new_requests allows it
    attachments: AttachmentSelection = AttachmentSelection((), ())
    duplicate_of: Recorded | None = None  # DUPLICATE: the copy taken in before
    trace: tuple[Traced, ...] = ()
    object_type: str | None = None  # a new record of this configured type (CREATED)
    captures: tuple[Capture, ...] = ()  # named groups of the rules that fired, in rule order
    extracted: tuple[Extracted, ...] = ()  # the fields the captures set, or why not

    @property
    def custom_fields(self) -> dict[str, str]:
        """The custom field values of a new ticket: the rules' set values, then the
        captures (classify/extraction.py), the last one of each field winning."""
        return {e.field: e.value for e in self.extracted if e.custom and e.value is not None}

    @property
    def field_problems(self) -> tuple[str, ...]:
        """Why values were left out, one line each, without the values."""
        kept = self.custom_fields
        return tuple(
            f"field '{e.field}' from rule '{e.rule}' "
            + ("not taken, the value set before it stays" if e.field in kept else "left empty")
            + f": {e.problem}"
            for e in self.extracted
            if e.problem
        )

    @property
    def settled(self) -> bool:
        """A step has decided: the steps that decide only when none did before (thread,
        automatic mail, rules) leave the plan as it is."""
        return self.fate is not None
