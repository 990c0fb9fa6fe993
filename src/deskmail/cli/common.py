"""Options and helpers shared by the command modules.

Exit codes: 0 all good; 1 a job failed (mailbox unreachable, ...); 2 bad
configuration or usage; 3 every job ran but some messages were quarantined.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click
from sqlalchemy.exc import SQLAlchemyError

from deskmail.config.errors import ConfigError
from deskmail.config.files import load_configuration
from deskmail.config.models import DeskmailConfig, JobConfig
from deskmail.logs import configure_logging
from deskmail.store.engine import Store, open_store
from deskmail.store.errors import describe_error

if TYPE_CHECKING:  # imported by the commands that run jobs, not at start-up
    from deskmail.intake.run import RunSummary

EXIT_JOB_FAILED = 1
EXIT_CONFIG = 2
EXIT_QUARANTINED = 3

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="DESKMAIL_CONFIG",
    default="deskmail.toml",
    show_default=True,
    help="Configuration file: deskmail TOML, or an Octopus MailIntegration XML file run as"
    " `deskmail octopus` runs it, team 1 (also $DESKMAIL_CONFIG).",
)
job_option = click.option("--job", "job_name", help="Only this job (by name).")


def load(config_path: Path, *, debug: bool = False) -> DeskmailConfig:
    """Load the configuration and start its log files (secrets it names are hidden)."""
    try:
        config = load_configuration(config_path)
    except ConfigError as exc:
        click.echo(f"deskmail: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    verbose = int(click.get_current_context().find_root().params.get("verbose") or 0)
    configure_logging(config, verbose, debug)
    return config


def with_stored_jobs(
    config: DeskmailConfig,
    store: Store | None = None,
    *,
    job_name: str | None = None,
    debug: bool = False,
) -> DeskmailConfig:
    """The configuration with the database's jobs after the file's (jobs/running.py).

    `job_name`: only that one is read (its secrets alone are opened; a file job's name
    reads none). Without `store`, an existing database is read (none is created). A
    database job that cannot be loaded is named on stderr with the reason and left out.
    The log's redaction and per-job log files then cover the database jobs too.
    """
    from deskmail.jobs.catalog import JobCatalog
    from deskmail.jobs.running import has_catalog, load_stored_jobs, with_jobs
    from deskmail.store.engine import database_missing

    if store is None and database_missing(config):
        return config
    reading = store or open_store(config)
    try:
        if not has_catalog(reading):
            return config
        catalog = JobCatalog(config, reading)
        if job_name is not None and catalog.file_job_named(job_name) is not None:
            return config
        names = {job_name} if job_name is not None else None
        stored = load_stored_jobs(catalog, catalog.stored_rows(names))
    except SQLAlchemyError as exc:  # e.g. check or explain while the database is down
        click.echo(f"deskmail: the database's jobs were not read: {describe_error(exc)}", err=True)
        return config
    finally:
        if store is None:
            reading.dispose()
    for refused in stored.refused:
        click.echo(f"deskmail: {refused.describe()}", err=True)
    if not stored.jobs:
        return config
    merged = with_jobs(config, stored.jobs)
    verbose = int(click.get_current_context().find_root().params.get("verbose") or 0)
    configure_logging(merged, verbose, debug)
    return merged


def jobs_of(config: DeskmailConfig, job_name: str | None) -> list[JobConfig]:
    """The named job, or every enabled one; none at all is a usage error (exit 2), not a
    silent success."""
    if job_name is None:
        enabled = [job for job in config.jobs if job.enabled]
        if not enabled:
            click.echo(f"deskmail: {config.source_file}: {_no_enabled_job(config)}", err=True)
            sys.exit(EXIT_CONFIG)
        return enabled
    try:
        return [config.job(job_name)]
    except KeyError as exc:
        click.echo(f"deskmail: {config.source_file}: {exc.args[0]}", err=True)
        sys.exit(EXIT_CONFIG)


def _no_enabled_job(config: DeskmailConfig) -> str:
    if not config.jobs:
        return "no job is configured; add a [[jobs]] table (or `deskmail config import` one)"
    return (
        f"no enabled job ({len(config.jobs)} configured, all with enabled = false);"
        " enable one, or name one with --job"
    )


def one_job(config: DeskmailConfig, job_name: str | None) -> JobConfig:
    """The named job, or the first enabled one (jobs_of says when there is none)."""
    return jobs_of(config, job_name)[0]


def store_of(config: DeskmailConfig) -> Store:
    """Open the store; a brand-new database is created, an old one must be upgraded first."""
    from deskmail.store import migrate

    store = open_store(config)
    if migrate.current_revision(store.url) is None:
        migrate.upgrade(store.url)
    try:
        store.require_current_schema()
    except RuntimeError as exc:
        click.echo(f"deskmail: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    return store


def run_owned(
    store: Store, jobs: Sequence[JobConfig], run: Callable[[JobConfig], RunSummary]
) -> list[RunSummary]:
    """`run` each job while holding its job lock, the one `deskmail serve` takes: a job
    another run or daemon works is left alone, said in one line (not a failure)."""
    from deskmail.daemon.locks import JobLocks

    locks = JobLocks(store)
    summaries = []
    try:
        for job in jobs:
            lock = locks.for_job(job.name)
            if not lock.acquire():
                click.echo(
                    f"{job.name}: skipped, the job is being worked by another run (lock held)"
                )
                continue
            try:
                summaries.append(run(job))
            finally:
                lock.release()
    finally:
        locks.dispose()
    return summaries


def exit_code(summaries: Sequence[RunSummary]) -> int:
    """run-once's exit code: a failed job wins over a quarantined message."""
    if not all(summary.ok for summary in summaries):
        return EXIT_JOB_FAILED
    return EXIT_QUARANTINED if any(summary.quarantined for summary in summaries) else 0
