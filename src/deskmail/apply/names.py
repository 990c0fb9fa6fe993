"""Names in a job's configuration that match nothing in the store: people (by logon),
groups and sites.

A run creates a missing fallback user, group or site, and leaves a ticket
unassigned when its assignee matches no one: a typo would go unseen. `check`
and `run-once` report these when they open the store with a configuration.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from deskmail.config.models import JobConfig
from deskmail.store.engine import Store
from deskmail.store.models import Group, Person, Site

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UnmatchedName:
    key: str  # where it is written: 'jobs[0] ("Support").rules[1] ("Printers").set.assignee'
    name: str
    matches_no: str  # "person's logon", "group", "site"
    consequence: str

    def __str__(self) -> str:
        return f"{self.key}: {self.name!r} matches no {self.matches_no}; {self.consequence}"


@dataclass(frozen=True, slots=True)
class _Named:
    key: str
    name: str
    consequence: str


def unmatched_names(session: Session, job: JobConfig) -> list[UnmatchedName]:
    """Every person, group and site name of the job that the store does not know."""
    found: list[UnmatchedName] = []
    for column, matches_no, names in (
        (Person.logon, "person's logon", _people(job)),
        (Group.name, "group", _groups(job)),
        (Site.name, "site", _sites(job)),
    ):
        known = _known(session, column, names)
        found += [
            UnmatchedName(named.key, named.name, matches_no, named.consequence)
            for named in names
            if named.name not in known
        ]
    return found


def log_unmatched_names(store: Store, jobs: Iterable[JobConfig]) -> None:
    """Warn of each job's unmatched names, in the log (as the loader warns of settings)."""
    with store.session() as session:
        for job in jobs:
            for unmatched in unmatched_names(session, job):
                log.warning("%s%s", _file(job), unmatched)


def _file(job: JobConfig) -> str:
    return f"{job.origin_file}: " if job.origin_file else ""


def _people(job: JobConfig) -> list[_Named]:
    named = []
    if job.fallback_user:
        named.append(
            _Named(
                job.key("fallback_user"),
                job.fallback_user,
                "the run creates a person with this logon for unknown senders",
            )
        )
    # An assignee who is the fallback user matches the person the run creates.
    if job.assignee and job.assignee != job.fallback_user:
        named.append(_Named(job.key("assignee"), job.assignee, "events are left unassigned"))
    for index, rule in enumerate(job.rules):
        if rule.set.assignee and rule.set.assignee != job.fallback_user:
            named.append(
                _Named(
                    _rule_key(job, index, "assignee"),
                    rule.set.assignee,
                    "the rule's tickets are left unassigned",
                )
            )
    return named


def _groups(job: JobConfig) -> list[_Named]:
    named = []
    if job.group:
        named.append(_Named(job.key("group"), job.group, "the run creates it"))
    if job.error_group:
        named.append(
            _Named(job.key("error_group"), job.error_group, "the first error event creates it")
        )
    named += [
        _Named(_rule_key(job, index, "group"), rule.set.group, "the rule's first ticket creates it")
        for index, rule in enumerate(job.rules)
        if rule.set.group
    ]
    return named


def _sites(job: JobConfig) -> list[_Named]:
    named = []
    if job.fallback_site:
        named.append(_Named(job.key("fallback_site"), job.fallback_site, "the run creates it"))
    named += [
        _Named(_rule_key(job, index, "site"), rule.set.site, "the rule's first ticket creates it")
        for index, rule in enumerate(job.rules)
        if rule.set.site
    ]
    return named


def _rule_key(job: JobConfig, index: int, setting: str) -> str:
    return job.key(f'rules[{index}] ("{job.rules[index].name}").set.{setting}')


def _known(
    session: Session, column: InstrumentedAttribute[str | None], names: list[_Named]
) -> set[str | None]:
    """Which of these names the store has (a job names a handful: one query each)."""
    wanted = sorted({named.name for named in names})
    if not wanted:
        return set()
    return set(session.scalars(select(column).where(column.in_(wanted))))
