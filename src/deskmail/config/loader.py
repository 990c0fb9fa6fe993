"""Read deskmail.toml, validate it, and report every problem in plain words.

Each problem names the file, the key (with the job's name) and what is wrong,
so the person fixing it never has to read a pydantic error.
"""

from __future__ import annotations

import difflib
import itertools
import logging
import os
import re
import tomllib
import typing
import unicodedata
from enum import Enum
from pathlib import Path
from typing import Any, TypeGuard

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from deskmail.config.errors import ConfigError, Issue, job_key, job_label
from deskmail.config.models import (
    PASSWORD_PROTOCOLS,
    DatabaseConfig,
    DeskmailConfig,
    JobConfig,
    Security,
    SmtpConfig,
    SmtpSecurity,
    WebConfig,
)
from deskmail.config.oauth2 import OAuth2Config
from deskmail.config.object_types import Records

log = logging.getLogger("deskmail.config")

DATABASE_URL_ENV = "DESKMAIL_DATABASE_URL"
DEFAULT_JOB_NAME = "Mail Connector"  # the Alloy Navigator default, numbered "(1)", "(2)", ...

# Names people bring from other products (Octopus XML, Alloy dialogs) that
# difflib would not connect to ours.
_ALIASES = {
    "host": "server",
    "hostname": "server",
    "servername": "server",
    "login": "user",
    "username": "user",
    "mailbox": "folder",
    "ssl": "security",
    "tls": "security",
    "usessl": "security",
    "use_ssl": "security",
}
# A denied sender is owed an automatic reply (Octopus "Automatic reply for denied
# request creation"); without a way to send it the mail would vanish unanswered.
DENIAL_NEEDS_SMTP = (
    "false denies new requests, and each denied sender is owed an automatic reply:"
    " it needs [smtp] settings (or smtp on the job) to send it"
)
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_SQLITE_FILE = re.compile(r"(?P<scheme>sqlite(?:\+\w+)?:///)(?P<file>[^?]*)(?P<query>\?.*)?", re.S)


def load_config(path: Path | str) -> DeskmailConfig:
    """Load and validate a configuration file; raise ConfigError listing every problem."""
    path = Path(path)
    raw = _read_toml(path)
    issues = []
    if "source_file" in raw:  # a field, but one only the loader sets
        issues.append(Issue("source_file", _unknown_key("source_file", DeskmailConfig)))
    config = _validated(raw, path, issues)
    _hand_records(config.jobs, config.records, path)
    _check_outgoing_mail(config, path)
    if config.smtp is not None:
        for warning in _smtp_warnings(config.smtp, path):
            log.warning("[smtp]: %s", warning)
    for job in config.jobs:
        for warning in _warnings(job, path) + _mail_warnings(config, job, path):
            log.warning('job "%s": %s', job.name, warning)
    return config


def validate_job(
    settings: dict[str, Any],
    *,
    base: Path,
    smtp: SmtpConfig | None,
    file: Path | None = None,
    records: Records | None = None,
) -> JobConfig:
    """One job's settings, as a [[jobs]] table holds them, validated as load_config does:
    the same models and messages, each key named 'jobs ("Name").setting'. Relative paths
    are taken from `base`; `smtp` is the global [smtp] table the job may send through.
    Raises ConfigError (with `file`, when the settings come from one)."""
    name = settings.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(file, job_key(None, None, "name"), "is required: the job's name")
    try:
        job = JobConfig.model_validate(settings)
    except ValidationError as exc:
        issues = [
            Issue(job_key(None, name, _key(error["loc"], [])), _problem(error, _in_job(error)))
            for error in exc.errors()
        ]
        raise ConfigError.many(file, issues) from None
    job = _place_job(job, base)
    job.set_origin(file, None)
    _hand_records([job], records or Records(), file)
    issues = outgoing_mail_issues(job, smtp)
    if issues:
        raise ConfigError.many(file, issues)
    return job


