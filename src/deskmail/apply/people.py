"""Matching a sender to a known person."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.parse.message import Address
from deskmail.store.models import Person, PersonAddress


def find_person(session: Session, sender: Address | None) -> Person | None:
    """The person owning this address, compared case-insensitively (stored lower-cased)."""
    if sender is None or not sender.normalized:
        return None
    return session.scalars(
        select(Person).join(PersonAddress).where(PersonAddress.address == sender.normalized)
    ).first()


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
