"""Passwords from where the configuration says they are, and settings safe to show."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from deskmail.config.errors import ConfigError
from deskmail.config.models import PASSWORD_PROTOCOLS, JobConfig, SmtpConfig
from deskmail.config.oauth2 import OAuth2Config

REDACTED = "***"
_MAX_LINE = 64 * 1024  # a password file pointed at a large file must not be read whole

# Builds the error for a setting ("password_env") and a problem in plain words.
_Fail = Callable[[str, str], ConfigError]


def resolve_password(job: JobConfig) -> str | None:
    """The job's password, or None when its protocol needs none (maildir).

    Read at each use rather than at load time, so a rotated secret is picked
    up by the next run without a restart.
    """
    if job.protocol not in PASSWORD_PROTOCOLS or job.oauth2 is not None:
        return None
    return _resolve(
        job, lambda setting, problem: ConfigError(job.origin_file, job.key(setting), problem)
    )


def resolve_smtp_password(
    smtp: SmtpConfig, *, file: Path | None = None, key: str = "smtp"
) -> str | None:
    """The SMTP password, or None when no user is set (the server is used without AUTH).

    `file` and `key` say where these settings were written, for the error:
    the global [smtp] table, or a job's (`job.key("smtp")`).
    """
    if not smtp.user or smtp.oauth2 is not None:
        return None
    return _resolve(smtp, lambda setting, problem: ConfigError(file, f"{key}.{setting}", problem))


def _resolve(settings: JobConfig | SmtpConfig, fail: _Fail) -> str | None:
    if settings.password_env is not None:
        return _from_env(settings.password_env, fail)
    if settings.password_file is not None:
        return _from_file(settings.password_file, fail)
    return settings.password


def resolve_client_secret(oauth2: OAuth2Config, fail: _Fail) -> str | None:
    """The OAuth2 client secret, or None when the table names none (a certificate, a person).

    `fail` builds the error for a setting of the oauth2 table ("oauth2.client_secret_env").
    """
    if oauth2.client_secret_env is not None:
        return _from_env(oauth2.client_secret_env, fail, "client_secret_env")
    if oauth2.client_secret_file is not None:
        return _from_file(oauth2.client_secret_file, fail, "client_secret_file")
    return oauth2.client_secret


def resolve_certificate_password(oauth2: OAuth2Config, fail: _Fail) -> str | None:
    """The password of the certificate's private key, when the table names a variable."""
    if oauth2.certificate_password_env is None:
        return None
    return _from_env(oauth2.certificate_password_env, fail, "certificate_password_env")


def _from_env(variable: str, fail: _Fail, setting: str = "password_env") -> str:
    value = os.environ.get(variable)
    if value is None:
        raise fail(setting, f"environment variable {variable} is not set")
    if not value:
        raise fail(setting, f"environment variable {variable} is empty")
    return value


def _from_file(path: Path, fail: _Fail, setting: str = "password_file") -> str:
    try:
        with path.open("rb") as file:
            first = file.readline(_MAX_LINE)
    except OSError as exc:
        raise fail(setting, f"cannot read {path}: {exc.strerror}") from None
    try:
        password = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        raise fail(setting, f"{path} is not UTF-8 text") from None
    if not password:
        raise fail(setting, f"the first line of {path} is empty")
    return password


def redact(job: JobConfig) -> dict[str, Any]:
    """The job's settings as plain JSON-ready values, with every secret shown as "***".

    A field hidden from repr in the model is a secret, also in nested settings
    (a job's [smtp] table); the names of variables and files that hold secrets
    are kept, since they help diagnose a failure.
    """
    return _redacted(job, job.model_dump(mode="json"))


def _redacted(model: BaseModel, settings: dict[str, Any]) -> dict[str, Any]:
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if not field.repr and settings.get(name) is not None:
            settings[name] = REDACTED
        elif isinstance(value, BaseModel) and isinstance(settings.get(name), dict):
            settings[name] = _redacted(value, settings[name])
    return settings
