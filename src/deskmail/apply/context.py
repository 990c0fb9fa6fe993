"""The named things a job refers to (team, group, site, source, fallback user),
resolved to row ids once per run instead of once per message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.config.models import JobConfig
from deskmail.store.models import Group, Person, Site, Source, Team

Named = TypeVar("Named", Group, Site, Source, Team)


@dataclass(frozen=True, slots=True)
class JobContext:
    job: str
    team_id: int
    team_name: str
    source_id: int
    group_id: int | None
    fallback_site_id: int | None
    fallback_person_id: int | None


def get_or_create(session: Session, model: type[Named], name: str) -> Named:
    row = session.scalars(select(model).where(model.name == name)).first()
    if row is None:
        row = model(name=name)
        session.add(row)
        session.flush()
    return row


def resolve_context(session: Session, job: JobConfig) -> JobContext:
    """Create the job's team, group, site, source and fallback person if missing.

    The fallback person is found by logon name (Octopus incidentFallbackUserLogon);
    a missing one is created so mail is never refused for want of a directory entry.
    """
    team = get_or_create(session, Team, job.team)
    source = get_or_create(session, Source, job.source)
    group = get_or_create(session, Group, job.group) if job.group else None
    site = get_or_create(session, Site, job.fallback_site) if job.fallback_site else None
    person = None
    if job.fallback_user:
        person = session.scalars(select(Person).where(Person.logon == job.fallback_user)).first()
        if person is None:
            person = Person(name=job.fallback_user, logon=job.fallback_user, site=site)
            session.add(person)
            session.flush()
    return JobContext(
        job=job.name,
        team_id=team.id,
        team_name=team.name,
        source_id=source.id,
        group_id=group.id if group else None,
        fallback_site_id=site.id if site else None,
        fallback_person_id=person.id if person else None,
    )