def load_jobs_file(
    path: Path, smtp: SmtpConfig | None, records: Records | None = None
) -> list[JobConfig]:
    """The [[jobs]] tables of a file (`deskmail config import`), validated as load_config
    validates them, their relative paths taken from the file's folder. Raises ConfigError
    naming the file, each key and its problem; a file with anything but jobs is refused."""
    raw = _read_toml(path)
    issues = [
        Issue(key, "is not imported: this file may hold [[jobs]] tables only")
        for key in raw
        if key != "jobs"
    ]
    if not raw.get("jobs") and not issues:
        issues.append(Issue("", "holds no [[jobs]] table to import"))
    config = _validated({"jobs": raw.get("jobs", [])}, path, issues)
    # The object types and custom fields its rules name are the main file's.
    _hand_records(config.jobs, records or Records(), path)
    problems = [issue for job in config.jobs for issue in outgoing_mail_issues(job, smtp)]
    if problems:
        raise ConfigError.many(path, problems)
    return config.jobs


def _validated(raw: dict[str, Any], path: Path, issues: list[Issue]) -> DeskmailConfig:
    """The file's tables validated, named and placed; ConfigError with every issue (those
    found before, `issues`, first)."""
    names = _job_names(raw.get("jobs"))
    try:
        config = DeskmailConfig.model_validate(raw)
    except ValidationError as exc:
        issues = issues + [_issue(error, names) for error in exc.errors()]
    if issues:
        raise ConfigError.many(path, issues)
    config = _place(config, path, names)
    _check_unique_names(config.jobs, path)
    return config


def same_name(name: str) -> str:
    """The form two job names are compared in: "Café" and "café" are one job."""
    return _same(name)


