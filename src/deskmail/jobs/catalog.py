"""The jobs catalog: every job with where it lives; database jobs created, changed, deleted.

Jobs written in the configuration file are provisioned: listed (source FILE) and
never changed here. Jobs created through the catalog live in the database
(store.models.StoredJob), validated with the same models and messages as the
file, their secrets sealed apart (jobs/secrets.py) and never given back: a view
says only whether each is set. Every change raises the job's revision, which a
writer may pass back to refuse overwriting a change it has not seen (If-Match).

This is the service API of the web UI and REST API; the commands call it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from deskmail.config.errors import ConfigError, Issue, job_key
from deskmail.config.loader import same_name, validate_job
from deskmail.config.models import PASSWORD_PROTOCOLS, DeskmailConfig, JobConfig
from deskmail.jobs.secrets import (
    ALTERNATIVES,
    KEPT,
    SecretSlot,
    drop_other_ways,
    open_sealed,
    seal,
    secret_families,
    slots_of,
    slots_text,
    split_secrets,
    table_at,
    with_secrets,
)
from deskmail.store.engine import Store
from deskmail.store.models import OAuthTokenCache, SourceState, StoredJob, utcnow
from deskmail.store.sealing import key_file_for, sealing_keys

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

# PostgreSQL: told on every change, so that daemons listening hear it at once.
NOTIFY_CHANNEL = "deskmail_jobs"
_SLOTS = frozenset(slot.value for slot in SecretSlot)
# The job columns of the store (runs, health, token caches) hold this many characters.
NAME_LIMIT = 200
_NAME_TOO_LONG = f"must be at most {NAME_LIMIT} characters"


class JobSource(StrEnum):
    FILE = "file"  # provisioned: written in the configuration file, read-only here
    DATABASE = "database"  # created through the catalog


class SecretState(StrEnum):
    SET = "set"  # held (sealed in the database, or written in the job's file)
    REFERENCED = "referenced"  # read where the job runs: password_env, password_file, ...
    NOT_SET = "not set"


@dataclass(frozen=True, slots=True)
class CatalogJob:
    """A job as others may see it: its settings with every secret value left out."""

    name: str
    source: JobSource
    enabled: bool
    # None when the stored settings cannot be read by this deskmail (see problem).
    settings: JobConfig | None
    secrets: Mapping[SecretSlot, SecretState]
    revision: int  # 0 for a file job: the file has no revisions
    updated_at: datetime | None
    file: Path | None  # the file a provisioned job is written in
    problem: str | None = None


class CatalogError(Exception):
    """A change the catalog refuses; the message says why in plain words."""


class JobNotFound(CatalogError):
    pass


class NameTaken(CatalogError):
    pass


class ReadOnlyJob(CatalogError):
    """A provisioned job: change it in its file."""


class RevisionConflict(CatalogError):
    pass


class JobCatalog:
    """The jobs of one configuration file and of its database."""

    def __init__(
        self,
        config: DeskmailConfig,
        store: Store,
        keys: Callable[[], MultiFernet] | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._keys_from = keys or (lambda: sealing_keys(key_file_for(config.source_file)))
        self._keys: MultiFernet | None = None

    @property
    def base(self) -> Path:
        """Relative paths in a database job are taken from the configuration file's folder."""
        file = self._config.source_file
        return file.parent if file is not None else Path.cwd()

    def keys(self) -> MultiFernet:
        """The sealing keys, read on first need (cryptography is imported only then)."""
        if self._keys is None:
            self._keys = self._keys_from()
        return self._keys

    # ---- reading ------------------------------------------------------------

    def jobs(self) -> list[CatalogJob]:
        """The file's jobs in file order, then the database's by name."""
        with self._store.session() as session:
            rows = session.scalars(select(StoredJob).order_by(StoredJob.name_key)).all()
        return [self._file_view(job) for job in self._config.jobs] + [
            self._view(row) for row in rows
        ]

    def get(self, name: str) -> CatalogJob:
        file_job = self._file_job(name)
        if file_job is not None:
            return self._file_view(file_job)
        with self._store.session() as session:
            return self._view(self._row(session, name))

    def revisions(self) -> dict[str, int]:
        """Each database job's revision: one cheap query, polled by the daemon."""
        with self._store.session() as session:
            rows = session.execute(select(StoredJob.name, StoredJob.revision)).all()
        return {name: revision for name, revision in rows}

    # ---- changing -----------------------------------------------------------

    def create(self, settings: Mapping[str, Any]) -> CatalogJob:
        """A new database job from its settings, as a [[jobs]] table holds them.

        Raises ConfigError (key and problem) for bad settings, NameTaken for a name
        already used by a file or database job.
        """
        job = self._validate(dict(settings))
        self._refuse_file_name(job.name)
        table, secrets = split_secrets(_stored_table(job))
        sealed = seal(self.keys(), secrets) if secrets else None
        now = utcnow()
        row = StoredJob(
            name=job.name,
            name_key=same_name(job.name),
            enabled=job.enabled,
            settings=json.dumps(table, ensure_ascii=False),
            sealed=sealed,
            secret_slots=slots_text(secrets),
            revision=1,
            created_at=now,
            updated_at=now,
        )
        try:
            with self._writing() as session:
                session.add(row)
                session.flush()
                _notify(session, row.name)
        except IntegrityError:
            raise NameTaken(f'a job named "{job.name}" is in the database already') from None
        return self._view(row)

    def update(
        self, name: str, changes: Mapping[str, Any], *, revision: int | None = None
    ) -> CatalogJob:
        """Change some settings of a database job (a JSON merge patch: a key set to None is
        removed; tables are merged key by key). A secret not given is kept; naming another
        way to give it (password_env for a stored password) replaces it.

        `revision`: refuse with RevisionConflict unless the job is still at it.
        """
        self._refuse_file_job(name, "changed")
        if "name" in changes and same_name(str(changes["name"] or "")) != same_name(name):
            raise ConfigError(
                None,
                job_key(None, name, "name"),
                "cannot be changed: export the job, delete it, and import it under the new name",
            )
        with self._writing() as session:
            row = self._row(session, name, lock=True)
            _check_revision(row, revision)
            table = _merged(json.loads(row.settings), changes)
            table["enabled"] = changes.get("enabled", row.enabled)
            kept = slots_of(row.secret_slots)
            _, given = split_secrets(changes)
            replaced = set(given)
            for family in secret_families(changes):
                drop_other_ways(table, family, changes)
                if ".".join(family) in _SLOTS:
                    replaced.add(SecretSlot(".".join(family)))
            # Validated with stand-ins for the kept secrets: no key is needed to change a port.
            stand_ins = {slot: KEPT for slot in kept - replaced if _has_table(table, slot)}
            job = self._validate(with_secrets(table, stand_ins) | {"name": row.name})
            stored, new = split_secrets(_stored_table(job))
            new = {slot: value for slot, value in new.items() if slot not in stand_ins}
            if new or set(stand_ins) != kept:
                secrets = self._opened(row, set(stand_ins)) | new
                row.sealed = seal(self.keys(), secrets)
                row.secret_slots = slots_text(secrets)
            row.settings = json.dumps(stored, ensure_ascii=False)
            row.enabled = job.enabled
            self._bump(session, row)
            return self._view(row)

    def replace(
        self, name: str, settings: Mapping[str, Any], *, revision: int | None = None
    ) -> CatalogJob:
        """Set a database job's settings whole (the editor's form, the API's PUT): what
        `settings` leaves out goes back to its default; a secret not given is kept."""
        self._refuse_file_job(name, "changed")
        with self._store.session() as session:
            row = self._row(session, name)
            old, enabled = json.loads(row.settings), row.enabled
        wanted = {"name": name, "enabled": enabled} | dict(settings)
        return self.update(name, _replacement(old, wanted), revision=revision)

    def draft(self, settings: Mapping[str, Any], *, existing: str | None = None) -> JobConfig:
        """Unsaved settings validated as create() would, nothing written: what Test
        Connection and Load folders work on. The secrets of the database job `existing`
        fill those the draft does not give (its write-only fields left empty).

        Raises ConfigError (key and problem), UnreadableSecrets for a lost key.
        """
        table = dict(settings)
        if existing is not None and self._file_job(existing) is None:
            with self._store.session() as session:
                row = self._row(session, existing)
            missing = {
                slot
                for slot in slots_of(row.secret_slots)
                if _has_table(table, slot) and not _gives_secret(table, slot)
            }
            table = with_secrets(table, self._opened(row, missing))
        job = self._validate(table)
        job.set_origin(self._config.source_file, None)
        return job

    def set_enabled(self, name: str, enabled: bool, *, revision: int | None = None) -> CatalogJob:
        self._refuse_file_job(name, "enabled or disabled")
        with self._writing() as session:
            row = self._row(session, name, lock=True)
            _check_revision(row, revision)
            row.enabled = enabled
            self._bump(session, row)
            return self._view(row)

    def delete(self, name: str, *, revision: int | None = None) -> None:
        """Delete a database job with its OAuth2 token cache (a credential) and its place in
        the mailbox (a job made again under the name starts afresh); tickets, runs and the
        intake journal stay."""
        self._refuse_file_job(name, "deleted")
        with self._writing() as session:
            row = self._row(session, name, lock=True)
            _check_revision(row, revision)
            session.execute(delete(OAuthTokenCache).where(OAuthTokenCache.job == row.name))
            session.execute(delete(SourceState).where(SourceState.job == row.name))
            session.delete(row)
            _notify(session, row.name)

    def import_jobs(self, jobs: list[JobConfig], file: Path, *, replace: bool = False) -> int:
        """Store jobs read from `file` (config.loader.load_jobs_file), all or none.

        A name a file job has is refused; one a database job has is refused unless
        `replace`, which replaces that job's settings and secrets. Returns how many.
        """
        issues = [
            Issue(job.key("name"), f"is the name of a job written in {self._config.source_file}")
            for job in jobs
            if self._file_job(job.name) is not None
        ]
        issues += [
            Issue(job.key("name"), _NAME_TOO_LONG) for job in jobs if len(job.name) > NAME_LIMIT
        ]
        if issues:
            raise ConfigError.many(file, issues)
        keys = self.keys() if any(split_secrets(_stored_table(j))[1] for j in jobs) else None
        with self._writing() as session:
            existing = {
                row.name_key: row
                for row in session.scalars(
                    select(StoredJob)
                    .where(StoredJob.name_key.in_([same_name(job.name) for job in jobs]))
                    .with_for_update()
                )
            }
            if existing and not replace:
                taken = [job for job in jobs if same_name(job.name) in existing]
                raise ConfigError.many(
                    file,
                    [
                        Issue(
                            job.key("name"),
                            "a job of this name is in the database already;"
                            " import with --replace to replace it",
                        )
                        for job in taken
                    ],
                )
            now = utcnow()
            for job in jobs:
                table, secrets = split_secrets(_stored_table(job))
                row = existing.get(same_name(job.name))
                if row is None:
                    row = StoredJob(name=job.name, name_key=same_name(job.name), revision=0)
                    row.created_at = now
                    session.add(row)
                row.enabled = job.enabled
                row.settings = json.dumps(table, ensure_ascii=False)
                row.sealed = seal(keys, secrets) if keys is not None and secrets else None
                row.secret_slots = slots_text(secrets)
                self._bump(session, row)
        return len(jobs)

    def reseal(self) -> int:
        """Seal every stored job's secrets again with the first key (after a rotation)."""
        keys = self.keys()
        count = 0
        with self._writing() as session:
            for row in session.scalars(select(StoredJob).where(StoredJob.sealed.is_not(None))):
                assert row.sealed is not None
                open_sealed(keys, row.sealed, row.name)  # names the job a lost key sealed
                row.sealed = keys.rotate(row.sealed.encode("ascii")).decode("ascii")
                count += 1
        return count

    # ---- running ------------------------------------------------------------

    def runnable(self, row: StoredJob) -> JobConfig:
        """A database job as the commands and the daemon run it: secrets opened.

        Raises ConfigError for settings this deskmail cannot load (another version wrote
        them), UnreadableSecrets for secrets sealed with a key no longer configured.
        """
        secrets = open_sealed(self.keys(), row.sealed, row.name) if row.sealed else {}
        table = with_secrets(json.loads(row.settings), secrets)
        job = self._validate(table | {"enabled": row.enabled, "name": row.name})
        job.set_origin(self._config.source_file, None)
        return job

    def stored_rows(self, names: set[str] | None = None) -> list[StoredJob]:
        """The database jobs' rows (all, or those named), detached from their session."""
        with self._store.session() as session:
            query = select(StoredJob).order_by(StoredJob.name_key)
            if names is not None:
                query = query.where(StoredJob.name.in_(names))
            return list(session.scalars(query))

    def file_job_named(self, name: str) -> JobConfig | None:
        return self._file_job(name)

    def report_refused(self, name: str, revision: int, report: Callable[[Session], None]) -> bool:
        """Record that `revision` of a job could not be loaded and `report` it, in one
        transaction, unless it was reported already (by this or another instance)."""
        with self._writing() as session:
            row = session.scalars(
                select(StoredJob).where(StoredJob.name == name).with_for_update()
            ).first()
            if row is None or row.revision != revision or row.refused_revision == revision:
                return False
            row.refused_revision = revision
            report(session)
            return True

    # ---- helpers ------------------------------------------------------------

    def _validate(self, settings: dict[str, Any]) -> JobConfig:
        job = validate_job(
            settings, base=self.base, smtp=self._config.smtp, records=self._config.records
        )
        _check_name_length(job)
        return job

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        with self._store.transaction() as session:
            yield session

    def _bump(self, session: Session, row: StoredJob) -> None:
        row.revision = (row.revision or 0) + 1
        row.updated_at = utcnow()
        session.flush()
        _notify(session, row.name)

    def _opened(self, row: StoredJob, slots: set[SecretSlot]) -> dict[SecretSlot, str]:
        if not slots or row.sealed is None:
            return {}
        opened = open_sealed(self.keys(), row.sealed, row.name)
        return {slot: value for slot, value in opened.items() if slot in slots}

    def _file_job(self, name: str) -> JobConfig | None:
        wanted = same_name(name)
        return next((job for job in self._config.jobs if same_name(job.name) == wanted), None)

    def _refuse_file_name(self, name: str) -> None:
        if self._file_job(name) is not None:
            raise NameTaken(
                f'a job named "{name}" is written in {self._config.source_file};'
                " choose another name"
            )

    def _refuse_file_job(self, name: str, what: str) -> None:
        if self._file_job(name) is not None:
            raise ReadOnlyJob(
                f'job "{name}" is written in {self._config.source_file} (provisioned) and'
                f" cannot be {what} here: change it in that file"
            )

    def _row(self, session: Session, name: str, *, lock: bool = False) -> StoredJob:
        query = select(StoredJob).where(StoredJob.name_key == same_name(name))
        row = session.scalars(query.with_for_update() if lock else query).first()
        if row is None:
            known = ", ".join(f'"{view.name}"' for view in self.jobs()) or "none"
            raise JobNotFound(f'no job named "{name}" (jobs: {known})')
        return row

    def _file_view(self, job: JobConfig) -> CatalogJob:
        return CatalogJob(
            name=job.name,
            source=JobSource.FILE,
            enabled=job.enabled,
            settings=_without_secrets(job),
            secrets=_states(_stored_table(job), set(split_secrets(_stored_table(job))[1])),
            revision=0,
            updated_at=None,
            file=job.origin_file,
        )

    def _view(self, row: StoredJob) -> CatalogJob:
        table = json.loads(row.settings) | {"enabled": row.enabled, "name": row.name}
        slots = slots_of(row.secret_slots)
        settings: JobConfig | None
        problem = None
        try:
            job = self._validate(with_secrets(table, dict.fromkeys(slots, KEPT)))
            settings = _without_secrets(job)
        except ConfigError as exc:  # written by another version of deskmail
            settings, problem = None, str(exc)
        return CatalogJob(
            name=row.name,
            source=JobSource.DATABASE,
            enabled=row.enabled,
            settings=settings,
            secrets=_states(table, slots),
            revision=row.revision,
            updated_at=row.updated_at,
            file=None,
            problem=problem,
        )


