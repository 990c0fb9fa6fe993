"""The people as text: the `people list` table."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from deskmail.report.text import cut
from deskmail.store.models import Person


def list_people(session: Session) -> str:
    people = session.scalars(
        select(Person)
        .options(selectinload(Person.addresses), selectinload(Person.site))
        .order_by(Person.id)
    ).all()
    if not people:
        return "no people yet (deskmail people add, or people import FILE.csv)"
    header = f"{'id':>5}  {'name':<24} {'logon':<16} {'site':<18} {'agent':<5}"
    lines = [f"{header}  addresses"]
    for person in people:
        addresses = ", ".join(a.address for a in sorted(person.addresses, key=lambda a: a.id))
        lines.append(
            f"{person.id:>5}  {cut(person.name, 24):<24} {cut(person.logon or '-', 16):<16} "
            f"{cut(person.site.name if person.site else '-', 18):<18} "
            f"{'yes' if person.is_agent else '':<5}  {addresses or '-'}"
        )
    return "\n".join(lines)
