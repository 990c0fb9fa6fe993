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
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from sqlalchemy.orm import Session

from deskmail.apply.context import JobContext, resolve_context
from deskmail.apply.events import credential_expiring, mailbox_failed, mailbox_recovered
from deskmail.auth.tokens import job_tokens
from deskmail.config.errors import ConfigError
from deskmail.config.fate import Fate
from deskmail.config.models import AfterProcessing, DeskmailConfig, JobConfig
from deskmail.config.secrets import resolve_password
from deskmail.intake import journal
from deskmail.intake.faults import CrashPoint, reached
from deskmail.intake.parse_ahead import ParseAhead, Prepared
from deskmail.intake.process import MessageOutcome, take_in_batch
from deskmail.intake.run_log import RunLog, capturing
from deskmail.intake.sync_state import StoredSyncState
from deskmail.logs import debug_dump, job_logging, secret_values
from deskmail.outbound.outbox import deliver_pending
from deskmail.parse.spool import Spool, discard
from deskmail.sources.base import FetchedMessage, Source
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.factory import open_source
from deskmail.store.engine import Store
from deskmail.store.errors import describe_error
from deskmail.store.models import Run, utcnow
from deskmail.webhooks.outbox import queue_webhook
from deskmail.webhooks.payloads import RunFailed

log = logging.getLogger(__name__)

OnMessage = Callable[[MessageOutcome], None]


class Progress(Protocol):
    """Told how far a pass has got (run-once's bar on a terminal); told per batch, not
    per message, and not at all when None."""

    def found(self, count: int) -> None:
        """`count` new messages are to be taken in."""

    def taken(self, count: int) -> None:
        """`count` more of them are taken in (or quarantined)."""


# A transaction batch holds at most job.fetch_batch messages and this many bytes of
# mail (a bigger message alone): the batch's raw bytes are held until its commit.
BATCH_BYTES = 4 * 1024 * 1024
# Messages acknowledged on the server per round trip: a batch's keys wait for the
# next batches' (each STORE and EXPUNGE round trip costs the server a few ms),
# and what is left goes at the end of the pass. A crash
# in between leaves them committed but not acknowledged: the next pass does it.
ACKNOWLEDGE_EVERY = 500
# With a parsing worker: batches fetched and handed to it before the oldest is
# written. With one, a large batch after a small one kept this process waiting
# for its parse; two took the benchmark's 1,000 mails from 2.6 s to 2.3 s.
PARSE_AHEAD_BATCHES = 2


@dataclass
class RunSummary:
    job: str
    fetched: int = 0
    created: int = 0
    updated: int = 0
    duplicates: int = 0
    quarantined: int = 0
    skipped: int = 0
    sent: int = 0  # automatic mails delivered after the pass
    ignored: int = 0
    denied: int = 0
    acknowledged: int = 0
    seconds: float = 0.0
    failure: str | None = None  # why the job could not finish, one line
    step: str | None = None  # the mailbox step that failed (sources.errors.Step), if one did

    @property
    def ok(self) -> bool:
        return self.failure is None

    def count(self, outcome: MessageOutcome) -> None:
        # Counted, not kept: a backlog of 10,000 mails would hold 10,000 outcomes.
        name = {
            Fate.CREATED: "created",
            Fate.UPDATED: "updated",
            Fate.DUPLICATE: "duplicates",
            Fate.QUARANTINED: "quarantined",
            Fate.SKIPPED: "skipped",
            Fate.IGNORED: "ignored",
            Fate.DENIED: "denied",
        }[outcome.result]
        setattr(self, name, getattr(self, name) + 1)


