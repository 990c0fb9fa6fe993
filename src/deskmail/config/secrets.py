"""Passwords from where the configuration says they are, and job settings safe to show."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from deskmail.config.errors import ConfigError
from deskmail.config.models import NETWORK_PROTOCOLS, JobConfig

REDACTED = "***"
_MAX_LINE = 64 * 1024  # a password file pointed at a large file must not be read whole


def resolve_password(job: JobConfig) -> str | None:
    """The job's password, or None when its protocol needs none (maildir).

    Read at each use rather than at load time, so a rotated secret is picked
    up by the next run without a restart.
    """
    if job.protocol not in NETWORK_PROTOCOLS:
        return None
    if job.password_env is not None:
        return _from_env(job, job.password_env)
    if job.password_file is not None:
        return _from_file(job, job.password_file)
    return job.password


def _from_env(job: JobConfig, variable: str) -> str:
    value = os.environ.get(variable)
    if value is None:
        raise _error(job, "password_env", f"environment variable {variable} is not set")
    if not value:
        raise _error(job, "password_env", f"environment variable {variable} is empty")
    return value


def _from_file(job: JobConfig, path: Path) -> str:
    try:
        with path.open("rb") as file:
            first = file.readline(_MAX_LINE)
    except OSError as exc:
        raise _error(job, "password_file", f"cannot read {path}: {exc.strerror}") from None
    try:
        password = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        raise _error(job, "password_file", f"{path} is not UTF-8 text") from None
    if not password:
        raise _error(job, "password_file", f"the first line of {path} is empty")
    return password


def _error(job: JobConfig, setting: str, problem: str) -> ConfigError:
    return ConfigError(job.origin_file, job.key(setting), problem)


def redact(job: JobConfig) -> dict[str, Any]:
    """The job's settings as plain JSON-ready values, with every secret shown as "***".

    A field hidden from repr in the model is a secret; the names of variables
    and files that hold secrets are kept, since they help diagnose a failure.
    """
    settings = job.model_dump(mode="json")
    for name, field in type(job).model_fields.items():
        if not field.repr and settings.get(name) is not None:
            settings[name] = REDACTED
    return settings