def _stored_table(job: JobConfig) -> dict[str, Any]:
    """The job's settings as a [[jobs]] table: what differs from the defaults, and the name."""
    table: dict[str, Any] = job.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    table["name"] = job.name
    table["enabled"] = job.enabled
    return table


def _without_secrets(job: JobConfig) -> JobConfig:
    """The job with every secret value left out (None); references (password_env) kept."""
    updates: dict[str, Any] = {"password": None}
    if job.smtp is not None:
        smtp_oauth2 = job.smtp.oauth2
        updates["smtp"] = job.smtp.model_copy(
            update={
                "password": None,
                "oauth2": smtp_oauth2.model_copy(update={"client_secret": None})
                if smtp_oauth2 is not None
                else None,
            }
        )
    if job.oauth2 is not None:
        updates["oauth2"] = job.oauth2.model_copy(update={"client_secret": None})
    shown = job.model_copy(update=updates)
    shown.set_origin(job.origin_file, None)
    return shown


def _has_table(table: Mapping[str, Any], slot: SecretSlot) -> bool:
    return table_at(table, slot.table) is not None


def _states(
    table: Mapping[str, Any], slots: set[SecretSlot] | frozenset[SecretSlot]
) -> dict[SecretSlot, SecretState]:
    """Set, referenced or not set, for each secret the job holds or could hold (a form's
    write-only fields): a password for a protocol that logs in with one, an SMTP password
    for its smtp table, a client secret for each oauth2 table."""
    smtp = table.get("smtp")
    could = {
        SecretSlot.PASSWORD: table.get("protocol") in {p.value for p in PASSWORD_PROTOCOLS}
        and table.get("oauth2") is None,
        SecretSlot.SMTP_PASSWORD: isinstance(smtp, Mapping) and smtp.get("oauth2") is None,
        SecretSlot.CLIENT_SECRET: isinstance(table.get("oauth2"), Mapping),
        SecretSlot.SMTP_CLIENT_SECRET: isinstance(smtp, Mapping)
        and isinstance(smtp.get("oauth2"), Mapping),
    }
    return {slot: _state(table, slot, slots) for slot in SecretSlot if slot in slots or could[slot]}