def run_job(
    store: Store,
    job: JobConfig,
    on_message: OnMessage | None = None,
    *,
    should_stop: Callable[[], bool] | None = None,
    debug_dir: Path | None = None,
    config: DeskmailConfig | None = None,
    parse_worker: bool = False,
    progress: Progress | None = None,
) -> RunSummary:
    """Never raises for a mailbox or message problem: the summary says what failed.

    `should_stop`: asked after each message (the daemon's SIGTERM); `debug_dir`:
    keep every fetched message's raw bytes there (--debug); `config`: the whole
    configuration, for outgoing mail ([smtp], templates); None sends nothing.
    `parse_worker`: parse in a second process, up to PARSE_AHEAD_BATCHES ahead of
    the writes (run-once --parse-worker; intake/parse_ahead.py). `progress`: told
    how many new messages there are and how many are taken in.
    """
    with job_logging(job.name), capturing(_secrets(job, config)) as run_log:
        summary = RunSummary(job=job.name)
        started = time.monotonic()
        run_id, context = _start_run(store, job)
        failed: SourceError | None = None
        acknowledged: list[str] = []
        try:
            password = resolve_password(job)
            if job.oauth2 is not None:
                _warn_expiring(store, job)
            if context is None:  # not resolved with the run's row: again, to learn why
                with store.transaction() as session:
                    context = resolve_context(session, job)
            acknowledged = _pass(
                store,
                job,
                password,
                context,
                summary,
                on_message,
                should_stop=should_stop,
                debug_dir=debug_dir,
                config=config,
                parse_worker=parse_worker,
                progress=progress,
            )
            summary.acknowledged = len(acknowledged)
            if config is not None:
                _deliver(store, config, job, summary)
        except SourceError as exc:
            failed = exc
            log.error("job %s: %s", job.name, exc)
        except ConfigError as exc:
            failed = SourceError(Step.SECRET, str(exc))
            log.error("job %s: %s", job.name, exc)
        except Exception as exc:  # e.g. the database went away; other jobs still run
            summary.failure = describe_error(exc)
            log.error("job %s failed: %s", job.name, summary.failure)
            log.debug("job %s: the failure's traceback", job.name, exc_info=exc)
        if failed is not None:
            summary.failure = str(failed)
            summary.step = failed.step.value
        summary.seconds = time.monotonic() - started
        _finish_run(store, job, run_id, summary, run_log, acknowledged, failed)
        return summary


def _secrets(job: JobConfig, config: DeskmailConfig | None) -> set[str]:
    """What the run's kept log lines must not show (as the log files do not)."""
    if config is not None:
        return secret_values(config)
    try:
        return {resolve_password(job) or ""} - {""}
    except ConfigError:
        return set()


def _deliver(store: Store, config: DeskmailConfig, job: JobConfig, summary: RunSummary) -> None:
    """Send the automatic mails this pass queued; an SMTP problem never fails the intake."""
    try:
        report = deliver_pending(store, config, job)
    except Exception as exc:
        log.error(
            "job %s: outgoing mail not sent; it stays queued (%s)", job.name, describe_error(exc)
        )
        log.debug("job %s: the outgoing mail's traceback", job.name, exc_info=exc)
        return
    summary.sent = report.sent
    for error in report.errors:
        log.warning("job %s: outgoing mail: %s", job.name, error)


def _counts(summary: RunSummary) -> str:
    return (
        f"fetched {summary.fetched}, created {summary.created}, updated {summary.updated},"
        f" quarantined {summary.quarantined}, acknowledged {summary.acknowledged}"
        f" in {summary.seconds:.2f} s"
    )


def _warn_expiring(store: Store, job: JobConfig) -> None:
    """An OAuth2 job whose client secret or certificate expires soon: a warning, an event."""
    from deskmail.auth.status import expiring_soon

    now = utcnow()
    try:
        soon = expiring_soon(job, now)
        if soon is None:
            return
        what, expires = soon
        log.warning("job %s: the OAuth2 %s expires on %s", job.name, what, f"{expires:%Y-%m-%d}")
        with store.transaction() as session:
            credential_expiring(session, job, what, expires, now)
    except (ConfigError, SourceError):  # the run itself reports an unreadable credential
        return
    except Exception as exc:  # the run goes on
        log.error(
            "job %s: could not check the credential's expiry (%s)", job.name, describe_error(exc)
        )


def _report_health(
    session: Session, store: Store, job: JobConfig, failure: SourceError | None
) -> None:
    """Open, add to or close the job's infrastructure event (apply.events), in a
    savepoint of the run's last transaction: if it fails, the run is still recorded."""
    try:
        with session.begin_nested():
            if failure is None:
                event = mailbox_recovered(session, job, utcnow())
                verb = "closed"
            else:
                event = mailbox_failed(session, store.blobs, job, failure, utcnow())
                verb = "reported in"
        if event is not None:
            log.warning("job %s: %s event %s-%d", job.name, verb, event.team.name, event.number)
    except Exception as exc:  # the run's own outcome must still be recorded
        log.error(
            "job %s: could not record the mailbox's state (%s)", job.name, describe_error(exc)
        )
        log.debug("job %s: the mailbox state's traceback", job.name, exc_info=exc)


