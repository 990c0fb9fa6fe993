"""Finding tickets: the filters of the tickets and events lists, as one typed query.

Both lists are keyset-paginated on (updated_at, id), which index
ix_ticket_updated (migration 0014) serves in either direction: the screens show
the latest change first, the API the oldest first (for updated_since syncs).
Subject search is by words, each a case-insensitive substring, served by the
trigram index of store/subject_search.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, column, func, or_, select, table
from sqlalchemy.orm import InstrumentedAttribute, Session, defer, joinedload

from deskmail.config.fate import Fate
from deskmail.store.models import (
    Group,
    IntakeRecord,
    Site,
    Team,
    Ticket,
    TicketKind,
    TicketStatus,
)
from deskmail.store.subject_search import MIN_INDEXED, SQLITE_TABLE
from deskmail.web.pagination import Rows, decode_cursor, encode_cursor, paginate

# Matching tickets from which a search is read in the list's order (see _dense).
DENSE = 1000
# SQLite's trigram index of subjects (store/subject_search.py): not a model, only searched.
SEARCH = table(SQLITE_TABLE, column("rowid"), column("subject"))
ORDER: tuple[InstrumentedAttribute[Any], ...] = (Ticket.updated_at, Ticket.id)
# "open" on the events screen: anything not closed.
OPEN_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN)

# Many-to-one: joined into the one query, rather than one more query each.
LOADED = (
    joinedload(Ticket.team),
    joinedload(Ticket.requester),
    joinedload(Ticket.assignee),
    joinedload(Ticket.group),
    joinedload(Ticket.site),
)
# A list shows no description: the (possibly long) texts stay in the table.
_LISTED = (*LOADED, defer(Ticket.description), defer(Ticket.description_html))


@dataclass(frozen=True, slots=True)
class TicketFilter:
    status: TicketStatus | None = None
    open_only: bool | None = None  # True: new or open; False: closed (the events screen)
    kind: TicketKind | None = None
    team: str | None = None
    group: str | None = None
    site: str | None = None
    job: str | None = None  # the job whose mail made the ticket
    created_from: datetime | None = None
    created_to: datetime | None = None  # exclusive
    subject: str | None = None  # words, all of which the subject contains
    updated_since: datetime | None = None

    @property
    def words(self) -> list[str]:
        return (self.subject or "").split()


def _like(word: str) -> str:
    escaped = word.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def _fts_phrase(words: list[str]) -> str | None:
    """An FTS5 query for the words the trigram index can find (3+ characters): each a
    phrase of its trigrams in a row, i.e. the word anywhere in the subject, any case."""
    phrases = ['"' + word.replace('"', '""') + '"' for word in words if len(word) >= MIN_INDEXED]
    return " AND ".join(phrases) or None


def _indexed(phrase: str) -> Select[Any]:
    return select(SEARCH.c.rowid).where(SEARCH.c.subject.op("MATCH")(phrase))


def _dense(session: Session, wanted: TicketFilter) -> bool:
    """Do the words match many tickets (SQLite)? Then the list is best read in its order,
    each ticket checked against the matches, which stops after a page; else the few
    matches are read and sorted. One bounded count decides (the planner cannot)."""
    phrase = _fts_phrase(wanted.words)
    if phrase is None or _dialect(session) != "sqlite":
        return False
    matches = _indexed(phrase).limit(DENSE).subquery()
    return (session.scalar(select(func.count()).select_from(matches)) or 0) >= DENSE


def _subject_clauses(words: list[str], dialect: str, dense: bool) -> list[ColumnElement[bool]]:
    clauses: list[ColumnElement[bool]] = []
    phrase = _fts_phrase(words) if dialect == "sqlite" else None
    if phrase is not None:
        # `id + 0`: keeps SQLite from driving the query by the matches' ids.
        clauses.append((Ticket.id + 0 if dense else Ticket.id).in_(_indexed(phrase)))
    for word in words:
        if phrase is None or len(word) < MIN_INDEXED:
            # A literal pattern, not '%' || :word || '%': PostgreSQL's planner then sees
            # it and uses the GIN index.
            clauses.append(func.lower(Ticket.subject).like(_like(word), escape="/"))
    return clauses


def ticket_query(wanted: TicketFilter, dialect: str, *, dense: bool = False) -> Select[Any]:
    query = select(Ticket).options(*_LISTED)
    if wanted.status is not None:
        query = query.where(Ticket.status == wanted.status)
    if wanted.open_only is True:
        query = query.where(Ticket.status.in_(OPEN_STATUSES))
    elif wanted.open_only is False:
        query = query.where(Ticket.status == TicketStatus.CLOSED)
    if wanted.kind is not None:
        query = query.where(Ticket.kind == wanted.kind)
    if wanted.team:
        query = query.where(Ticket.team_id.in_(select(Team.id).where(Team.name == wanted.team)))
    if wanted.group:
        query = query.where(Ticket.group_id.in_(select(Group.id).where(Group.name == wanted.group)))
    if wanted.site:
        query = query.where(Ticket.site_id.in_(select(Site.id).where(Site.name == wanted.site)))
    if wanted.job:
        made_by = select(IntakeRecord.ticket_id).where(
            IntakeRecord.job == wanted.job, IntakeRecord.outcome == Fate.CREATED
        )
        query = query.where(Ticket.id.in_(made_by))
    if wanted.created_from is not None:
        query = query.where(Ticket.created_at >= wanted.created_from)
    if wanted.created_to is not None:
        query = query.where(Ticket.created_at < wanted.created_to)
    for clause in _subject_clauses(wanted.words, dialect, dense):
        query = query.where(clause)
    if wanted.updated_since is not None:
        query = query.where(Ticket.updated_at >= wanted.updated_since)
    return query


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def oldest_change_first(
    session: Session, wanted: TicketFilter, cursor: str | None, limit: int
) -> Rows[Ticket]:
    """The API's order: a client syncing with updated_since sees every change once."""
    return paginate(
        session,
        ticket_query(wanted, _dialect(session), dense=_dense(session, wanted)),
        ORDER,
        cursor,
        limit,
    )


