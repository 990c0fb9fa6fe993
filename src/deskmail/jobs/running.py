"""Every job as the commands and the daemon run it: the file's, then the database's.

A database job that cannot be loaded (settings written by another version of
deskmail, secrets sealed with a key no longer configured, a name a file job
took since) is refused with the reason; the others run.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import inspect

from deskmail.config.errors import ConfigError
from deskmail.config.models import DeskmailConfig, JobConfig
from deskmail.jobs.catalog import JobCatalog
from deskmail.jobs.secrets import UnreadableSecrets
from deskmail.store.engine import Store
from deskmail.store.models import StoredJob
from deskmail.store.sealing import SecretKeyError


class NameClash(ConfigError):
    """A job of the file has the database job's name: the file's runs."""


@dataclass(frozen=True, slots=True)
class RefusedJob:
    name: str
    revision: int
    problem: str  # in plain words; never a secret

    def describe(self) -> str:
        return (
            f'job "{self.name}" (database, revision {self.revision}) cannot be loaded:'
            f" {self.problem}"
        )


@dataclass(frozen=True, slots=True)
class StoredJobs:
    jobs: list[JobConfig]
    refused: list[RefusedJob]


def has_catalog(store: Store) -> bool:
    """The database has the jobs table (an older one has none, hence no database jobs)."""
    with store.session() as session:
        return inspect(session.connection()).has_table(StoredJob.__tablename__)


def load_stored_jobs(catalog: JobCatalog, rows: list[StoredJob] | None = None) -> StoredJobs:
    """The database jobs (or those of `rows`) ready to run, and those refused."""
    jobs, refused = [], []
    for row in catalog.stored_rows() if rows is None else rows:
        try:
            jobs.append(load_one(catalog, row))
        except (ConfigError, UnreadableSecrets, SecretKeyError) as exc:
            refused.append(RefusedJob(row.name, row.revision, str(exc)))
    return StoredJobs(jobs, refused)


def load_one(catalog: JobCatalog, row: StoredJob) -> JobConfig:
    """One database job, opened; ConfigError (NameClash among them), UnreadableSecrets or
    SecretKeyError if not."""
    file_job = catalog.file_job_named(row.name)
    if file_job is not None:
        raise NameClash(
            None,
            "name",
            f"a job of this name is written in {file_job.origin_file}, which wins;"
            " rename or delete one of them",
        )
    return catalog.runnable(row)


def with_jobs(config: DeskmailConfig, jobs: list[JobConfig]) -> DeskmailConfig:
    """The configuration running `jobs` after the file's own."""
    if not jobs:
        return config
    return config.model_copy(update={"jobs": [*config.jobs, *jobs]})