def _pass(
    store: Store,
    job: JobConfig,
    password: str | None,
    context: JobContext,
    summary: RunSummary,
    on_message: OnMessage | None,
    *,
    should_stop: Callable[[], bool] | None = None,
    debug_dir: Path | None = None,
    config: DeskmailConfig | None = None,
    parse_worker: bool = False,
    progress: Progress | None = None,
) -> list[str]:
    acknowledged: list[str] = []
    tokens = job_tokens(job, store)  # None unless the job signs in with OAuth2
    state = StoredSyncState(store, job.name)
    # A source that streams a large mail (Graph) spools it where large attachments go.
    spool_directory = store.blobs.spool_directory()
    with open_source(job, password, state, tokens, spool_directory) as source:
        keys = source.list_keys()
        with store.session() as session:  # reads: no write lock for it on SQLite
            known = journal.lookup(session, job.name, keys)
            again = set(journal.unacknowledged(session, job.name))
        if job.effective_after_processing in (AfterProcessing.DELETE, AfterProcessing.MOVE):
            # Still in the folder although done: the last acknowledgement did not stick.
            again.update(key for key, state in known.items() if state.done)
        acknowledged += _acknowledge(source, sorted(again))

        new = [key for key in keys if key not in known]
        if progress is not None:
            progress.found(len(new))
        # A worker process parses the next batch while this one is written (parse_ahead.py).
        ahead = ParseAhead(
            enabled=parse_worker and len(new) > job.fetch_batch,
            spool=_spool(store, job) if new else None,
            budget=job.message_budget_seconds,
        )

        waiting: list[str] = []  # committed, to be acknowledged

        def take_in(
            batch: list[FetchedMessage], parsing: Future[list[Prepared]] | None
        ) -> list[str]:
            waiting.extend(
                _take_in(store, job, context, ahead, batch, parsing, summary, on_message, config)
            )
            if progress is not None:
                progress.taken(len(batch))
            if len(waiting) < ACKNOWLEDGE_EVERY:
                return []
            done = _acknowledge(source, waiting)
            waiting.clear()
            return done

        complete = True  # every listed message taken in: the source may save its place
        try:
            # Batches being parsed by the worker, oldest first; taken in in order
            # (a reply may follow its request).
            ahead_of_writes: deque[tuple[list[FetchedMessage], Future[list[Prepared]]]] = deque()
            for batch in _batches(source, job, new, summary, debug_dir):
                parsing = ahead.submit(batch)
                if parsing is None:  # parsed here: nothing to gain by waiting
                    while ahead_of_writes:
                        acknowledged += take_in(*ahead_of_writes.popleft())
                    acknowledged += take_in(batch, None)
                else:
                    ahead_of_writes.append((batch, parsing))
                    if len(ahead_of_writes) > PARSE_AHEAD_BATCHES:
                        acknowledged += take_in(*ahead_of_writes.popleft())
                if should_stop is not None and should_stop():
                    log.info(
                        "job %s: stopping after %d message(s), as asked", job.name, summary.fetched
                    )
                    complete = False
                    break
                # Let go of this batch's mail before the next FETCH, not after it: the
                # two together made the peak memory of a run.
                del batch, parsing
            while ahead_of_writes:
                acknowledged += take_in(*ahead_of_writes.popleft())
            acknowledged += _acknowledge(source, waiting)
            if complete:
                reached(CrashPoint.BEFORE_CHECKPOINT)
                source.checkpoint()
        finally:
            ahead.close()
    return acknowledged


def _spool(store: Store, job: JobConfig) -> Spool:
    """Where large attachments are decoded to; what a crash left there is removed first."""
    swept = store.blobs.sweep_temporary()
    if swept:
        log.info("job %s: removed %d temporary file(s) left by an earlier run", job.name, swept)
    return Spool(store.blobs.spool_directory())


