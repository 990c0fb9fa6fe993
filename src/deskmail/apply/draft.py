"""The ticket a plan would create, with every name resolved: used by apply and by explain."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.apply.batch import Batch
from deskmail.apply.context import JobContext, find_named
from deskmail.apply.people import find_person
from deskmail.classify.extraction import NAMES
from deskmail.classify.plan import Extracted, Plan
from deskmail.config.fate import Fate
from deskmail.config.rules import TicketSettings
from deskmail.parse.message import ParsedMessage
from deskmail.store.models import Group, Person, Site, Team, TicketKind


@dataclass(frozen=True, slots=True)
class TicketDraft:
    kind: TicketKind
    team: str
    requester_id: int | None  # None also for a fallback person explain finds not created yet
    requester: str  # a name for display
    matched_person: bool  # the sender is a known person
    fallback_requester: bool  # the requester is the job's fallback user
    site: str | None
    group: str | None
    assignee_id: int | None
    assignee: str | None
    source: str
    priority: str | None
    category: str | None
    link_to: int | None
    problems: tuple[str, ...] = ()  # e.g. an assignee logon that matches nobody
    object_type: str | None = None  # a configured object type's name
    custom_fields: dict[str, str] = field(default_factory=dict)  # checked, in stored form
    field_problems: tuple[str, ...] = ()  # values from the mail left out, and why


def draft_ticket(
    session: Session,
    context: JobContext,
    message: ParsedMessage,
    plan: Plan,
    batch: Batch | None = None,
) -> TicketDraft:
    """Every name the new ticket gets. The fallback user and site come from the
    context as names and ids, never from the database: explain's context (peek_context)
    names the ones a run creates at its start, so both draw the same ticket."""
    settings, name_problems = _known_captured_names(session, plan)
    # A reply whose ticket has vanished becomes an incident, whatever the mail would have made.
    kind = plan.kind if plan.fate is Fate.CREATED else TicketKind.INCIDENT
    person = find_person(session, message.sender, batch)
    problems: list[str] = []

    fallback = person is None and kind is TicketKind.INCIDENT and bool(context.fallback_user)
    requester_id = person.id if person else None
    requester = person.name if person else (str(message.sender or "") or "-")
    if fallback:
        requester_id = context.fallback_person_id
        requester = context.fallback_person_name or requester

    site = settings.site
    if site is None and person is not None and person.site is not None:
        site = person.site.name
    if site is None:
        site = context.fallback_site

    assignee_id = None
    assignee = None
    if settings.assignee:
        found = session.scalars(select(Person).where(Person.logon == settings.assignee)).first()
        if found is not None:
            assignee_id, assignee = found.id, settings.assignee
        elif settings.assignee == context.fallback_user:  # the run creates it at its start
            assignee_id, assignee = context.fallback_person_id, settings.assignee
        else:
            problems.append(f"assignee {settings.assignee!r} matches no person's logon; unassigned")

    return TicketDraft(
        kind=kind,
        team=settings.team or context.team_name,
        requester_id=requester_id,
        requester=requester,
        matched_person=person is not None,
        fallback_requester=fallback,
        site=site,
        group=settings.group,
        assignee_id=assignee_id,
        assignee=assignee,
        source=settings.source or context.source_name,
        priority=settings.priority,
        category=settings.category,
        link_to=plan.link_to,
        problems=tuple(problems),
        # A reply whose ticket has vanished: an incident, without the fields of a type.
        object_type=plan.object_type if plan.fate is Fate.CREATED else None,
        custom_fields=plan.custom_fields if plan.fate is Fate.CREATED else {},
        field_problems=(
            (*plan.field_problems, *name_problems) if plan.fate is Fate.CREATED else ()
        ),
    )


def _known_captured_names(session: Session, plan: Plan) -> tuple[TicketSettings, tuple[str, ...]]:
    """The plan's settings with the group or site a rule took from the mail itself, when
    one of that name exists; otherwise the configuration's stays and the reason is said:
    a mail never creates one (a name written in the configuration, by `set` or a map,
    still does, as the job's own). The extraction step left these to here."""
    last: dict[str, Extracted] = {}
    for extracted in plan.extracted:
        if not extracted.custom and extracted.value is not None:
            last[extracted.field] = extracted
    settings = plan.settings
    problems: list[str] = []
    for name in NAMES:
        taken = last.get(name)
        if taken is None or taken.mapped or taken.value is None:
            continue
        if _exists(session, name, taken.value):
            settings = settings.model_copy(update={name: taken.value})
        else:
            problems.append(
                f"field '{name}' from rule '{taken.rule}' not taken: the captured value names"
                f" no {name} (a mail does not create one)"
            )
    return settings, tuple(problems)


def _exists(session: Session, kind: str, name: str) -> bool:
    if kind == "group":
        return find_named(session, Group, name) is not None
    return find_named(session, Site, name) is not None


def next_number_preview(session: Session, team: str) -> int:
    """The number the next ticket of this team would get (explain only; apply draws it)."""
    row = session.scalars(select(Team).where(Team.name == team)).first()
    return row.next_number if row else 1