def _state(
    table: Mapping[str, Any], slot: SecretSlot, slots: set[SecretSlot] | frozenset[SecretSlot]
) -> SecretState:
    if slot in slots:
        return SecretState.SET
    inner = table_at(table, slot.table) or {}
    if any(inner.get(key) is not None for key in ALTERNATIVES[slot.key]):
        return SecretState.REFERENCED
    return SecretState.NOT_SET


def _merged(target: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """RFC 7396 JSON merge patch: None removes a key, tables merge, anything else replaces."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(target.get(key), dict):
            target[key] = _merged(target[key], value)
        else:
            target[key] = json.loads(json.dumps(value, default=str))
    return target


def _replacement(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The merge patch that turns `old` into `new`: keys `new` lacks are removed (None)."""
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            patch[key] = _replacement(before, value)
        else:
            patch[key] = value
    return patch


def _gives_secret(table: Mapping[str, Any], slot: SecretSlot) -> bool:
    """The table gives `slot`'s secret some way (the value, a variable, a file)."""
    inner = table_at(table, slot.table) or {}
    return any(inner.get(key) is not None for key in ALTERNATIVES[slot.key])


def _check_name_length(job: JobConfig) -> None:
    if len(job.name) > NAME_LIMIT:
        raise ConfigError(None, job.key("name"), _NAME_TOO_LONG)


def _check_revision(row: StoredJob, revision: int | None) -> None:
    if revision is not None and row.revision != revision:
        raise RevisionConflict(
            f'job "{row.name}" is at revision {row.revision}, not {revision}: it was changed'
            " meanwhile; read it again and apply the change to that"
        )


def _notify(session: Session, name: str) -> None:
    if session.get_bind().dialect.name == "postgresql":  # delivered at commit
        session.execute(
            text("SELECT pg_notify(:channel, :name)"), {"channel": NOTIFY_CHANNEL, "name": name}
        )
