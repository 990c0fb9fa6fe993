"""Threading against the store: the reads of classify/threading.py, and the
writes that make later replies findable (Message-IDs and participants).

The writes run inside the intake transaction; they never commit. Their rows
go through store/deferred.py: written with the batch's next query or commit.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any, Literal, cast

from sqlalchemy import (
    BindParameter,
    Executable,
    Result,
    Select,
    Table,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from deskmail.classify.threading import MAX_MESSAGE_ID, TicketRef, normalize_message_id
from deskmail.store import deferred
from deskmail.store.models import (
    Activity,
    Person,
    PersonAddress,
    Team,
    Ticket,
    TicketMessage,
    TicketParticipant,
    utcnow,
)

Direction = Literal["in", "out"]
_MESSAGES = cast(Table, TicketMessage.__table__)
_TICKETS = cast(Table, Ticket.__table__)
_PARTICIPANTS = cast(Table, TicketParticipant.__table__)
MAX_ADDRESS = 320  # the width of the address columns
_PARTICIPANT_KEY = ("ticket_id", "address")  # uq_participant_ticket_address
_MAX_NUMBER = 2**31 - 1  # ticket.number is a 32-bit INTEGER; PostgreSQL refuses larger


class StoreLookup:
    """TicketLookup over a session: one query per call.

    In a batch, the rows the batch has made wait (store/deferred.py). The
    lookups read those rows themselves and ask the database, on the session's
    connection, only for the rest: the batch's rows go to the database
    together, at its commit. (Writing them for a reply to a mail of the same
    batch, so that a query would see them, was a round of writes for every
    table, 32 times in the benchmark's 35 batches.)
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def ticket_for_message_ids(self, message_ids: Sequence[str], team: str) -> TicketRef | None:
        if not message_ids:
            return None
        wanted = set(message_ids)
        # Newest first: a waiting row is newer than any in the database.
        waiting = [
            (row["message_id"], row["ticket_id"])
            for row in deferred.pending(self.session, _MESSAGES)
            if row["message_id"] in wanted
        ][::-1]
        refs = self._refs({ticket_id for _message_id, ticket_id in waiting})
        rows = _read(self.session, _BY_MESSAGE_IDS, {"ids": list(message_ids)}).all()
        for message_id in message_ids:
            found = [refs[ticket_id] for waited, ticket_id in waiting if waited == message_id]
            found += [_ref(row) for row in rows if row.message_id == message_id]
            if found:
                return next((ref for ref in found if ref.team == team), found[0])
        return None

    def ticket_by_number(self, team: str, number: int) -> TicketRef | None:
        if not 0 < number <= _MAX_NUMBER:
            return None
        waiting = [
            row for row in deferred.pending(self.session, _TICKETS) if row["number"] == number
        ]
        params = {"number": number, "team": team, "team_lower": team.lower()}
        stored = _read(self.session, _BY_NUMBER, params).first()
        found = [self._waiting_ref(row) for row in waiting] + ([_ref(stored)] if stored else [])
        # As _BY_NUMBER orders them: the team's exact spelling first, then any casing.
        exact = [ref for ref in found if ref.team == team]
        return next(iter(exact + [ref for ref in found if ref.team.lower() == team.lower()]), None)

    def may_post(self, ticket_id: int, address: str) -> bool:
        address = address.strip().lower()
        if not address:
            return False
        wanted = {"ticket_id": ticket_id, "address": address}
        if any(row == wanted for row in deferred.pending(self.session, _PARTICIPANTS)):
            return True
        waiting = waiting_ticket(self.session, ticket_id)
        if waiting is not None:
            # A ticket of this batch: all its participants are waiting too (rows are
            # written all at once), and neither it nor its sender is in the database.
            return self._may_post_waiting(waiting, address)
        return bool(_read(self.session, _MAY_POST, wanted).scalar())

    def _may_post_waiting(self, ticket: dict[str, Any], address: str) -> bool:
        """_MAY_POST for a ticket not in the database yet: its people are."""
        if (ticket.get("sender_address") or "").lower() == address:
            return True
        people = {ticket.get("requester_id"), ticket.get("user_id")} - {None}
        params = {"address": address, "people": list(people)}
        return bool(_read(self.session, _AGENT_OR_PERSON, params).scalar())

    def _refs(self, ticket_ids: set[int]) -> dict[int, TicketRef]:
        """TicketRefs of tickets a waiting row names: waiting themselves, or in the database."""
        refs = {
            row["id"]: self._waiting_ref(row)
            for row in deferred.pending(self.session, _TICKETS)
            if row["id"] in ticket_ids
        }
        stored = ticket_ids - refs.keys()
        if stored:
            for row in _read(self.session, _BY_IDS, {"ids": list(stored)}):
                refs[row.id] = _ref(row)
        return refs

    def _waiting_ref(self, row: dict[str, Any]) -> TicketRef:
        # The batch's teams are held by get_or_create: no query.
        team = self.session.get(Team, row["team_id"], execution_options=deferred.WITHOUT_WRITING)
        assert team is not None  # a ticket's team is in the database before the ticket
        return TicketRef(row["id"], team.name, row["number"], row["token"])


def _ref(row: Any) -> TicketRef:
    return TicketRef(row.id, row.team, row.number, row.token)


def waiting_ticket(session: Session, ticket_id: int) -> dict[str, Any] | None:
    """The ticket's row if it is one of this batch's, not in the database yet."""
    return next(
        (row for row in deferred.pending(session, _TICKETS) if row["id"] == ticket_id), None
    )


def _read(session: Session, statement: Executable, params: dict[str, Any]) -> Result[Any]:
    """A lookup on the session's connection, past its flushes (SQLAlchemy flushes before
    every statement the session runs): the caller has read the waiting rows itself."""
    return session.connection().execute(statement, params)


# The lookups run for every reply: built once, with bind parameters. Building a
# statement and its cache key on every call was 5% of a 1,000-mail run.
_REFS = select(Ticket.id, Team.name.label("team"), Ticket.number, Ticket.token).join(
    Team, Team.id == Ticket.team_id
)
_BY_MESSAGE_IDS = (
    _REFS.add_columns(TicketMessage.message_id)
    .join(TicketMessage, TicketMessage.ticket_id == Ticket.id)
    .where(TicketMessage.message_id.in_(bindparam("ids", expanding=True)))
    # Newest record first, so among equals the latest ticket wins.
    .order_by(TicketMessage.id.desc())
)
_BY_NUMBER = (
    _REFS.where(
        Ticket.number == bindparam("number"),
        # Some clients re-case subjects; the exact spelling wins if both exist.
        or_(Team.name == bindparam("team"), func.lower(Team.name) == bindparam("team_lower")),
    )
    .order_by(case((Team.name == bindparam("team"), 0), else_=1))
    .limit(1)
)


def _may_post() -> Select[bool]:
    ticket_id: BindParameter[int] = bindparam("ticket_id")
    address: BindParameter[str] = bindparam("address")
    participant = exists().where(
        TicketParticipant.ticket_id == ticket_id, TicketParticipant.address == address
    )
    owner = exists().where(
        Ticket.id == ticket_id,
        or_(
            Ticket.requester_id == PersonAddress.person_id,
            Ticket.user_id == PersonAddress.person_id,
        ),
    )
    person = exists().where(
        PersonAddress.address == address,
        Person.id == PersonAddress.person_id,
        or_(Person.is_agent, owner),
    )
    # Tickets from before participants were recorded still know their sender.
    sender = exists().where(Ticket.id == ticket_id, func.lower(Ticket.sender_address) == address)
    return select(or_(participant, person, sender))


_MAY_POST = _may_post()
# _MAY_POST's person clause for a ticket not in the database yet: its people given.
_AGENT_OR_PERSON = select(
    exists().where(
        PersonAddress.address == bindparam("address"),
        Person.id == PersonAddress.person_id,
        or_(Person.is_agent, Person.id.in_(bindparam("people", expanding=True))),
    )
)
_BY_IDS = _REFS.where(Ticket.id.in_(bindparam("ids", expanding=True)))
_KNOWN_MESSAGE = select(
    exists().where(
        TicketMessage.ticket_id == bindparam("ticket_id"),
        TicketMessage.message_id == bindparam("message_id"),
    )
)


def record_message(
    session: Session,
    ticket: Ticket,
    activity: Activity | None,
    message_id: str,
    direction: Direction,
    *,
    new_ticket: bool = False,
) -> str | None:
    """Remember a Message-ID of the ticket, received ("in") or sent ("out").

    Returns the id as recorded (normalized); None for an empty or over-long
    id, or one already recorded for this ticket (a quarantined mail retried, a
    copy from a second mailbox). `new_ticket`: created in this transaction, so
    it has none yet (saves a query).
    """
    message_id = normalize_message_id(message_id)
    if not message_id or len(message_id) > MAX_MESSAGE_ID:
        return None
    deferred.ensure_ids(session, ticket, activity)
    if not new_ticket:
        key = {"ticket_id": ticket.id, "message_id": message_id}
        rows_waiting = deferred.pending(session, _MESSAGES)
        if (ticket.id, message_id) in ((r["ticket_id"], r["message_id"]) for r in rows_waiting):
            return None
        # The waiting rows were looked at: the database answers for the rest, unless the
        # ticket is waiting too (then none of its rows is in the database).
        if (
            waiting_ticket(session, ticket.id) is None
            and _read(session, _KNOWN_MESSAGE, key).scalar()
        ):
            return None
    row = {
        "ticket_id": ticket.id,
        "activity_id": activity.id if activity else None,
        "message_id": message_id,
        "direction": direction,
        "created_at": utcnow(),
    }
    deferred.insert(session, _MESSAGES, row)
    return message_id


def record_participants(
    session: Session,
    ticket: Ticket,
    addresses: Iterable[str],
    *,
    exclude: Collection[str],
) -> list[str]:
    """Let these addresses post to the ticket by mail; returns them as recorded.

    Lower-cased and de-duplicated; `exclude` holds our own mailbox addresses
    (a participant there would let our own mail, or a forgery of it, post).
    Existing rows are left alone, also when another instance adds the same
    address concurrently (INSERT ... ON CONFLICT DO NOTHING). The rows are
    written with the transaction's next query or its commit (store/deferred.py).
    """
    excluded = {address.strip().lower() for address in exclude}
    wanted = dict.fromkeys(
        normal
        for normal in (address.strip().lower() for address in addresses)
        if normal and len(normal) <= MAX_ADDRESS and normal not in excluded
    )
    if not wanted:
        return []
    deferred.ensure_ids(session, ticket)
    for address in wanted:
        row = {"ticket_id": ticket.id, "address": address}
        deferred.insert(session, _PARTICIPANTS, row, unless_exists=_PARTICIPANT_KEY)
    return list(wanted)
