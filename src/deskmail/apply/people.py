"""Matching a sender to a known person."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from deskmail.parse.message import Address
from deskmail.store.engine import IN_LIST_CHUNK
from deskmail.store.models import Person, PersonAddress

# Built once (constructing it cost more than running it); ids only, as most
# senders of a support mailbox are nobody we know, and a known one is then often
# already in the session.
_PEOPLE_OF = select(PersonAddress.address, PersonAddress.person_id).where(
    PersonAddress.address.in_(bindparam("addresses", expanding=True))
)
_PREFETCHED = "deskmail_people"  # session.info key: address -> person id or None


def prefetch_people(session: Session, addresses: Iterable[str]) -> None:
    """Look these (lower-cased) addresses up at once for find_person, for this session only.

    A batch of mail asks once instead of once per message. People are not
    added by intake or explain, so the answers hold for the whole session.
    """
    known: dict[str, int | None] = session.info.setdefault(_PREFETCHED, {})
    wanted = [address for address in addresses if address not in known]
    for start in range(0, len(wanted), IN_LIST_CHUNK):
        chunk = wanted[start : start + IN_LIST_CHUNK]
        known.update(dict.fromkeys(chunk))
        for address, person_id in session.execute(_PEOPLE_OF, {"addresses": chunk}):
            known[address] = person_id


def find_person(session: Session, sender: Address | None) -> Person | None:
    """The person owning this address, compared case-insensitively (stored lower-cased)."""
    if sender is None or not sender.normalized:
        return None
    prefetch_people(session, [sender.normalized])  # asks only if not known yet
    person_id = session.info[_PREFETCHED][sender.normalized]
    return session.get(Person, person_id) if person_id is not None else None


def add_person(
    session: Session,
    name: str,
    addresses: list[str],
    *,
    logon: str | None = None,
    site_id: int | None = None,
    is_agent: bool = False,
) -> Person:
    person = Person(name=name, logon=logon, site_id=site_id, is_agent=is_agent)
    person.addresses = [PersonAddress(address=a.strip().lower()) for a in addresses]
    session.add(person)
    session.flush()
    return person