def _before(columns: Sequence[InstrumentedAttribute[Any]], values: Sequence[Any]) -> Any:
    first, *rest = columns
    value, *others = values
    if not rest:
        return first < value
    return or_(first < value, and_(first == value, _before(rest, others)))


def latest_change_first(
    session: Session, wanted: TicketFilter, cursor: str | None, limit: int
) -> Rows[Ticket]:
    """The screens' order; `cursor` is the key of the last row of the previous page."""
    query = ticket_query(wanted, _dialect(session), dense=_dense(session, wanted))
    if cursor:
        query = query.where(_before(ORDER, decode_cursor(cursor, ORDER)))
    query = query.order_by(*(column.desc() for column in ORDER)).limit(limit + 1)
    rows: list[Ticket] = list(session.scalars(query))
    if len(rows) <= limit:
        return Rows(rows, None)
    rows = rows[:limit]
    return Rows(rows, encode_cursor([rows[-1].updated_at, rows[-1].id]))


@dataclass(frozen=True, slots=True)
class FilterChoices:
    """What the filter form offers."""

    teams: list[str]
    groups: list[str]
    jobs: list[str]


def filter_choices(session: Session, jobs: Sequence[str]) -> FilterChoices:
    return FilterChoices(
        teams=list(session.scalars(select(Team.name).order_by(Team.name))),
        groups=list(session.scalars(select(Group.name).order_by(Group.name))),
        jobs=list(jobs),
    )


def job_of(session: Session, ticket_id: int) -> str | None:
    """The job whose mail made the ticket (none for a ticket made otherwise)."""
    return session.scalar(
        select(IntakeRecord.job)
        .where(IntakeRecord.ticket_id == ticket_id, IntakeRecord.outcome == Fate.CREATED)
        .limit(1)
    )
