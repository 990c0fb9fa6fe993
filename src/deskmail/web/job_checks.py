"""Test Connection and Load folders for the job editor, the Jobs screen and the API.

They run `deskmail check`'s connection check (sources/check.py) on a job as
given: the editor's unsaved draft, or a saved job. The outcome says the step
that failed and a hint, never a secret (SourceError details carry none).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from deskmail.config.errors import ConfigError
from deskmail.config.models import DeskmailConfig, JobConfig
from deskmail.store.engine import Store

if TYPE_CHECKING:
    from deskmail.sources.base import BearerTokens
    from deskmail.sources.errors import SourceError


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    ok: bool
    summary: str  # passed: what the mailbox holds; failed: "FAILED at <step> (server): detail"
    step: str | None = None  # the step that failed: dns, connect, tls, login, folder, ...
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class FolderListing:
    folders: tuple[str, ...]
    failure: CheckOutcome | None = None  # why none could be listed


def check_job(job: JobConfig, config: DeskmailConfig, store: Store) -> CheckOutcome:
    """Connect, log in, open the folder and count, as `deskmail check` does."""
    from deskmail.report.check import mailbox_line, waiting
    from deskmail.sources.check import check_connection
    from deskmail.sources.errors import SourceError

    try:
        password, tokens = _credentials(job, store)
        info = check_connection(job, password, tokens)
    except SourceError as exc:
        return _failed(exc, job)
    except ConfigError as exc:
        return CheckOutcome(False, f"FAILED at password: {exc.problem}", "password")
    line = mailbox_line(job, info, waiting(config, job, info.keys))
    return CheckOutcome(True, line.removeprefix(f"{job.name}: "))


def folders_of(job: JobConfig, store: Store) -> FolderListing:
    from deskmail.sources.errors import SourceError
    from deskmail.sources.folders import list_folders

    try:
        password, tokens = _credentials(job, store)
        return FolderListing(tuple(list_folders(job, password, tokens)))
    except SourceError as exc:
        return FolderListing((), _failed(exc, job))
    except ConfigError as exc:
        failure = CheckOutcome(False, f"FAILED at password: {exc.problem}", "password")
        return FolderListing((), failure)


def _credentials(job: JobConfig, store: Store) -> tuple[str | None, BearerTokens | None]:
    from deskmail.auth.tokens import job_tokens
    from deskmail.config.secrets import resolve_password

    tokens = job_tokens(job, store) if job.oauth2 is not None else None
    return resolve_password(job), tokens


def _failed(exc: SourceError, job: JobConfig) -> CheckOutcome:
    from deskmail.sources.check import describe_failure

    line, _, hint = describe_failure(exc, job).partition("\n")
    return CheckOutcome(False, line, exc.step.value, hint.strip().removeprefix("hint: ") or None)
