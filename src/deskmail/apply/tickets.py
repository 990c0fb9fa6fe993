"""Writing a plan to the store: a new ticket or event, or an activity on one.

Everything here runs inside the intake transaction: it flushes, never commits.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Table, bindparam, event, update
from sqlalchemy.orm import Session

from deskmail.apply.attachments import note_dropped, store_attachments
from deskmail.apply.batch import Batch
from deskmail.apply.context import JobContext, get_or_create
from deskmail.apply.custom_fields import stored_custom_fields, write_custom_fields
from deskmail.apply.draft import TicketDraft, draft_ticket
from deskmail.apply.people import find_person
from deskmail.apply.threads import record_message, record_participants, waiting_ticket
from deskmail.classify.plan import AttachmentSelection, Plan
from deskmail.config.fate import Fate
from deskmail.parse.message import ParsedAttachment, ParsedMessage
from deskmail.store import deferred
from deskmail.store.blobs import BlobWriter
from deskmail.store.ids import next_id
from deskmail.store.models import (
    Activity,
    ActivityKind,
    Group,
    Site,
    Source,
    Team,
    Ticket,
    TicketStatus,
    new_token,
    utcnow,
)
from deskmail.webhooks.outbox import queue_webhook
from deskmail.webhooks.payloads import ActivityAdded, TicketCreated

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Applied:
    ticket_id: int
    ticket_number: int
    team: str
    activity_id: int | None  # None when a ticket was created
    # For the automatic mails: a ticket of a batch is not in the session (deferred
    # row); one held here is not looked up again.
    ticket: Ticket | None = field(default=None, compare=False, repr=False)

    @property
    def created(self) -> bool:
        return self.activity_id is None

    @property
    def label(self) -> str:
        return f"{self.team}-{self.ticket_number}"


@dataclass(frozen=True, slots=True)
class Content:
    """What the message contributes, after preprocessing and the attachment policy."""

    message: ParsedMessage
    text: str  # preprocessed
    attachments: AttachmentSelection
    raw_attachment: ParsedAttachment | None = None  # include_raw_message


def apply_plan(
    session: Session,
    batch: Batch,
    blobs: BlobWriter,
    context: JobContext,
    content: Content,
    plan: Plan,
) -> Applied | None:
    """None for IGNORED and DENIED: the journal row alone records those."""
    if plan.fate is Fate.UPDATED and plan.ticket_id is not None:
        ticket = _ticket_to_update(session, batch, plan.ticket_id)
        if ticket is not None:
            return _add_activity(session, batch, blobs, ticket, content, context)
    if plan.fate in (Fate.IGNORED, Fate.DENIED):
        return None
    draft = draft_ticket(session, context, content.message, plan, batch)
    return _create_ticket(session, batch, blobs, draft, content, context)


def _ticket_to_update(session: Session, batch: Batch, ticket_id: int) -> Ticket | None:
    """The ticket a reply goes to. One of an earlier batch is read without writing
    this batch's rows; for one made in this batch, whose row still waits, the
    object made with it (loading it would write every waiting row first: 30
    rounds of writes in the benchmark's run)."""
    if waiting_ticket(session, ticket_id) is not None:
        return batch.made[ticket_id]
    return session.get(Ticket, ticket_id, execution_options=deferred.WITHOUT_WRITING)


# One atomic UPDATE ... RETURNING: concurrent writers can never draw the same number.
# With step 0 (numbers drawn in a block) it only takes the row's lock (PostgreSQL;
# SQLite's write lock is already held) and reads the next number. Built once, run
# on the session's connection: the ORM would also look for Team objects to
# refresh, which cost as much as the UPDATE itself.
_TEAM = cast(Table, Team.__table__)
_DRAW_NUMBER = (
    update(_TEAM)
    .where(_TEAM.c.id == bindparam("team_id"))
    .values(next_number=_TEAM.c.next_number + bindparam("step"))
    .returning(_TEAM.c.next_number)
)
_SET_NUMBER = (
    update(_TEAM).where(_TEAM.c.id == bindparam("team_id")).values(next_number=bindparam("next"))
)


def draw_numbers_in_block(session: Session, batch: Batch) -> None:
    """Ticket numbers of this transaction from a counter: one UPDATE per team and batch.

    The first number locks the team's row until the commit, so no other
    instance draws meanwhile; the commit writes the counter back, and a
    rollback forgets it, as it forgets the tickets: numbers stay gapless. Only
    for a transaction with no savepoint that could undo a ticket but not the
    counter (a batch of intake).
    """
    batch.numbers = {}

    def write_back(session: Session) -> None:
        numbers, batch.numbers = batch.numbers or {}, None
        for team_id, following in numbers.items():
            session.connection().execute(_SET_NUMBER, {"team_id": team_id, "next": following})

    event.listen(session, "before_commit", write_back)


def _advance(session: Session, team_id: int, step: int) -> int:
    """The team's next number, once `step` is added to it."""
    drawn = session.connection().execute(_DRAW_NUMBER, {"team_id": team_id, "step": step})
    return int(drawn.scalar_one())


def next_ticket_number(session: Session, team_id: int, batch: Batch | None = None) -> int:
    """`batch`: numbers drawn in a block (draw_numbers_in_block), else one UPDATE each."""
    block = batch.numbers if batch is not None else None
    if block is None:
        return _advance(session, team_id, 1) - 1
    if team_id not in block:
        block[team_id] = _advance(session, team_id, 0)
    number = block[team_id]
    block[team_id] = number + 1
    return number


def _create_ticket(
    session: Session,
    batch: Batch,
    blobs: BlobWriter,
    draft: TicketDraft,
    content: Content,
    context: JobContext,
) -> Applied:
    message = content.message
    team = get_or_create(session, Team, draft.team, batch=batch)
    new_groups: list[str] = []
    new_sites: list[str] = []
    now = utcnow()
    values = {
        "id": next_id(session, "ticket"),
        "team_id": team.id,
        "number": next_ticket_number(session, team.id, batch),
        "kind": draft.kind,
        "status": TicketStatus.NEW,
        "subject": message.subject[:2000],
        "description": content.text,
        "description_html": message.html_safe,
        "requester_id": draft.requester_id,
        "user_id": draft.requester_id,
        "assignee_id": draft.assignee_id,
        "group_id": (
            get_or_create(session, Group, draft.group, new_groups, batch).id
            if draft.group
            else None
        ),
        "site_id": (
            get_or_create(session, Site, draft.site, new_sites, batch).id if draft.site else None
        ),
        "source_id": get_or_create(session, Source, draft.source, batch=batch).id,
        "priority": draft.priority,
        "category": draft.category,
        "object_type": draft.object_type,
        "token": new_token(),
        "linked_ticket_id": draft.link_to,
        "sender_address": message.sender.address[:320] if message.sender else None,
        "sender_name": message.sender.name[:300] if message.sender else None,
        "created_at": now,
        "updated_at": now,
    }
    # Parent: automatic mails and notes (ORM rows) may refer to it. The team is set
    # for the automatic mails, which read its name.
    ticket = _new_row(session, Ticket, values, parent=True, team=team)
    batch.made[ticket.id] = ticket
    write_custom_fields(session, ticket.id, draft.custom_fields)
    _remember(session, ticket, None, message)
    _store_files(session, blobs, ticket, None, content)
    notes = [
        *draft.problems,
        *(f"group {name!r} matched no group; it was created" for name in new_groups),
        *(f"site {name!r} matched no site; it was created" for name in new_sites),
    ]
    if notes:
        _note_names(session, ticket, notes)
    if draft.field_problems:
        for problem in draft.field_problems:  # which field and why; never the value (mail text)
            log.warning("ticket %s-%s: %s", team.name, ticket.number, problem)
        _note(session, ticket, "Values from the mail that were left out", draft.field_problems)
    made = Applied(ticket.id, ticket.number, team.name, None, ticket)
    created = TicketCreated(
        ticket.id,
        made.label,
        team.name,
        ticket.number,
        draft.kind,
        context.job,
        message.message_id,
        now,
        draft.object_type,
    )
    queue_webhook(
        session,
        created,
        subject=message.subject,
        custom_fields=lambda: context.records.values_of(draft.object_type, draft.custom_fields),
        subscribers=batch.webhooks,
    )
    return made


def _note_names(session: Session, ticket: Ticket, notes: list[str]) -> None:
    """Names of the configuration that matched nobody, said on the ticket they concern
    (and in the log): else an assignee that matches nobody is dropped unseen."""
    label = f"{ticket.team.name}-{ticket.number}"
    for note in notes:
        log.warning("job settings for %s: %s", label, note)
    _note(session, ticket, "Settings that matched nothing", notes)


def _note(session: Session, ticket: Ticket, title: str, lines: Sequence[str]) -> None:
    """A system note on the ticket: deskmail's own words, a line each."""
    session.add(
        Activity(
            id=next_id(session, "activity"),  # the batch's block, as note_dropped
            ticket_id=ticket.id,  # not ticket=: a ticket of a batch is not in the session
            kind=ActivityKind.SYSTEM,
            body=f"{title}:\n" + "\n".join(f"- {line}" for line in lines),
            occurred_at=utcnow(),
            created_at=utcnow(),
        )
    )


def _add_activity(
    session: Session,
    batch: Batch,
    blobs: BlobWriter,
    ticket: Ticket,
    content: Content,
    context: JobContext,
) -> Applied:
    message = content.message
    author = find_person(session, message.sender, batch)
    now = utcnow()
    values = {
        "id": next_id(session, "activity"),
        "ticket_id": ticket.id,
        "kind": ActivityKind.MAIL,
        "author_id": author.id if author else None,
        "from_address": message.sender.address[:320] if message.sender else None,
        "from_name": message.sender.name[:300] if message.sender else None,
        "subject": message.subject,
        "body": content.text,
        "body_html": message.html_safe,
        "occurred_at": _as_utc(message.date) or now,
        "created_at": now,
    }
    waiting = waiting_ticket(session, ticket.id)
    if waiting is not None:  # made in this batch: its row, still to be written, takes it
        waiting["updated_at"] = now
    ticket.updated_at = now
    activity = _new_row(session, Activity, values)
    _remember(session, ticket, activity, message)
    _store_files(session, blobs, ticket, activity, content)
    made = Applied(ticket.id, ticket.number, ticket.team.name, activity.id, ticket)
    added = ActivityAdded(
        activity.id, ticket.id, made.label, context.job, message.message_id, now, ticket.object_type
    )
    queue_webhook(
        session,
        added,
        subject=message.subject,
        custom_fields=lambda: context.records.values_of(
            ticket.object_type, stored_custom_fields(session, ticket.id)
        ),
        subscribers=batch.webhooks,
    )
    return made


NewRow = TypeVar("NewRow", Ticket, Activity)


def _new_row(
    session: Session,
    model: type[NewRow],
    values: dict[str, Any],
    *,
    parent: bool = False,
    **related: object,
) -> NewRow:
    """A new ticket or activity. In a transaction of its own (no id handed out) the ORM
    inserts it, for its id. In a batch it waits as plain values with the batch's other
    rows (store/deferred.py; the unit of work for each ticket cost 4% of a run), and
    the object, never added to the session, carries its values for what follows."""
    row = model(**values, **related)
    if values["id"] is None:
        session.add(row)
        session.flush()
    else:
        deferred.insert(session, cast(Table, model.__table__), values, parent=parent)
    return row


def _remember(
    session: Session, ticket: Ticket, activity: Activity | None, message: ParsedMessage
) -> None:
    """Message-ID for threading; sender and Cc'd colleagues may post to the ticket later."""
    new_ticket = activity is None
    if message.message_id:
        record_message(session, ticket, activity, message.message_id, "in", new_ticket=new_ticket)
    addresses = [a.normalized for a in (message.sender, *message.cc) if a is not None]
    record_participants(session, ticket, addresses, exclude=set())


def _store_files(
    session: Session, blobs: BlobWriter, ticket: Ticket, activity: Activity | None, content: Content
) -> None:
    files = content.attachments.kept
    if content.raw_attachment is not None:
        files = (*files, content.raw_attachment)
    store_attachments(session, blobs, files, ticket, activity)
    note_dropped(session, ticket, content.attachments.dropped)


def _as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
