"""`deskmail history`: one line per run of a job, with its counts (Alloy's
"Checking Results of the Mail Connector Job")."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.report.text import cut
from deskmail.store.models import Run

_HEADER = (
    f"{'started (UTC)':<19} {'job':<20} {'status':<7} {'seconds':>7} {'fetched':>7}"
    f" {'created':>7} {'updated':>7} {'ignored':>7} {'denied':>6} {'dupl.':>5} {'quar.':>5}"
    f" {'acked':>5} {'sent':>5}  error"
)


def history(session: Session, job: str | None = None, limit: int = 50) -> str:
    """The newest `limit` runs (of `job`), oldest first so the latest ends the output."""
    query = select(Run).order_by(Run.id.desc()).limit(limit)
    if job is not None:
        query = query.where(Run.job == job)
    runs = list(session.scalars(query))
    if not runs:
        return f'no runs of job "{job}" yet' if job else "no runs yet"
    return "\n".join([_HEADER, *(_line(run) for run in reversed(runs))])


def _line(run: Run) -> str:
    seconds = (
        f"{(run.finished_at - run.started_at).total_seconds():.1f}" if run.finished_at else "-"
    )
    # A run still "running" with no end is one in progress, or one killed mid-way.
    return (
        f"{run.started_at:%Y-%m-%d %H:%M:%S} {cut(run.job, 20):<20} {run.status:<7}"
        f" {seconds:>7} {run.fetched:>7} {run.created:>7} {run.updated:>7}"
        f" {run.ignored:>7} {run.denied:>6} {run.duplicates:>5} {run.quarantined:>5}"
        f" {run.acknowledged:>5} {run.sent:>5}"
        f"  {cut(' '.join((run.error or '').split()), 80)}"
    ).rstrip()
