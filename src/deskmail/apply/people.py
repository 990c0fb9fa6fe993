"""The people senders are matched to: matching a sender, adding and removing a person."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from email.headerregistry import Address as HeaderAddress

from sqlalchemy import Select, bindparam, func, or_, select, update
from sqlalchemy.orm import Session

from deskmail.apply.batch import Batch
from deskmail.parse.message import Address
from deskmail.store.engine import IN_LIST_CHUNK
from deskmail.store.models import Activity, Person, PersonAddress, Ticket

# Built once (constructing it cost more than running it); ids only, as most
# senders of a support mailbox are nobody we know, and a known one is then often
# already in the session.
_PEOPLE_OF = select(PersonAddress.address, PersonAddress.person_id).where(
    PersonAddress.address.in_(bindparam("addresses", expanding=True))
)


def prefetch_people(session: Session, batch: Batch, addresses: Iterable[str]) -> None:
    """Look these (lower-cased) addresses up at once for find_person, for this batch only.

    A batch of mail asks once instead of once per message. People are not
    added by intake or explain, so the answers hold for the whole transaction.
    """
    known = batch.people
    wanted = [address for address in addresses if address not in known]
    for start in range(0, len(wanted), IN_LIST_CHUNK):
        chunk = wanted[start : start + IN_LIST_CHUNK]
        known.update(dict.fromkeys(chunk))
        for address, person_id in session.execute(_PEOPLE_OF, {"addresses": chunk}):
            known[address] = person_id


def find_person(
    session: Session, sender: Address | None, batch: Batch | None = None
) -> Person | None:
    """The person owning this address, compared case-insensitively (stored lower-cased).
    `batch`: the answers the batch already has (prefetch_people); None asks."""
    if sender is None or not sender.normalized:
        return None
    batch = batch or Batch()
    prefetch_people(session, batch, [sender.normalized])  # asks only if not known yet
    person_id = batch.people[sender.normalized]
    return session.get(Person, person_id) if person_id is not None else None


class PeopleError(ValueError):
    """A change to the people that cannot be made as asked; the message says why and who."""


def add_person(
    session: Session,
    name: str,
    addresses: list[str],
    *,
    logon: str | None = None,
    site_id: int | None = None,
    is_agent: bool = False,
) -> Person:
    """PeopleError, before anything is written, for a bad address or one (or the logon)
    that someone already has: each address and logon belongs to one person."""
    normalized = [normalized_address(a) for a in addresses]
    taken = address_owners(session, normalized)
    if taken:
        address, owner = next(iter(taken.items()))
        raise PeopleError(f"{address} already belongs to {describe(owner)}")
    logon_taken = logon_owner(session, logon) if logon else None
    if logon_taken is not None:
        raise PeopleError(f"logon {logon} already belongs to {describe(logon_taken)}")
    person = Person(name=name, logon=logon, site_id=site_id, is_agent=is_agent)
    person.addresses = [PersonAddress(address=a) for a in dict.fromkeys(normalized)]
    session.add(person)
    session.flush()
    return person


_UNSAFE_IN_ADDRESS = re.compile(r"[\x00-\x20\x7f<>()\[\],;:\"\\]")


def normalized_address(text: str) -> str:
    """A plain address (local@domain), lower-cased as stored; PeopleError if it is none."""
    address = text.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or _UNSAFE_IN_ADDRESS.search(address):
        raise PeopleError(f"{text!r} is not an e-mail address")
    try:
        HeaderAddress(addr_spec=address)  # the stdlib's own check of the syntax
    except Exception:  # ValueError, IndexError or a header defect
        raise PeopleError(f"{text!r} is not an e-mail address") from None
    return address


def describe(person: Person) -> str:
    return f"{person.name} (person {person.id})"


def address_owners(session: Session, addresses: Iterable[str]) -> dict[str, Person]:
    """Who already has each of these (lower-cased) addresses; addresses nobody has are left out."""
    wanted = list(dict.fromkeys(addresses))
    owners: dict[str, Person] = {}
    for start in range(0, len(wanted), IN_LIST_CHUNK):
        chunk = wanted[start : start + IN_LIST_CHUNK]
        query = select(PersonAddress).where(PersonAddress.address.in_(chunk))
        owners.update((row.address, row.person) for row in session.scalars(query))
    return owners


def logon_owner(session: Session, logon: str) -> Person | None:
    return session.scalars(select(Person).where(Person.logon == logon)).first()


def person_by_id_or_address(session: Session, who: str) -> Person | None:
    """`people remove`'s argument: a person's id, or any of their addresses."""
    if who.strip().isdigit():
        return session.get(Person, int(who))
    return address_owners(session, [who.strip().lower()]).get(who.strip().lower())


@dataclass(frozen=True, slots=True)
class References:
    """What in the store names a person."""

    requested: int  # tickets they are the requester (or user) of
    assigned: int  # tickets assigned to them
    written: int  # activities they wrote

    def __bool__(self) -> bool:
        return bool(self.requested or self.assigned or self.written)

    def __str__(self) -> str:
        parts = [
            ("requester of", self.requested, "ticket", "tickets"),
            ("assignee of", self.assigned, "ticket", "tickets"),
            ("author of", self.written, "activity", "activities"),
        ]
        return ", ".join(
            f"{role} {n} {one if n == 1 else many}" for role, n, one, many in parts if n
        )


def references_to(session: Session, person_id: int) -> References:
    def count(query: Select[int]) -> int:
        return int(session.scalar(query) or 0)

    tickets = select(func.count(Ticket.id))
    return References(
        requested=count(
            tickets.where(or_(Ticket.requester_id == person_id, Ticket.user_id == person_id))
        ),
        assigned=count(tickets.where(Ticket.assignee_id == person_id)),
        written=count(select(func.count(Activity.id)).where(Activity.author_id == person_id)),
    )


def remove_person(session: Session, person: Person, *, detach: bool) -> References:
    """Delete a person and their addresses. Tickets and activities that name them are
    kept: without `detach` that refuses (PeopleError); with it they stop naming them
    (their sender's address and name stay on them)."""
    refs = references_to(session, person.id)
    if refs and not detach:
        raise PeopleError(
            f"{describe(person)} is {refs}; nothing removed. With --detach the person is"
            " removed and those tickets and activities are kept without them (their"
            " sender's address stays)"
        )
    if refs:
        for column in (Ticket.requester_id, Ticket.user_id, Ticket.assignee_id):
            session.execute(update(Ticket).where(column == person.id).values({column: None}))
        session.execute(
            update(Activity).where(Activity.author_id == person.id).values(author_id=None)
        )
    session.delete(person)
    session.flush()
    return refs
