"""The log lines of one run, kept with the run (the Runs screen shows them by level).

While a job runs, every record deskmail logs in that run's context (the same
thread or task: a context variable says which run it belongs to) is kept in
memory, redacted like the log files, cut to a bounded size, and written with
the run's end. Log calls name jobs, keys, sizes and reasons, never mail text
(see deskmail.logs), so neither do these lines.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from deskmail.logs import Redactor
from deskmail.store.models import RunLogLine

MAX_LINES = 500  # per run: a backlog of 10,000 mails must not write 10,000 lines
MAX_CHARS = 1000  # per line, tracebacks included
LEVEL = logging.INFO  # kept from this level up, whatever the terminal shows
_PACKAGE_LOGGER = "deskmail"


@dataclass(frozen=True, slots=True)
class LoggedLine:
    logged_at: datetime
    level: int
    logger: str
    message: str


@dataclass(slots=True)
class RunLog:
    """The lines of one run so far; the first MAX_LINES - 1 and, past that, the last one."""

    redactor: Redactor
    lines: list[LoggedLine] = field(default_factory=list)
    dropped: int = 0

    def add(self, record: logging.LogRecord) -> None:
        self.redactor.filter(record)
        text = record.getMessage()
        if record.exc_text or record.exc_info:
            text += " (traceback in the log file)"
        line = LoggedLine(
            datetime.fromtimestamp(record.created, UTC),
            record.levelno,
            record.name[:200],
            text[:MAX_CHARS],
        )
        if len(self.lines) < MAX_LINES - 1:
            self.lines.append(line)
        elif self.dropped == 0 and len(self.lines) == MAX_LINES - 1:
            self.lines.append(line)  # the last slot: replaced by each later line
        else:
            self.lines[-1] = line
            self.dropped += 1

    def save(self, session: Session, run_id: int) -> None:
        kept = list(self.lines)
        if self.dropped:
            note = LoggedLine(
                kept[-1].logged_at,
                logging.WARNING,
                "deskmail.intake.run_log",
                f"{self.dropped} more log lines of this run were not kept (see the log file)",
            )
            kept.insert(-1, note)
        session.add_all(
            RunLogLine(
                run_id=run_id,
                logged_at=line.logged_at,
                level=line.level,
                logger=line.logger,
                message=line.message,
            )
            for line in kept
        )


_current: ContextVar[RunLog | None] = ContextVar("deskmail_run_log", default=None)


class _RunLogHandler(logging.Handler):
    """Hands each record to the run log of the context it was logged in, if any."""

    def emit(self, record: logging.LogRecord) -> None:
        log = _current.get()
        if log is None:
            return
        try:
            log.add(logging.makeLogRecord(record.__dict__))  # a copy: redaction rewrites it
        except Exception:  # a log line must never fail a run
            self.handleError(record)


_handler = _RunLogHandler(LEVEL)
_lock = threading.Lock()
_active = 0  # runs capturing now, across threads


@contextmanager
def capturing(secrets: Iterable[str]) -> Iterator[RunLog]:
    """The block's log records (from LEVEL up) gathered in a RunLog, secrets replaced."""
    _start()
    log = RunLog(Redactor(secrets))
    token = _current.set(log)
    try:
        yield log
    finally:
        _current.reset(token)
        _stop()


def _start() -> None:
    global _active
    package = logging.getLogger(_PACKAGE_LOGGER)
    with _lock:
        _active += 1
        if _handler not in package.handlers:
            package.addHandler(_handler)
        # INFO must reach the handler even when the terminal shows warnings only; the
        # other handlers keep their own levels, so they show no more than before.
        if package.level == logging.NOTSET and package.getEffectiveLevel() > LEVEL:
            package.setLevel(LEVEL)
            setattr(package, _RAISED, True)


def _stop() -> None:
    global _active
    package = logging.getLogger(_PACKAGE_LOGGER)
    with _lock:
        _active -= 1
        if _active == 0 and getattr(package, _RAISED, False):
            package.setLevel(logging.NOTSET)  # as configure_logging left it
            setattr(package, _RAISED, False)


_RAISED = "_deskmail_run_log_level"


__all__ = ["LEVEL", "MAX_LINES", "LoggedLine", "RunLog", "capturing"]
