"""The ticket a plan would create, with every name resolved: used by apply and by explain."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.apply.context import JobContext
from deskmail.apply.people import find_person
from deskmail.classify.plan import Action, Plan
from deskmail.parse.message import ParsedMessage
from deskmail.store.models import Person, Site, Team, TicketKind


@dataclass(frozen=True, slots=True)
class TicketDraft:
    kind: TicketKind
    team: str
    requester_id: int | None
    requester: str  # a name for display
    matched_person: bool  # the sender is a known person (else the fallback user)
    site: str | None
    group: str | None
    assignee_id: int | None
    assignee: str | None
    source: str
    priority: str | None
    category: str | None
    link_to: int | None
    problems: tuple[str, ...] = ()  # e.g. an assignee logon that matches nobody


def draft_ticket(
    session: Session, context: JobContext, message: ParsedMessage, plan: Plan
) -> TicketDraft:
    settings = plan.settings
    kind = TicketKind.EVENT if plan.action is Action.CREATE_EVENT else TicketKind.INCIDENT
    person = find_person(session, message.sender)
    problems: list[str] = []

    requester: Person | None = person
    if requester is None and kind is TicketKind.INCIDENT and context.fallback_person_id:
        requester = _held(session, Person, context.fallback_person_id)

    site = settings.site
    if site is None and person is not None and person.site is not None:
        site = person.site.name
    if site is None and context.fallback_site_id is not None:
        fallback = _held(session, Site, context.fallback_site_id)
        site = fallback.name if fallback else None

    assignee_id = None
    if settings.assignee:
        found = session.scalars(select(Person).where(Person.logon == settings.assignee)).first()
        if found is None:
            problems.append(f"assignee {settings.assignee!r} matches no person's logon; unassigned")
        else:
            assignee_id = found.id

    return TicketDraft(
        kind=kind,
        team=settings.team or context.team_name,
        requester_id=requester.id if requester else None,
        requester=requester.name if requester else (str(message.sender or "") or "-"),
        matched_person=person is not None,
        site=site,
        group=settings.group,
        assignee_id=assignee_id,
        assignee=settings.assignee if assignee_id else None,
        source=settings.source or context.source_name,
        priority=settings.priority,
        category=settings.category,
        link_to=plan.link_to,
        problems=tuple(problems),
    )


_HELD = "deskmail_held_rows"  # session.info: (model, id) -> the row, or None
Held = TypeVar("Held", Person, Site)


def _held(session: Session, model: type[Held], ident: int) -> Held | None:
    """session.get(), held for the rest of the transaction. The session keeps rows
    only while something else does: each new ticket of a batch asked the database
    for the fallback person again, and that query wrote the batch's waiting rows
    (store/deferred.py) a mail at a time instead of once."""
    held: dict[tuple[type, int], object] = session.info.setdefault(_HELD, {})
    if (model, ident) not in held:
        held[model, ident] = session.get(model, ident)
    return cast("Held | None", held[model, ident])


def next_number_preview(session: Session, team: str) -> int:
    """The number the next ticket of this team would get (explain only; apply draws it)."""
    row = session.scalars(select(Team).where(Team.name == team)).first()
    return row.next_number if row else 1
