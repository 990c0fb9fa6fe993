"""StoreLookup and the threading writes against real rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from deskmail.apply.threads import Direction, StoreLookup, record_message, record_participants
from deskmail.classify.plan import MatchedBy
from deskmail.classify.threading import TicketRef, find_thread
from deskmail.parse.message import Address, ParsedMessage
from deskmail.store import deferred
from deskmail.store.engine import Store
from deskmail.store.models import (
    Activity,
    ActivityKind,
    Person,
    PersonAddress,
    Team,
    Ticket,
    TicketKind,
    TicketMessage,
    TicketParticipant,
)


@dataclass(frozen=True)
class Seeded:
    it_1: TicketRef  # requester alice, user bob, sent by a legacy address
    it_2: TicketRef  # requester dave
    hr_1: TicketRef  # requester alice


def _person(session: Session, name: str, *addresses: str, agent: bool = False) -> Person:
    person = Person(
        name=name, is_agent=agent, addresses=[PersonAddress(address=a) for a in addresses]
    )
    session.add(person)
    return person


def _ticket(
    session: Session, team: Team, number: int, requester: Person, user: Person | None = None
) -> Ticket:
    ticket = Ticket(
        team=team,
        number=number,
        kind=TicketKind.INCIDENT,
        requester=requester,
        user=user or requester,
        token=f"{team.name.lower()}{number}tokenx"[:8],
    )
    session.add(ticket)
    return ticket


def _ref(ticket: Ticket) -> TicketRef:
    return TicketRef(ticket.id, ticket.team.name, ticket.number, ticket.token)


@pytest.fixture
def seeded(store: Store) -> Seeded:
    with store.transaction() as session:
        it, hr = Team(name="IT"), Team(name="HR")
        alice = _person(session, "Alice", "alice@example.com", "a.smith@example.org")
        bob = _person(session, "Bob", "bob@example.com")
        _person(session, "Carol", "carol@desk.example.com", agent=True)
        dave = _person(session, "Dave", "dave@example.com")
        it_1 = _ticket(session, it, 1, alice, bob)
        it_1.sender_address = "Legacy.Sender@Example.com"
        it_2 = _ticket(session, it, 2, dave)
        hr_1 = _ticket(session, hr, 1, alice)
        session.flush()
        return Seeded(_ref(it_1), _ref(it_2), _ref(hr_1))


def _record(store: Store, ref: TicketRef, message_id: str, direction: Direction = "in") -> None:
    with store.transaction() as session:
        ticket = session.get_one(Ticket, ref.id)
        record_message(session, ticket, None, message_id, direction)


def _alice(session: Session) -> Person:
    return session.scalars(select(Person).where(Person.name == "Alice")).one()


# --- Message-IDs ---------------------------------------------------------------------------


def test_message_ids_received_and_sent_find_their_ticket(store: Store, seeded: Seeded) -> None:
    _record(store, seeded.it_1, "<first@client.example>", "in")
    _record(store, seeded.it_1, "<reply-1@desk.example>", "out")
    _record(store, seeded.it_2, "other@client.example", "in")
    with store.session() as session:
        lookup = StoreLookup(session)
        assert lookup.ticket_for_message_ids(["first@client.example"], "IT") == seeded.it_1
        assert lookup.ticket_for_message_ids(["reply-1@desk.example"], "IT") == seeded.it_1
        assert lookup.ticket_for_message_ids(["nope@x", "other@client.example"], "IT") == (
            seeded.it_2
        )
        # The first id in the list wins, whatever the order of the rows.
        ids = ["other@client.example", "first@client.example"]
        assert lookup.ticket_for_message_ids(ids, "IT") == seeded.it_2
        assert lookup.ticket_for_message_ids(["nope@x"], "IT") is None
        assert lookup.ticket_for_message_ids([], "IT") is None
        # Message-IDs are compared exactly (their local part is case-sensitive).
        assert lookup.ticket_for_message_ids(["FIRST@client.example"], "IT") is None


def test_one_message_id_on_two_teams_prefers_the_jobs_team(store: Store, seeded: Seeded) -> None:
    _record(store, seeded.it_1, "both@client.example")
    _record(store, seeded.hr_1, "both@client.example")
    with store.session() as session:
        lookup = StoreLookup(session)
        assert lookup.ticket_for_message_ids(["both@client.example"], "IT") == seeded.it_1
        assert lookup.ticket_for_message_ids(["both@client.example"], "HR") == seeded.hr_1
        # Neither team: the latest recorded.
        assert lookup.ticket_for_message_ids(["both@client.example"], "Ops") == seeded.hr_1


def test_record_message_skips_repeats_empty_and_over_long_ids(store: Store, seeded: Seeded) -> None:
    with store.transaction() as session:
        ticket = session.get_one(Ticket, seeded.it_1.id)
        activity = Activity(ticket=ticket, kind=ActivityKind.MAIL)
        session.add(activity)
        # Flushes for the ids; returns the id as recorded.
        assert record_message(session, ticket, activity, " <a@x> ", "in") == "a@x"
        assert record_message(session, ticket, None, "a@x", "out") is None
        assert record_message(session, ticket, None, "<>", "in") is None
        assert record_message(session, ticket, None, "x" * 1001, "in") is None
        activity_id = activity.id
    with store.session() as session:
        rows = session.execute(
            select(TicketMessage.message_id, TicketMessage.activity_id, TicketMessage.direction)
        ).all()
    assert [tuple(row) for row in rows] == [("a@x", activity_id, "in")]


# --- ticket numbers ------------------------------------------------------------------------


def test_ticket_by_number_across_teams(store: Store, seeded: Seeded) -> None:
    with store.session() as session:
        lookup = StoreLookup(session)
        assert lookup.ticket_by_number("IT", 1) == seeded.it_1
        assert lookup.ticket_by_number("HR", 1) == seeded.hr_1
        assert lookup.ticket_by_number("it", 2) == seeded.it_2  # a re-cased subject
        assert lookup.ticket_by_number("HR", 2) is None
        assert lookup.ticket_by_number("Ops", 1) is None
        assert lookup.ticket_by_number("IT", 0) is None
        assert lookup.ticket_by_number("IT", 999_999_999_999) is None  # beyond INTEGER


def test_exact_team_spelling_wins_over_a_case_insensitive_one(store: Store, seeded: Seeded) -> None:
    with store.transaction() as session:
        it_lower = _ticket(session, Team(name="it"), 1, _alice(session))
        session.flush()
        expected = _ref(it_lower)
    with store.session() as session:
        lookup = StoreLookup(session)
        assert lookup.ticket_by_number("it", 1) == expected
        assert lookup.ticket_by_number("IT", 1) == seeded.it_1


# --- who may post --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "on_it_1", "on_it_2"),
    [
        ("alice@example.com", True, False),  # requester of IT-1 only
        ("A.Smith@Example.ORG", True, False),  # her other address, re-cased
        ("bob@example.com", True, False),  # user of IT-1
        ("dave@example.com", False, True),
        ("carol@desk.example.com", True, True),  # an agent, on every ticket
        ("legacy.sender@example.com", True, False),  # IT-1's sender, not a person
        ("mallory@evil.example", False, False),
        ("", False, False),
    ],
)
def test_may_post(store: Store, seeded: Seeded, address: str, on_it_1: bool, on_it_2: bool) -> None:
    with store.session() as session:
        lookup = StoreLookup(session)
        assert lookup.may_post(seeded.it_1.id, address) is on_it_1
        assert lookup.may_post(seeded.it_2.id, address) is on_it_2


def test_participants_may_post_to_their_ticket_only(store: Store, seeded: Seeded) -> None:
    with store.transaction() as session:
        ticket = session.get_one(Ticket, seeded.it_2.id)
        added = record_participants(
            session,
            ticket,
            ["Erin@Example.com", "erin@example.com ", "frank@example.com", "Support@Desk.example"],
            exclude={"support@desk.example"},
        )
        assert added == ["erin@example.com", "frank@example.com"]
    with store.session() as session:
        lookup = StoreLookup(session)
        assert lookup.may_post(seeded.it_2.id, "ERIN@example.com")
        assert not lookup.may_post(seeded.it_1.id, "erin@example.com")
        assert not lookup.may_post(seeded.it_2.id, "support@desk.example")


def _participants(store: Store) -> list[tuple[int, str]]:
    with store.session() as session:
        query = select(TicketParticipant.id, TicketParticipant.address).order_by("address")
        return [(row.id, row.address) for row in session.execute(query)]


@pytest.mark.parametrize("batch", [False, True])
def test_record_participants_leaves_existing_rows_alone(
    store: Store, seeded: Seeded, batch: bool
) -> None:
    with store.transaction() as session:
        ticket = session.get_one(Ticket, seeded.it_1.id)
        assert record_participants(session, ticket, ["erin@example.com"], exclude=()) == [
            "erin@example.com"
        ]
    first = _participants(store)
    with store.transaction() as session:
        if batch:  # rows wait for the commit, in one statement (intake's batches)
            deferred.defer_rows(session)
        ticket = session.get_one(Ticket, seeded.it_1.id)
        again = ["erin@example.com", "gina@example.com"]
        assert record_participants(session, ticket, again, exclude=()) == again
        assert record_participants(session, ticket, again[1:], exclude=()) == again[1:]
        assert record_participants(session, ticket, [], exclude=()) == []
    rows = _participants(store)
    assert [address for _id, address in rows] == ["erin@example.com", "gina@example.com"]
    assert rows[0] == first[0]  # erin's row is the one first written


def test_participants_of_a_new_unflushed_ticket(store: Store, seeded: Seeded) -> None:
    with store.transaction() as session:
        it = session.scalars(select(Team).where(Team.name == "IT")).one()
        ticket = _ticket(session, it, 3, _alice(session))
        assert record_participants(session, ticket, ["x@example.com"], exclude=()) == [
            "x@example.com"
        ]
        assert record_message(session, ticket, None, "new@x", "in") is not None


# --- end to end ----------------------------------------------------------------------------


def test_find_thread_with_the_store(store: Store, seeded: Seeded) -> None:
    _record(store, seeded.it_1, "<sent@desk.example>", "out")

    def reply(subject: str, sender: str, in_reply_to: str | None = None) -> ParsedMessage:
        return ParsedMessage(
            message_id=None,
            subject=subject,
            sender=Address("", sender),
            to=(),
            cc=(),
            date=None,
            in_reply_to=in_reply_to,
            references=(),
            text="",
            html=None,
        )

    token = seeded.it_2.token
    with store.session() as session:
        lookup = StoreLookup(session)
        by_id = find_thread(
            reply("Re: x", "mallory@evil.example", "sent@desk.example"), lookup, "HR"
        )
        assert by_id is not None
        # Found by Message-ID, but a stranger without the token may not post.
        assert (by_id.label, by_id.matched_by, by_id.may_post) == (
            "IT-1",
            MatchedBy.MESSAGE_ID,
            False,
        )
        stranger = find_thread(reply("RE: [Incident] [IT] 2", "mallory@evil.example"), lookup, "HR")
        assert stranger is not None
        assert (stranger.label, stranger.may_post) == ("IT-2", False)
        keyed = find_thread(
            reply(f"RE: [#2-{token.upper()}]", "mallory@evil.example"), lookup, "IT"
        )
        assert keyed is not None
        assert (keyed.token_ok, keyed.may_post) == (True, True)
        agent = find_thread(reply("RE: [#1]", "Carol@Desk.example.com"), lookup, "HR")
        assert agent is not None
        assert (agent.label, agent.sender_allowed) == ("HR-1", True)


def test_each_lookup_is_one_statement(store: Store, seeded: Seeded) -> None:
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        with store.session() as session:
            lookup = StoreLookup(session)
            session.connection()  # the transaction's own statements are not counted
            statements.clear()
            lookup.ticket_for_message_ids([f"id{n}@x" for n in range(50)], "IT")
            lookup.ticket_by_number("IT", 1)
            lookup.may_post(seeded.it_1.id, "bob@example.com")
    finally:
        event.remove(store.engine, "before_cursor_execute", count)
    assert len(statements) == 3, statements


def _waiting_ticket(
    session: Session, id_: int, team: Team, number: int, requester: Person, sender: str
) -> Ticket:
    """A ticket made in a batch: plain values waiting for the commit, as apply/tickets.py
    makes it, and a detached object that carries them."""
    values = {
        "id": id_,
        "team_id": team.id,
        "number": number,
        "kind": TicketKind.INCIDENT,
        "requester_id": requester.id,
        "user_id": requester.id,
        "token": f"w{id_}token"[:8],
        "sender_address": sender,
    }
    deferred.insert(session, Ticket.__table__, values, parent=True)  # type: ignore[arg-type]
    return Ticket(**values)


def test_lookups_in_a_batch_answer_from_waiting_rows_as_the_database_would(
    store: Store, seeded: Seeded
) -> None:
    # In a batch the lookups read the rows still waiting themselves instead of writing
    # them first. Every answer must be the one the same lookup gives once they are
    # written; and until then, nothing is written.
    _record(store, seeded.it_1, "<mixed@x>")
    with store.transaction() as session:
        deferred.defer_rows(session)
        people = {p.name: p for p in session.scalars(select(Person))}
        it, hr = (session.scalars(select(Team).where(Team.name == n)).one() for n in ("IT", "HR"))
        it_lower = Team(name="it")  # an exact-spelling rival of "IT"
        erin = _person(session, "Erin", "erin@example.com")
        session.add(it_lower)
        session.flush()
        old = session.get_one(Ticket, seeded.it_1.id)  # before: a query writes what waits
        it_3 = _waiting_ticket(session, 1001, it, 3, erin, "Erin.Other@Example.com")
        it_lower_2 = _waiting_ticket(session, 1002, it_lower, 2, people["Dave"], "d@example.com")
        hr_2 = _waiting_ticket(session, 1003, hr, 2, people["Alice"], "alice@example.com")
        for ticket, message_id in [
            (it_3, "<w1@x>"),
            (it_3, "<both@x>"),
            (hr_2, "<both@x>"),  # the later one
            (hr_2, "<mixed@x>"),  # newer than IT-1's, in the database
            (old, "<on-old@x>"),  # a waiting row naming a ticket in the database
        ]:
            assert record_message(session, ticket, None, message_id, "in", new_ticket=True)
        record_participants(session, it_3, ["frank@example.com"], exclude=())
        statements: list[str] = []
        event.listen(
            session.connection(), "before_cursor_execute", lambda *a: statements.append(a[2])
        )

        def answers() -> list[object]:
            lookup = StoreLookup(session)
            found: list[object] = [
                lookup.ticket_for_message_ids(ids, team)
                for ids in (["w1@x"], ["both@x"], ["mixed@x"], ["on-old@x"], ["no@x", "w1@x"])
                for team in ("IT", "HR", "Ops")
            ]
            found += [
                lookup.ticket_by_number(team, number)
                for team in ("IT", "it", "HR", "hr", "Ops")
                for number in (1, 2, 3)
            ]
            addresses = [
                "erin@example.com",
                "erin.other@example.com",  # it_3's sender
                "frank@example.com",  # a participant of it_3
                "carol@desk.example.com",  # an agent
                "dave@example.com",
                "alice@example.com",
                "bob@example.com",
                "mallory@evil.example",
            ]
            tickets = (it_3.id, it_lower_2.id, hr_2.id, seeded.it_1.id)
            found += [lookup.may_post(t, a) for t in tickets for a in addresses]
            return found

        tickets_waiting = deferred.pending(session, Ticket.__table__)  # type: ignore[arg-type]
        assert len(list(tickets_waiting)) == 3
        waiting = answers()
        assert not any(s.startswith("INSERT") for s in statements)
        statements.clear()
        assert record_message(session, it_3, None, "<w2@x>", "in") == "w2@x"
        assert record_message(session, it_3, None, "<w1@x>", "in") is None  # waiting already
        assert statements == []  # a ticket of the batch has no rows in the database yet
        deferred.write_pending(session)
        assert not list(deferred.pending(session, Ticket.__table__))  # type: ignore[arg-type]
        assert waiting == answers()
        lookup = StoreLookup(session)
        assert lookup.ticket_for_message_ids(["w1@x"], "HR") == TicketRef(1001, "IT", 3, "w1001tok")
        assert lookup.ticket_for_message_ids(["mixed@x"], "Ops") == lookup.ticket_by_number("HR", 2)
        assert lookup.ticket_by_number("it", 2) == TicketRef(1002, "it", 2, "w1002tok")
        assert lookup.ticket_by_number("IT", 2) == seeded.it_2
        assert lookup.may_post(it_3.id, "carol@desk.example.com")
        assert lookup.may_post(it_3.id, "erin.other@example.com")
        assert not lookup.may_post(it_3.id, "dave@example.com")


# --- rows written later (store/deferred.py) --------------------------------------------------


def _count_messages(session: Session) -> int:
    return len(session.scalars(select(TicketMessage.message_id)).all())


def test_deferred_rows_wait_for_the_next_query_and_never_enter_a_savepoint(
    store: Store, seeded: Seeded
) -> None:
    from deskmail.store import deferred

    with store.transaction() as session:
        deferred.defer_rows(session)
        ticket = session.get_one(Ticket, seeded.it_1.id)
        statements: list[str] = []
        event.listen(
            session.connection(), "before_cursor_execute", lambda *a: statements.append(a[2])
        )
        # new_ticket: no query for known ids, which would write the first row.
        assert record_message(session, ticket, None, "<one@x>", "in", new_ticket=True) == "one@x"
        assert record_message(session, ticket, None, "<two@x>", "in", new_ticket=True) == "two@x"
        assert not any(s.startswith("INSERT INTO ticket_message") for s in statements)
        with session.no_autoflush:  # like pending ORM objects: not written, not seen
            assert _count_messages(session) == 0
        with session.begin_nested():  # a query in a savepoint writes nothing either
            assert _count_messages(session) == 0
        assert _count_messages(session) == 2  # written before the query, in one statement
        assert sum(s.startswith("INSERT INTO ticket_message") for s in statements) == 1
        deferred.insert(
            session,
            TicketMessage.__table__,  # type: ignore[arg-type]
            {"ticket_id": ticket.id, "message_id": "three@x", "direction": "in"},
        )
        savepoint = session.begin_nested()
        savepoint.rollback()  # the row was never in it
    with store.session() as session:
        rows = session.scalars(select(TicketMessage.message_id).order_by("message_id")).all()
    assert rows == ["one@x", "three@x", "two@x"]  # the last one written at the commit


def test_without_deferring_rows_are_inserted_at_once(store: Store, seeded: Seeded) -> None:
    with store.transaction() as session:
        ticket = session.get_one(Ticket, seeded.it_1.id)
        with session.no_autoflush:
            assert record_message(session, ticket, None, "<now@x>", "in") == "now@x"
            assert _count_messages(session) == 1
