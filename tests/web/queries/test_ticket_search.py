"""Subject search through the trigram index: any case, anywhere in a word, kept in step
with every change of a subject, and the same answer whichever way the query is read."""

from __future__ import annotations

from sqlalchemy import delete, update

from deskmail.store.engine import Store
from deskmail.store.models import Ticket
from deskmail.web.queries import tickets as ticket_queries
from deskmail.web.queries.tickets import TicketFilter, latest_change_first, oldest_change_first
from tests.web.ticket_data import add_tickets


def _found(store: Store, words: str, limit: int = 500) -> list[str]:
    with store.session() as session:
        rows = latest_change_first(session, TicketFilter(subject=words), None, limit).rows
        again = oldest_change_first(session, TicketFilter(subject=words), None, limit).rows
        assert [t.id for t in rows] == [t.id for t in reversed(again)]
        return sorted(ticket.subject for ticket in rows)


def test_words_are_found_anywhere_in_any_case(store: Store) -> None:
    add_tickets(store, 1, subject="Printer JAMMED on floor 2")
    add_tickets(store, 1, subject="50% of the VPN_users cannot log in")
    add_tickets(store, 1, subject="Laptop: écran noir")
    assert _found(store, "printer") == ["Printer JAMMED on floor 2"]
    assert _found(store, "jam rint") == ["Printer JAMMED on floor 2"]  # parts of words
    assert _found(store, "in") == [
        "50% of the VPN_users cannot log in",
        "Printer JAMMED on floor 2",
    ]
    assert _found(store, "50%") == ["50% of the VPN_users cannot log in"]
    assert _found(store, "n_u") == ["50% of the VPN_users cannot log in"]
    assert _found(store, "5%") == []  # % is a character here, not a wildcard
    assert _found(store, 'écran "noir') == []
    assert _found(store, "écran noir") == ["Laptop: écran noir"]
    assert _found(store, "printer vpn") == []  # every word


def test_the_index_follows_changed_and_deleted_subjects(store: Store) -> None:
    first, second = add_tickets(store, 2, subject="Monitor flickers {n}")
    with store.transaction() as session:
        session.execute(update(Ticket).where(Ticket.id == first).values(subject="Keyboard dead"))
        session.execute(delete(Ticket).where(Ticket.id == second))
    assert _found(store, "monitor") == []
    assert _found(store, "keyboard") == ["Keyboard dead"]


def test_a_word_in_many_subjects_reads_the_list_in_order(store: Store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(ticket_queries, "DENSE", 5)
    add_tickets(store, 8, subject="Backup failed {n}")
    add_tickets(store, 2, subject="Restore asked {n}")
    with store.session() as session:
        assert ticket_queries._dense(session, TicketFilter(subject="backup")) is (
            store.engine.dialect.name == "sqlite"
        )
        assert not ticket_queries._dense(session, TicketFilter(subject="restore"))
    assert len(_found(store, "backup")) == 8
    assert len(_found(store, "restore")) == 2
    with store.session() as session:
        page = latest_change_first(session, TicketFilter(subject="fail"), None, 3)
        assert [t.subject for t in page.rows] == [f"Backup failed {n}" for n in (7, 6, 5)]
        rest = latest_change_first(session, TicketFilter(subject="fail"), page.next_cursor, 10)
        assert len(rest.rows) == 5 and rest.next_cursor is None
