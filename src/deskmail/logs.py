"""Logging: stderr, a global rotated log file, one rotated file per job, debug dumps.

- Every record is stamped with the job being run (`job_logging`, a context
  variable, so concurrent jobs of the daemon each keep their own), and a
  job's own file receives only that job's records.
- Text by default; with `format = "json"` one JSON object per line
  (timestamp, level, logger, job, message, exception).
- Every configured secret (mailbox and SMTP passwords from a variable, a
  file or the config, the database password) is replaced by *** before any
  handler writes a record, tracebacks included.
- Message bodies are never logged: log calls name jobs, keys, sizes and
  reasons, never content; imapclient's wire log (which carries bodies) is
  held at INFO by deskmail.sources.imap.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import partial
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import TextIO

from sqlalchemy.engine import make_url

from deskmail.config.errors import ConfigError
from deskmail.config.models import DeskmailConfig, LogFormat, LoggingConfig
from deskmail.config.secrets import (
    REDACTED,
    resolve_client_secret,
    resolve_password,
    resolve_smtp_password,
)
from deskmail.store.engine import resolve_database_url

TEXT_FORMAT = "%(asctime)s %(levelname)s %(job_prefix)s%(name)s: %(message)s"
_VERBOSITY = (logging.WARNING, logging.INFO, logging.DEBUG)
_OURS = "_deskmail_handler"  # marks handlers configure_logging installed, to replace them
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

_current_job: ContextVar[str | None] = ContextVar("deskmail_job", default=None)


@contextmanager
def job_logging(name: str) -> Iterator[None]:
    """Records logged inside the block belong to job `name`."""
    token = _current_job.set(name)
    try:
        yield
    finally:
        _current_job.reset(token)


def configure_logging(config: DeskmailConfig | None, verbose: int = 0, debug: bool = False) -> None:
    """(Re)install deskmail's handlers on the root logger; safe to call again.

    stderr shows warnings (-v info, -vv debug); the files get config.logging.level.
    `debug` turns every handler to DEBUG.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
        old.close()
    redactor = Redactor(secret_values(config) if config is not None else ())
    console = _StderrHandler()
    console.addFilter(_not_files_only)
    console.setFormatter(logging.Formatter(TEXT_FORMAT))
    console.setLevel(logging.DEBUG if debug else _VERBOSITY[min(max(verbose, 0), 2)])
    handlers: list[logging.Handler] = [console]
    if config is not None:
        handlers += _file_handlers(config, logging.DEBUG if debug else None)
    for handler in handlers:
        # JobTag first: the job filter of a per-job file reads what it stamps.
        handler.filters.insert(0, redactor)
        handler.filters.insert(0, JobTag())
        setattr(handler, _OURS, True)
        root.addHandler(handler)
    root.setLevel(min(handler.level for handler in handlers))


def _file_handlers(config: DeskmailConfig, level: int | None) -> list[logging.Handler]:
    settings = config.logging
    level = level if level is not None else logging.getLevelNamesMapping()[settings.level.upper()]
    base = config.source_file.parent if config.source_file else Path.cwd()
    handlers = []
    if settings.file is not None:
        handlers.append(_rotating(base / settings.file, settings, level))
    # Jobs sharing a file share one handler: two handlers rotating one file would clash.
    per_file: dict[Path, set[str]] = {}
    for job in config.jobs:
        if job.log_file is not None:
            per_file.setdefault((base / job.log_file).absolute(), set()).add(job.name)
    for path, names in per_file.items():
        handler = _rotating(path, settings, level)
        handler.addFilter(OnlyJobs(names))
        handlers.append(handler)
    return handlers


def _rotating(path: Path, settings: LoggingConfig, level: int) -> logging.Handler:
    path.parent.mkdir(parents=True, exist_ok=True)  # unlike Octopus, a missing folder is made
    handler = RotatingFileHandler(
        path,
        maxBytes=settings.max_bytes,
        backupCount=settings.backups,
        encoding="utf-8",
        delay=True,
    )
    handler.setFormatter(
        JsonFormatter() if settings.format is LogFormat.JSON else logging.Formatter(TEXT_FORMAT)
    )
    handler.setLevel(level)
    return handler


# extra= for a record the command has already shown on the terminal in its own words.
FILES_ONLY = {"files_only": True}


def _not_files_only(record: logging.LogRecord) -> bool:
    return not getattr(record, "files_only", False)


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


class JobTag(logging.Filter):
    """Stamps a record with its job (`job`, None outside one) and a text prefix."""

    def filter(self, record: logging.LogRecord) -> bool:
        job = getattr(record, "job", None) or _current_job.get()
        record.job = job
        record.job_prefix = f"[{job}] " if job else ""
        return True


class OnlyJobs(logging.Filter):
    """Lets through only the records of the named jobs (a per-job log file)."""

    def __init__(self, names: Iterable[str]) -> None:
        super().__init__()
        self.names = frozenset(names)

    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(record, "job", None) in self.names


class Redactor(logging.Filter):
    """Replaces every secret in a record's message, traceback and stack by ***."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        variants: set[str] = set()
        for secret in secrets:
            if secret:
                # Also as it looks in a repr() of the str or of its UTF-8 bytes.
                variants |= {secret, repr(secret)[1:-1], repr(secret.encode())[2:-1]}
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted(variants, key=len, reverse=True)
        self._plain = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # bad arguments to a log call: keep what is there, redacted
            message = f"{record.msg} {record.args}"
        record.msg, record.args = self.scrub(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._plain.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        return True

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, job, message[, exception]."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "job": getattr(record, "job", None),
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def secret_values(config: DeskmailConfig) -> set[str]:
    """Every secret the configuration points at, read now."""
    readers: list[Callable[[], str | None]] = [partial(resolve_password, j) for j in config.jobs]
    smtps = (config.smtp, *(job.smtp for job in config.jobs))
    readers += [partial(resolve_smtp_password, smtp) for smtp in smtps if smtp is not None]
    # OAuth2 client secrets (access tokens are never logged: msal's logger is quieted).
    tables = [job.oauth2 for job in config.jobs] + [s.oauth2 for s in smtps if s is not None]
    readers += [partial(resolve_client_secret, oauth2, _unreadable) for oauth2 in tables if oauth2]
    found = {str(make_url(resolve_database_url(config)).password or "")}
    for read in readers:
        try:
            found.add(read() or "")
        except ConfigError:  # unreadable: the run will say so, and there is nothing to hide
            continue
    found.discard("")
    return found


def _unreadable(setting: str, problem: str) -> ConfigError:
    return ConfigError(None, setting, problem)


def debug_dump(directory: Path, job: str, key: str, raw: bytes) -> Path:
    """Keep a fetched message's exact bytes (Octopus /Debug RawMessage.txt), one file each.

    Named by job and key, made safe for any file system, plus a short hash of
    both so that keys which sanitise alike cannot overwrite each other. The
    files hold people's mail: readable by the owner only.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    tag = hashlib.sha256(f"{job}\0{key}".encode()).hexdigest()[:8]
    path = directory / f"{_safe(job)}_{_safe(key)}_{tag}.eml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(raw)
    return path


def _safe(text: str) -> str:
    return _UNSAFE.sub("_", text).strip("._")[:80] or "x"


__all__ = [
    "JobTag",
    "JsonFormatter",
    "OnlyJobs",
    "Redactor",
    "configure_logging",
    "debug_dump",
    "job_logging",
    "secret_values",
]
