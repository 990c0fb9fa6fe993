"""The named things a job refers to (team, source, fallback user and site),
resolved once per run instead of once per message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from deskmail.apply.batch import Batch
from deskmail.config.models import JobConfig
from deskmail.config.object_types import Records
from deskmail.store.models import Group, JobHealth, Person, Site, Source, Team

Named = TypeVar("Named", Group, Site, Source, Team)


@dataclass(frozen=True, slots=True)
class JobContext:
    job: str
    team_name: str
    source_name: str
    fallback_site: str | None  # a name: apply finds or creates the site by it
    fallback_user: str | None  # the logon
    # The fallback user's person. Only peek_context (explain) leaves the id None for
    # a person the run would create: named by its logon, as resolve_context names it.
    fallback_person_id: int | None
    fallback_person_name: str | None
    # The file's object types and custom fields: the webhooks give a record's fields typed.
    records: Records


def get_or_create(
    session: Session,
    model: type[Named],
    name: str,
    created: list[str] | None = None,
    batch: Batch | None = None,
) -> Named:
    """`created`: the name is added to it when no row had it (said on a ticket).
    `batch`: remembers the row, so that a batch looks a team or source up once."""
    known = batch.named if batch is not None else {}
    row: Named | None = known.get((model, name))
    if row is None:
        row = find_named(session, model, name)
        if row is None:
            row = insert_once(session, model(name=name), lambda: find_named(session, model, name))
            if created is not None:
                created.append(name)
        known[(model, name)] = row
    return row


Row = TypeVar("Row", Group, Site, Source, Team, Person, JobHealth)


def insert_once(session: Session, row: Row, find: Callable[[], Row | None]) -> Row:
    """Insert, or take the row another instance inserted a moment before.

    The savepoint keeps a unique violation from aborting the whole transaction
    (PostgreSQL); two hosts starting the same new job at once both succeed.
    """
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
        return row
    except IntegrityError:
        found = find()
        if found is None:
            raise
        return found


def find_named(session: Session, model: type[Named], name: str) -> Named | None:
    return session.scalars(select(model).where(model.name == name)).first()


def resolve_context(session: Session, job: JobConfig) -> JobContext:
    """Create the job's team, group, site, source and fallback person if missing.

    The fallback person is found by logon name (Octopus incidentFallbackUserLogon);
    a missing one is created so mail is never refused for want of a directory entry.
    """
    get_or_create(session, Team, job.team)
    get_or_create(session, Source, job.source)
    if job.group:
        get_or_create(session, Group, job.group)
    site = get_or_create(session, Site, job.fallback_site) if job.fallback_site else None
    person = _fallback_person(session, job)
    if job.fallback_user and person is None:
        new = Person(name=job.fallback_user, logon=job.fallback_user, site=site)
        person = insert_once(session, new, lambda: _fallback_person(session, job))
    return _context(job, person)


def peek_context(session: Session, job: JobConfig) -> JobContext:
    """What resolve_context would give, without writing (`deskmail explain`): the same
    names; a fallback person it would create has no id yet."""
    return _context(job, _fallback_person(session, job))


def _fallback_person(session: Session, job: JobConfig) -> Person | None:
    if not job.fallback_user:
        return None
    return session.scalars(select(Person).where(Person.logon == job.fallback_user)).first()


def _context(job: JobConfig, person: Person | None) -> JobContext:
    return JobContext(
        job=job.name,
        team_name=job.team,
        source_name=job.source,
        fallback_site=job.fallback_site,
        fallback_user=job.fallback_user,
        fallback_person_id=person.id if person else None,
        fallback_person_name=person.name if person else job.fallback_user,
        records=job.records,
    )