def _in_job(error: ErrorDetails) -> tuple[int | str, ...]:
    return ("jobs", 0, *error["loc"])


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            path, "", f"configuration file not found (looked for {path.absolute()})"
        ) from None
    except IsADirectoryError:
        raise ConfigError(path, "", "is a folder, not a configuration file") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read the configuration file: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")  # a BOM from Windows Notepad is harmless
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line, column = before.count(b"\n") + 1, exc.start - (before.rfind(b"\n") + 1) + 1
        raise ConfigError(
            path, "", "is not UTF-8 text; save it as UTF-8", line=line, column=column
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _syntax_error(path, exc) from None


def _syntax_error(path: Path, exc: tomllib.TOMLDecodeError) -> ConfigError:
    # Python 3.11's TOMLDecodeError has no lineno/colno yet: they are in the message.
    message = str(exc)
    position = _TOML_POSITION.search(message)
    if position is None:
        return ConfigError(path, "", f"invalid TOML: {message}")
    return ConfigError(
        path,
        "",
        f"invalid TOML: {message[: position.start()]}",
        line=int(position[1]),
        column=int(position[2]),
    )


def _job_names(jobs: object) -> list[str]:
    """The final name of each job in file order: given names, then the default series.

    A job whose name is not text gets "" (no name in its error messages).
    """
    if not isinstance(jobs, list):
        return []
    given = [job.get("name") if isinstance(job, dict) else None for job in jobs]
    taken = {_same(name) for name in given if isinstance(name, str) and name}
    series = (
        DEFAULT_JOB_NAME if n == 0 else f"{DEFAULT_JOB_NAME} ({n})" for n in itertools.count()
    )
    free = (name for name in series if _same(name) not in taken)
    names = []
    for name in given:
        if isinstance(name, str) and name:
            names.append(name)
        else:
            names.append("" if name else next(free))
    return names


def _same(name: str) -> str:
    # "Café" typed on two keyboards may differ in bytes; "support" and "Support" in case.
    return unicodedata.normalize("NFC", name).casefold()


def _place(config: DeskmailConfig, path: Path, names: list[str]) -> DeskmailConfig:
    """Fill in names, make paths absolute against the file's folder, apply the env override."""
    base = path.absolute().parent
    jobs = []
    for index, (job, name) in enumerate(zip(config.jobs, names, strict=True)):
        placed = _place_job(job.model_copy(update={"name": name}), base)
        placed.set_origin(path, index)
        jobs.append(placed)
    database = config.database.model_copy(
        update={"url": _resolve_sqlite(config.database.url, base)}
    )
    override = os.environ.get(DATABASE_URL_ENV)
    if override:  # relative to where the variable was set, not to the file
        database = _database_from_env(_resolve_sqlite(override, Path.cwd()))
    storage = config.storage.model_copy(
        update={"attachments_dir": _absolute(config.storage.attachments_dir, base)}
    )
    logging_config = config.logging.model_copy(
        update={"file": _absolute(config.logging.file, base)}
    )
    return config.model_copy(
        update={
            "source_file": path.absolute(),
            "database": database,
            "storage": storage,
            "smtp": _place_smtp(config.smtp, base),
            "logging": logging_config,
            "templates_dir": _absolute(config.templates_dir, base),
            "web": _place_web(config.web, base),
            "jobs": jobs,
        }
    )


def _place_job(job: JobConfig, base: Path) -> JobConfig:
    """The job's relative paths made absolute against `base`."""
    return job.model_copy(
        update={
            "path": _absolute(job.path, base),
            "password_file": _absolute(job.password_file, base),
            "ca_file": _absolute(job.ca_file, base),
            "smtp": _place_smtp(job.smtp, base),
            "oauth2": _place_oauth2(job.oauth2, base),
            "log_file": _absolute(job.log_file, base),
        }
    )


def _place_smtp(smtp: SmtpConfig | None, base: Path) -> SmtpConfig | None:
    if smtp is None:
        return None
    return smtp.model_copy(
        update={
            "password_file": _absolute(smtp.password_file, base),
            "ca_file": _absolute(smtp.ca_file, base),
            "oauth2": _place_oauth2(smtp.oauth2, base),
        }
    )


def _place_web(web: WebConfig | None, base: Path) -> WebConfig | None:
    if web is None:
        return None
    return web.model_copy(
        update={
            "tls_certificate": _absolute(web.tls_certificate, base),
            "tls_key": _absolute(web.tls_key, base),
        }
    )


def _place_oauth2(oauth2: OAuth2Config | None, base: Path) -> OAuth2Config | None:
    if oauth2 is None:
        return None
    return oauth2.model_copy(
        update={
            "client_secret_file": _absolute(oauth2.client_secret_file, base),
            "certificate_file": _absolute(oauth2.certificate_file, base),
            "ca_file": _absolute(oauth2.ca_file, base),
        }
    )


@typing.overload
def _absolute(path: Path, base: Path) -> Path: ...
@typing.overload
def _absolute(path: None, base: Path) -> None: ...
def _absolute(path: Path | None, base: Path) -> Path | None:
    if path is None:
        return None
    path = path.expanduser()
    return path if path.is_absolute() else base / path


def _resolve_sqlite(url: str, base: Path) -> str:
    match = _SQLITE_FILE.fullmatch(url)
    if not match or match["file"] in ("", ":memory:") or match["file"].startswith("file:"):
        return url
    return f"{match['scheme']}{_absolute(Path(match['file']), base)}{match['query'] or ''}"


def _database_from_env(url: str) -> DatabaseConfig:
    try:
        return DatabaseConfig(url=url)
    except ValidationError as exc:
        raise ConfigError(
            None, f"environment variable {DATABASE_URL_ENV}", _problem(exc.errors()[0], ("url",))
        ) from None


def _hand_records(jobs: list[JobConfig], records: Records, path: Path | None) -> None:
    """Each job gets the file's object types and custom fields; its rules may name only those."""
    issues = []
    for job in jobs:
        job.set_records(records)
        for index, rule in enumerate(job.rules):
            for key, problem in rule.record_problems(records):
                issues.append(Issue(job.key(f"rules[{index}].{key}"), problem))
    if issues:
        raise ConfigError.many(path, issues)


def _check_unique_names(jobs: list[JobConfig], path: Path) -> None:
    first: dict[str, JobConfig] = {}
    issues = []
    for job in jobs:
        earlier = first.setdefault(_same(job.name), job)
        if earlier is not job:
            issues.append(
                Issue(
                    job.key("name"),
                    f"{earlier.key()} has the same name; job names must be unique",
                )
            )
    if issues:
        raise ConfigError.many(path, issues)


def _warnings(job: JobConfig, path: Path) -> list[str]:
    """Settings that work but expose the password or the mail."""
    warnings = _client_secret_warnings(job.oauth2, path)
    if job.protocol not in PASSWORD_PROTOCOLS:
        return warnings
    if job.password is not None:
        warnings.append(
            f"password is written in clear text in {path}; use password_env or password_file"
        )
    if job.security is Security.STARTTLS_IF_AVAILABLE:
        warnings.append(
            'security = "starttls-if-available": a network attacker can strip STARTTLS'
            " and read the password; use starttls or ssl"
        )
    elif job.security is Security.NONE and job.server.lower() not in _LOOPBACK:
        warnings.append(
            'security = "none": the password and the mail cross the network unencrypted;'
            " use ssl or starttls"
        )
    if not job.reject_invalid_certificates and job.security is not Security.NONE:
        warnings.append(
            "reject_invalid_certificates = false: anyone on the network path can pose as"
            f" {job.server} and read the password; to trust a private CA, set ca_file instead"
        )
    return warnings


def _client_secret_warnings(oauth2: OAuth2Config | None, path: Path) -> list[str]:
    if oauth2 is None or oauth2.client_secret is None:
        return []
    return [
        f"oauth2.client_secret is written in clear text in {path};"
        " use client_secret_env or client_secret_file"
    ]


def _check_outgoing_mail(config: DeskmailConfig, path: Path) -> None:
    issues = [issue for job in config.jobs for issue in outgoing_mail_issues(job, config.smtp)]
    if issues:
        raise ConfigError.many(path, issues)


def outgoing_mail_issues(job: JobConfig, smtp: SmtpConfig | None) -> list[Issue]:
    """Settings that send mail need an SMTP server, the job's own or the global [smtp]."""
    if job.smtp is not None or smtp is not None:
        return []
    wanted = ["send_acknowledgement"] if job.send_acknowledgement else []
    wanted += ["notify_group_address"] if job.notify_group_address else []
    issues = [
        Issue(job.key(key), "needs [smtp] settings (or smtp on the job) to send mail")
        for key in wanted
    ]
    if not job.create_new_requests:
        issues.append(Issue(job.key("create_new_requests"), DENIAL_NEEDS_SMTP))
    return issues


def _mail_warnings(config: DeskmailConfig, job: JobConfig, path: Path) -> list[str]:
    """The job's own smtp table: settings that work but expose the password or the mail."""
    if job.smtp is not None:
        return [f"smtp.{warning}" for warning in _smtp_warnings(job.smtp, path)]
    return []


def _smtp_warnings(smtp: SmtpConfig, path: Path) -> list[str]:
    """Outgoing mail settings that work but expose the password or the mail."""
    warnings = _client_secret_warnings(smtp.oauth2, path)
    if smtp.password is not None:
        warnings.append(
            f"password is written in clear text in {path}; use password_env or password_file"
        )
    if smtp.security is SmtpSecurity.NONE:
        if smtp.server.lower() not in _LOOPBACK:
            warnings.append(
                'security = "none": the password and the mail cross the network unencrypted;'
                " use starttls or ssl"
            )
    elif not smtp.reject_invalid_certificates:
        warnings.append(
            "reject_invalid_certificates = false: anyone on the network path can pose as"
            f" {smtp.server} and read the password; to trust a private CA, set ca_file instead"
        )
    return warnings


# --- pydantic errors in plain words ------------------------------------------------


def _issue(error: ErrorDetails, names: list[str]) -> Issue:
    loc = error["loc"]
    return Issue(_key(loc, names), _problem(error, loc))


def _key(loc: tuple[int | str, ...], names: list[str]) -> str:
    key = ""
    for position, part in enumerate(loc):
        if isinstance(part, int):
            if loc[:position] == ("jobs",):
                key = job_label(part, names[part] if part < len(names) else None)
            else:
                key += f"[{part}]"
        else:
            key += f".{part}" if key else part
    return key


def _problem(error: ErrorDetails, loc: tuple[int | str, ...]) -> str:
    kind, ctx, value = error["type"], error.get("ctx", {}), error["input"]
    field = _target(loc)[1]
    got = "" if field is not None and not field.repr else f" (got {_show(value)})"
    if kind == "extra_forbidden":
        return _unknown_key(str(loc[-1]), _target(loc[:-1])[0])
    if kind == "missing":
        choices = _choices(field)
        return "is required" + (f" (one of {choices})" if choices else "")
    if kind in ("enum", "literal_error"):
        choices = _choices(field) or str(ctx.get("expected", ""))
        hint = _suggest(str(value), _choice_values(field)) if isinstance(value, str) else None
        return f"must be one of {choices}{got}" + (f"; did you mean '{hint}'?" if hint else "")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return _range(field, ctx) + got
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    if kind == "job_setting":
        return error["msg"]
    if kind == "list_type" and loc == ("jobs",):
        return "must be a list of jobs: write each job as a [[jobs]] table (double brackets)"
    return _PLAIN.get(kind, error["msg"]) + got


_PLAIN = {
    "string_type": "must be text in quotes",
    "string_too_short": "must not be empty",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "path_type": "must be a path in quotes",
    "list_type": "must be a list",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "dict_type": "must be a table",
}


def _target(loc: tuple[int | str, ...]) -> tuple[type[BaseModel] | None, FieldInfo | None]:
    """The model that owns the last key of loc, and that key's field."""
    model: type[BaseModel] | None = DeskmailConfig
    field: FieldInfo | None = None
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None, None
        field = model.model_fields[part]
        model = next((t for t in _leaves(field.annotation) if _is_model(t)), None)
    return model, field


def _leaves(annotation: object) -> list[object]:
    """The plain types inside list[...], X | None and Annotated[...]."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        args = args[:1]
    if not args:
        return [annotation]
    return [leaf for arg in args for leaf in _leaves(arg)]


def _is_model(annotation: object) -> TypeGuard[type[BaseModel]]:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _choice_values(field: FieldInfo | None) -> list[str]:
    if field is None:
        return []
    for leaf in _leaves(field.annotation):
        if isinstance(leaf, type) and issubclass(leaf, Enum):
            return [str(member.value) for member in leaf]
        if typing.get_origin(leaf) is typing.Literal:
            return [str(arg) for arg in typing.get_args(leaf)]
    return []


def _choices(field: FieldInfo | None) -> str:
    return ", ".join(_choice_values(field))


def _suggest(word: str, known: list[str]) -> str | None:
    def canonical(text: str) -> str:
        return text.casefold().replace("-", "_")

    by_canonical = {canonical(name): name for name in known}
    alias = _ALIASES.get(canonical(word))
    if alias in known:
        return alias
    close = difflib.get_close_matches(canonical(word), list(by_canonical), n=1, cutoff=0.6)
    return by_canonical[close[0]] if close else None


def _unknown_key(key: str, model: type[BaseModel] | None) -> str:
    if model is None:
        return "unknown key"
    known = [name for name in model.model_fields if name != "source_file"]
    hint = _suggest(key, known)
    if hint:
        return f"unknown key (did you mean '{hint}'?)"
    return f"unknown key (known keys: {', '.join(known)})"


def _range(field: FieldInfo | None, ctx: dict[str, Any]) -> str:
    low = high = None
    for constraint in field.metadata if field is not None else []:
        low = getattr(constraint, "ge", low)
        high = getattr(constraint, "le", high)
    if low is not None and high is not None:
        return f"must be between {_show(low)} and {_show(high)}"
    for bound, words in (
        ("ge", "at least"),
        ("le", "at most"),
        ("gt", "more than"),
        ("lt", "less than"),
    ):
        if bound in ctx:
            return f"must be {words} {_show(ctx[bound])}"
    return "is out of range"


def _show(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    shown = repr(value) if isinstance(value, str) else str(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
