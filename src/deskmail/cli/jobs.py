"""Where jobs live: `deskmail jobs ...` and `deskmail config export / import`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from deskmail.cli.app import main
from deskmail.cli.common import EXIT_CONFIG, config_option, load, store_of
from deskmail.config.errors import ConfigError

if TYPE_CHECKING:  # imported by the commands that use it, not at start-up
    from deskmail.jobs.catalog import JobCatalog


def _catalog(config_path: Path) -> JobCatalog:
    from deskmail.jobs.catalog import JobCatalog

    config = load(config_path)
    return JobCatalog(config, store_of(config))


def _refused(exc: Exception) -> NoReturn:
    click.echo(f"deskmail: {exc}", err=True)
    sys.exit(EXIT_CONFIG)


@main.group()
def jobs() -> None:
    """The jobs: those of the file (provisioned, read-only) and those in the database."""


@jobs.command("list")
@config_option
def jobs_list(config_path: Path) -> None:
    """Every job with its source (file or database), state, revision and secrets (set or not)."""
    from deskmail.report.jobs import jobs_table

    click.echo(jobs_table(_catalog(config_path).jobs()))


@jobs.command("enable")
@config_option
@click.argument("name")
def jobs_enable(config_path: Path, name: str) -> None:
    """Enable database job NAME (a running deskmail serve starts it within seconds)."""
    _set_enabled(config_path, name, True)


@jobs.command("disable")
@config_option
@click.argument("name")
def jobs_disable(config_path: Path, name: str) -> None:
    """Disable database job NAME (a running deskmail serve stops it within seconds)."""
    _set_enabled(config_path, name, False)


def _set_enabled(config_path: Path, name: str, enabled: bool) -> None:
    from deskmail.jobs.catalog import CatalogError

    try:
        job = _catalog(config_path).set_enabled(name, enabled)
    except CatalogError as exc:
        _refused(exc)
    state = "enabled" if job.enabled else "disabled"
    click.echo(f"{job.name}: {state} (revision {job.revision})")


@jobs.command("delete")
@config_option
@click.argument("name")
def jobs_delete(config_path: Path, name: str) -> None:
    """Delete database job NAME; its tickets and history stay, its OAuth2 tokens go."""
    from deskmail.jobs.catalog import CatalogError

    try:
        _catalog(config_path).delete(name)
    except CatalogError as exc:
        _refused(exc)
    click.echo(f"{name}: deleted")


@jobs.command("rotate-key")
@config_option
def jobs_rotate_key(config_path: Path) -> None:
    """Seal every stored secret again with the first key (jobs' secrets, OAuth2 token caches).

    Rotation: put a new key first in DESKMAIL_SECRET_KEY (or the key file), the old
    one after it; run this; then the old key can go.
    """
    from deskmail.auth.cache import CacheUnreadable, reseal_token_caches
    from deskmail.jobs.catalog import JobCatalog
    from deskmail.jobs.secrets import UnreadableSecrets
    from deskmail.store.sealing import SecretKeyError

    config = load(config_path)
    store = store_of(config)
    catalog = JobCatalog(config, store)
    try:
        jobs_count = catalog.reseal()
        caches = reseal_token_caches(store, catalog.keys())
    except (SecretKeyError, UnreadableSecrets, CacheUnreadable) as exc:
        _refused(exc)
    click.echo(f"sealed again with the first key: {jobs_count} job(s), {caches} token cache(s)")


@main.group("config")
def config_group() -> None:
    """Configuration: export and import jobs, import from other products."""


@config_group.command("export")
@config_option
@click.option("--job", "names", multiple=True, help="Only this job (repeatable); default: all.")
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file (default: standard output).",
)
def config_export(config_path: Path, names: tuple[str, ...], output: Path | None) -> None:
    """Write jobs (the file's and the database's) as TOML that deskmail reads back.

    Secrets are never written: a job that holds one gets a password_env (or
    client_secret_env) naming a variable to set, said in a comment above it.
    """
    from deskmail.jobs.catalog import CatalogError
    from deskmail.jobs.export import export_toml
    from deskmail.store.models import utcnow

    catalog = _catalog(config_path)
    try:
        chosen = [catalog.get(name) for name in names] if names else catalog.jobs()
    except CatalogError as exc:
        _refused(exc)
    text = export_toml(chosen, utcnow())
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"{len(chosen)} job(s) written to {output}", err=True)


@config_group.command("import")
@config_option
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--replace", is_flag=True, help="Replace database jobs of the same name.")
def config_import(config_path: Path, file: Path, replace: bool) -> None:
    """Validate FILE's [[jobs]] tables and store them in the database, all or none.

    A clear-text password (or client secret) in FILE is stored encrypted; a
    password_env or password_file is stored as that reference. A running
    deskmail serve starts the jobs within seconds.
    """
    from deskmail.config.loader import load_jobs_file
    from deskmail.jobs.catalog import CatalogError, JobCatalog
    from deskmail.store.sealing import SecretKeyError

    config = load(config_path)
    try:
        read = load_jobs_file(file, config.smtp, config.records)
    except ConfigError as exc:
        _refused(exc)
    try:
        count = JobCatalog(config, store_of(config)).import_jobs(read, file, replace=replace)
    except (ConfigError, CatalogError, SecretKeyError) as exc:
        _refused(exc)
    click.echo(f"{count} job(s) imported from {file} into the database")