def _batches(
    source: Source,
    job: JobConfig,
    keys: list[str],
    summary: RunSummary,
    debug_dir: Path | None,
) -> Iterator[list[FetchedMessage]]:
    """The new messages in transaction batches: job.fetch_batch messages, or fewer that
    together stay within BATCH_BYTES. A message that would take a batch past it starts
    the next one (a bigger message is a batch of its own): filling a batch up to the
    limit and then adding one more had let a batch hold 7.6 MB on the benchmark."""
    for start in range(0, len(keys), job.fetch_batch):
        batch: list[FetchedMessage] = []
        size = 0
        for fetched in source.fetch(keys[start : start + job.fetch_batch]):
            summary.fetched += 1
            reached(CrashPoint.AFTER_FETCH)
            if debug_dir is not None:
                _keep_raw(debug_dir, job.name, fetched)
            if batch and size + len(fetched.raw) > BATCH_BYTES:
                yield batch
                batch, size = [], 0
            batch.append(fetched)
            size += len(fetched.raw)
        if batch:
            yield batch


def _take_in(
    store: Store,
    job: JobConfig,
    context: JobContext,
    ahead: ParseAhead,
    batch: list[FetchedMessage],
    parsing: Future[list[Prepared]] | None,
    summary: RunSummary,
    on_message: OnMessage | None,
    config: DeskmailConfig | None,
) -> list[str]:
    """One transaction for the batch; the keys to acknowledge (all but quarantined ones)."""
    done = []
    prepared = ahead.collect(batch, parsing)
    try:
        outcomes = take_in_batch(store, job, context, batch, prepared, config)
    finally:  # files of attachments not kept (ignored, quarantined): the blob store took the rest
        discard(p.message for p in prepared if p.message is not None)
    for outcome in outcomes:
        summary.count(outcome)
        if on_message is not None:
            on_message(outcome)
        if outcome.acknowledge:
            done.append(outcome.key)
    return done


def _keep_raw(directory: Path, job: str, fetched: FetchedMessage) -> None:
    try:
        debug_dump(directory, job, fetched.key, fetched.raw)
    except OSError as exc:  # a debugging aid must not stop the mailbox
        log.warning("job %s: could not keep %s in %s: %s", job, fetched.key, directory, exc)


def _acknowledge(source: Source, keys: list[str]) -> list[str]:
    """One round trip for these keys (the source chunks long UID sets); a copy of them."""
    if keys:
        source.acknowledge(keys)
    for _ in keys:
        reached(CrashPoint.DURING_ACK)
    return list(keys)


def _start_run(store: Store, job: JobConfig) -> tuple[int, JobContext | None]:
    """The run's row and, in the same transaction, the job's context (team, site,
    fallback person: one write transaction fewer a pass). The context is None when
    it could not be resolved: the row is then written alone, and the run resolves
    the context again inside its error handling, which reports why."""
    try:
        with store.transaction() as session:
            return _add_run(session, job.name), resolve_context(session, job)
    except Exception:
        with store.transaction() as session:
            return _add_run(session, job.name), None


def _add_run(session: Session, job: str) -> int:
    run = Run(job=job, started_at=utcnow())
    session.add(run)
    session.flush()
    return run.id


def _finish_run(
    store: Store,
    job: JobConfig,
    run_id: int,
    summary: RunSummary,
    run_log: RunLog,
    acknowledged: list[str],
    failed: SourceError | None,
) -> None:
    """The pass's last transaction: the journal learns what was acknowledged (the
    source's session has closed), the mailbox's event opens or closes, and the run's
    row gets its outcome and log lines. One commit instead of three a pass."""
    log.info("job %s: %s", job.name, _counts(summary))
    try:
        with store.transaction() as session:
            if acknowledged:
                journal.mark_acknowledged(session, job.name, acknowledged)
            if failed is not None:
                _report_health(session, store, job, failed)
            elif summary.failure is None:  # the mailbox worked: close an open event
                _report_health(session, store, job, None)
            run = session.get(Run, run_id)
            if run is None:
                return
            run.finished_at = utcnow()
            run.status = "ok" if summary.ok else "failed"
            run.error = summary.failure
            run.step = summary.step
            run_log.save(session, run_id)
            if summary.failure is not None:
                failed_run = RunFailed(
                    run.id, run.job, summary.failure, run.started_at, run.finished_at
                )
                queue_webhook(session, failed_run)
            for name in (
                "fetched",
                "created",
                "updated",
                "duplicates",
                "quarantined",
                "ignored",
                "denied",
                "sent",
                "acknowledged",
            ):
                setattr(run, name, getattr(summary, name))
    except Exception as exc:
        log.error("job %s: could not record the run (%s)", summary.job, describe_error(exc))
        log.debug("job %s: the run record's traceback", summary.job, exc_info=exc)
