"""One pass of one job: list, fetch what is new, take it in, acknowledge.

The order is what makes the promise hold:
  1. a message is acknowledged on the server (deleted, moved, flagged) only
     after its ticket and journal row have committed;
  2. a key already in the journal is never processed again, only
     acknowledged again if that did not happen (or did not stick);
  3. the journal learns that an acknowledgement stuck only after the session
     closed cleanly (POP3 deletes at QUIT), so a crash in between just means
     acknowledging again next time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from deskmail.apply.context import JobContext, resolve_context
from deskmail.config.errors import ConfigError
from deskmail.config.models import AfterProcessing, JobConfig
from deskmail.config.secrets import resolve_password
from deskmail.intake import journal
from deskmail.intake.faults import CrashPoint, reached
from deskmail.intake.process import MessageOutcome, Result, take_in
from deskmail.sources.base import Source
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.factory import open_source
from deskmail.store.engine import Store
from deskmail.store.models import Run, utcnow

log = logging.getLogger(__name__)

OnMessage = Callable[[MessageOutcome], None]


@dataclass
class RunSummary:
    job: str
    fetched: int = 0
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    quarantined: int = 0
    skipped: int = 0
    ignored: int = 0
    denied: int = 0
    acknowledged: int = 0
    seconds: float = 0.0
    failure: str | None = None  # why the job could not finish, one line
    outcomes: list[MessageOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None

    def count(self, outcome: MessageOutcome) -> None:
        self.outcomes.append(outcome)
        name = {
            Result.CREATED: "created",
            Result.UPDATED: "updated",
            Result.DUPLICATE: "duplicates",
            Result.QUARANTINED: "quarantined",
            Result.SKIPPED: "skipped",
            Result.IGNORED: "ignored",
            Result.DENIED: "denied",
        }[outcome.result]
        setattr(self, name, getattr(self, name) + 1)


def run_job(store: Store, job: JobConfig, on_message: OnMessage | None = None) -> RunSummary:
    """Never raises for a mailbox or message problem: the summary says what failed."""
    summary = RunSummary(job=job.name)
    started = time.monotonic()
    run_id = _start_run(store, job.name)
    try:
        password = resolve_password(job)
        with store.transaction() as session:
            context = resolve_context(session, job)
        acknowledged = _pass(store, job, password, context, summary, on_message)
        with store.transaction() as session:
            journal.mark_acknowledged(session, job.name, acknowledged)
        summary.acknowledged = len(acknowledged)
    except SourceError as exc:
        summary.failure = str(exc)
        log.error("job %s: %s", job.name, exc)
    except ConfigError as exc:
        summary.failure = str(SourceError(Step.SECRET, str(exc)))
        log.error("job %s: %s", job.name, exc)
    except Exception as exc:  # e.g. the database went away; other jobs still run
        summary.failure = f"{type(exc).__name__}: {exc}"
        log.exception("job %s failed", job.name)
    summary.seconds = time.monotonic() - started
    _finish_run(store, run_id, summary)
    return summary


def _pass(
    store: Store,
    job: JobConfig,
    password: str | None,
    context: JobContext,
    summary: RunSummary,
    on_message: OnMessage | None,
) -> list[str]:
    acknowledged: list[str] = []
    with open_source(job, password) as source:
        keys = source.list_keys()
        with store.transaction() as session:
            known = journal.lookup(session, job.name, keys)
            again = set(journal.unacknowledged(session, job.name))
        if job.effective_after_processing in (AfterProcessing.DELETE, AfterProcessing.MOVE):
            # Still in the folder although done: the last acknowledgement did not stick.
            again.update(key for key, state in known.items() if state.done)
        acknowledged += _acknowledge(source, sorted(again))

        new = [key for key in keys if key not in known]
        for start in range(0, len(new), job.fetch_batch):
            done = []
            for fetched in source.fetch(new[start : start + job.fetch_batch]):
                summary.fetched += 1
                reached(CrashPoint.AFTER_FETCH)
                outcome = take_in(store, job, context, fetched)
                summary.count(outcome)
                if on_message is not None:
                    on_message(outcome)
                if outcome.acknowledge:
                    done.append(fetched.key)
            acknowledged += _acknowledge(source, done)
    return acknowledged


def _acknowledge(source: Source, keys: Iterable[str]) -> list[str]:
    done = []
    for key in keys:
        source.acknowledge([key])
        done.append(key)
        reached(CrashPoint.DURING_ACK)
    return done


def _start_run(store: Store, job: str) -> int:
    with store.transaction() as session:
        run = Run(job=job, started_at=utcnow())
        session.add(run)
        session.flush()
        return run.id


def _finish_run(store: Store, run_id: int, summary: RunSummary) -> None:
    try:
        with store.transaction() as session:
            run = session.get(Run, run_id)
            if run is None:
                return
            run.finished_at = utcnow()
            run.status = "ok" if summary.ok else "failed"
            run.error = summary.failure
            for name in (
                "fetched",
                "created",
                "updated",
                "duplicates",
                "quarantined",
                "acknowledged",
            ):
                setattr(run, name, getattr(summary, name))
    except Exception:
        log.exception("job %s: could not record the run", summary.job)
