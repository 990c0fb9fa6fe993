"""What changed since a client last looked: new tickets, runs started or finished, the
quarantine's size. The live stream asks this every few seconds.

It reads the database, not this process's memory, so a page served by one
instance sees the tickets and runs of every instance on the same PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deskmail.config.fate import Fate
from deskmail.store.models import IntakeRecord, Run, Team, Ticket

MAX_PER_POLL = 100  # a burst beyond this is told as "more", not item by item


@dataclass(frozen=True, slots=True)
class Mark:
    """Where a client is: the newest ticket and run it was told of."""

    ticket_id: int
    run_id: int
    runs_finished_at: datetime | None  # the newest run end it was told of
    quarantined: int


@dataclass(frozen=True, slots=True)
class TicketCreated:
    id: int
    reference: str  # "IT-42"
    kind: str


@dataclass(frozen=True, slots=True)
class RunChanged:
    id: int
    job: str
    outcome: str  # running | ok | failed


@dataclass(frozen=True, slots=True)
class Changes:
    tickets: list[TicketCreated] = field(default_factory=list)
    runs: list[RunChanged] = field(default_factory=list)
    quarantined: int | None = None  # the new size, when it changed

    @property
    def any(self) -> bool:
        return bool(self.tickets or self.runs or self.quarantined is not None)


def current_mark(session: Session) -> Mark:
    return Mark(
        ticket_id=session.scalar(select(func.max(Ticket.id))) or 0,
        run_id=session.scalar(select(func.max(Run.id))) or 0,
        runs_finished_at=session.scalar(select(func.max(Run.finished_at))),
        quarantined=_quarantined(session),
    )


def changes_since(session: Session, mark: Mark) -> tuple[Changes, Mark]:
    tickets = session.execute(
        select(Ticket.id, Team.name, Ticket.number, Ticket.kind)
        .join(Team, Team.id == Ticket.team_id)
        .where(Ticket.id > mark.ticket_id)
        .order_by(Ticket.id)
        .limit(MAX_PER_POLL)
    ).all()
    created = [
        TicketCreated(id, f"{team}-{number}", kind.value) for id, team, number, kind in tickets
    ]
    started = list(
        session.scalars(
            select(Run).where(Run.id > mark.run_id).order_by(Run.id).limit(MAX_PER_POLL)
        )
    )
    finished: list[Run] = []
    if mark.runs_finished_at is not None:
        finished = list(
            session.scalars(
                select(Run)
                .where(Run.finished_at > mark.runs_finished_at, Run.id <= mark.run_id)
                .order_by(Run.finished_at)
                .limit(MAX_PER_POLL)
            )
        )
    elif mark.run_id:
        finished = list(
            session.scalars(
                select(Run)
                .where(Run.finished_at.is_not(None), Run.id <= mark.run_id)
                .order_by(Run.finished_at)
                .limit(MAX_PER_POLL)
            )
        )
    runs = [RunChanged(run.id, run.job, run.status) for run in (*finished, *started)]
    quarantined = _quarantined(session)
    ends = [run.finished_at for run in (*finished, *started) if run.finished_at is not None]
    newest_end = max((end for end in (mark.runs_finished_at, *ends) if end), default=None)
    moved = Mark(
        ticket_id=created[-1].id if created else mark.ticket_id,
        run_id=started[-1].id if started else mark.run_id,
        runs_finished_at=newest_end,
        quarantined=quarantined,
    )
    size = quarantined if quarantined != mark.quarantined else None
    return Changes(created, runs, size), moved


def _quarantined(session: Session) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(IntakeRecord)
            .where(IntakeRecord.outcome == Fate.QUARANTINED)
        )
        or 0
    )


@dataclass(frozen=True, slots=True)
class RecentTicket:
    id: int
    reference: str
    kind: str
    subject: str
    created_at: datetime


def recent_tickets(session: Session, limit: int = 20) -> list[RecentTicket]:
    rows = session.execute(
        select(Ticket.id, Team.name, Ticket.number, Ticket.kind, Ticket.subject, Ticket.created_at)
        .join(Team, Team.id == Ticket.team_id)
        .order_by(Ticket.id.desc())
        .limit(limit)
    ).all()
    return [
        RecentTicket(id, f"{team}-{number}", kind.value, subject, created)
        for id, team, number, kind, subject, created in rows
    ]
