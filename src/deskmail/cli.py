"""The deskmail command line. Each command parses its options and calls one function elsewhere.

Exit codes: 0 all good; 1 a job failed (mailbox unreachable, ...); 2 bad
configuration or usage; 3 every job ran but some messages were quarantined.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from deskmail.config.errors import ConfigError
from deskmail.config.loader import load_config
from deskmail.config.models import DeskmailConfig, JobConfig
from deskmail.store.engine import Store, open_store

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
    help="Configuration file (also $DESKMAIL_CONFIG).",
)
job_option = click.option("--job", "job_name", help="Only this job (by name).")


def _load(config_path: Path) -> DeskmailConfig:
    try:
        return load_config(config_path)
    except ConfigError as exc:
        click.echo(f"deskmail: {exc}", err=True)
        sys.exit(EXIT_CONFIG)


def _jobs(config: DeskmailConfig, job_name: str | None) -> list[JobConfig]:
    if job_name is None:
        return [job for job in config.jobs if job.enabled]
    try:
        return [config.job(job_name)]
    except KeyError as exc:
        click.echo(f"deskmail: {config.source_file}: {exc.args[0]}", err=True)
        sys.exit(EXIT_CONFIG)


def _one_job(config: DeskmailConfig, job_name: str | None, config_path: Path) -> JobConfig:
    jobs = _jobs(config, job_name)
    if not jobs:
        click.echo(f"deskmail: {config_path}: no enabled job; name one with --job", err=True)
        sys.exit(EXIT_CONFIG)
    return jobs[0]


def _store(config: DeskmailConfig) -> Store:
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


@click.group()
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.version_option(package_name="deskmail")
def main(verbose: int) -> None:
    """deskmail turns mailboxes into service-desk tickets, exactly once."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command("run-once")
@config_option
@job_option
@click.option("--show", is_flag=True, help="Print one line per message taken in.")
def run_once(config_path: Path, job_name: str | None, show: bool) -> None:
    """Process every job's mailbox once and exit (for cron or a task scheduler)."""
    from deskmail.intake.run import run_job
    from deskmail.report.runs import outcome_line, summary_line

    config = _load(config_path)
    jobs = _jobs(config, job_name)
    store = _store(config)
    on_message = (lambda outcome: click.echo(outcome_line(outcome))) if show else None
    summaries = [run_job(store, job, on_message) for job in jobs]
    store.dispose()
    for summary in summaries:
        click.echo(summary_line(summary))
    if not all(s.ok for s in summaries):
        sys.exit(EXIT_JOB_FAILED)
    if any(s.quarantined for s in summaries):
        sys.exit(EXIT_QUARANTINED)


@main.command()
@config_option
@job_option
def check(config_path: Path, job_name: str | None) -> None:
    """Test the connection: DNS, connect, TLS, log in, open the folder, count messages."""
    from deskmail.config.secrets import resolve_password
    from deskmail.sources.check import check_connection, describe_failure
    from deskmail.sources.errors import SourceError

    config = _load(config_path)
    failed = False
    for job in _jobs(config, job_name):
        try:
            info = check_connection(job, resolve_password(job))
        except SourceError as exc:
            failed = True
            click.echo(f"{job.name}: {describe_failure(exc)}")
            continue
        except ConfigError as exc:
            failed = True
            click.echo(f"{job.name}: FAILED at password: {exc}")
            continue
        security = f", {info.tls}" if info.tls else ", no TLS"
        click.echo(
            f"{job.name}: OK - {info.protocol} {info.server}{security}, "
            f"folder {info.folder!r}: {info.message_count} messages"
        )
    if failed:
        sys.exit(EXIT_JOB_FAILED)


@main.command("preprocess")
@click.argument("message", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@config_option
@job_option
@click.option("--text", "text_only", is_flag=True, help="Print only the cleaned text.")
def preprocess_command(
    message: Path, config_path: Path, job_name: str | None, text_only: bool
) -> None:
    """Run a job's preprocessing rules on MESSAGE (.eml): rules fired, text before and after.

    Without --job, the first enabled job's rules are used.
    """
    from deskmail.report.preprocess import preview

    job = _one_job(_load(config_path), job_name, config_path)
    click.echo(preview(message.read_bytes(), job, text_only=text_only))


@main.command("explain")
@click.argument("message", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@config_option
@job_option
def explain_command(message: Path, config_path: Path, job_name: str | None) -> None:
    """Say what a job would do with MESSAGE (.eml), changing nothing.

    Sender and person, preprocessing, threading, processing rules, the ticket it
    would join or create, attachments kept and dropped. Without --job, the first
    enabled job.
    """
    from deskmail.report.explain import explain

    config = _load(config_path)
    job = _one_job(config, job_name, config_path)
    store = _store(config)
    with store.session() as session:
        click.echo(explain(session, job, message.read_bytes()))


@main.group()
def tickets() -> None:
    """Look at the tickets deskmail made."""


@tickets.command("list")
@config_option
@click.option("--team", help="Only this team's tickets.")
@click.option("--limit", default=50, show_default=True, help="How many, newest last.")
def tickets_list(config_path: Path, team: str | None, limit: int) -> None:
    """List tickets, oldest first, the newest LIMIT."""
    from deskmail.report.tickets import list_tickets

    store = _store(_load(config_path))
    with store.session() as session:
        click.echo(list_tickets(session, team, limit))


@tickets.command("show")
@config_option
@click.argument("number", type=int)
@click.option("--team", default=None, help="Team that numbered it (default: the first job's).")
def tickets_show(config_path: Path, number: int, team: str | None) -> None:
    """Show one ticket with its activities and attachments."""
    from deskmail.report.tickets import show_ticket

    config = _load(config_path)
    team = team or (config.jobs[0].team if config.jobs else "IT")
    store = _store(config)
    with store.session() as session:
        text = show_ticket(session, number, team)
    if text is None:
        click.echo(f"deskmail: no ticket {team}-{number}", err=True)
        sys.exit(1)
    click.echo(text)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@config_option
def db_upgrade(config_path: Path) -> None:
    """Create or migrate the database to this version's schema."""
    from deskmail.store import migrate

    config = _load(config_path)
    store = open_store(config)
    before = migrate.current_revision(store.url)
    migrate.upgrade(store.url)
    after = migrate.current_revision(store.url)
    click.echo(f"database {store.display_url}: {before or 'empty'} -> {after}")


@main.group()
def people() -> None:
    """The people senders are matched against."""


@people.command("add")
@config_option
@click.option("--name", required=True)
@click.option("--email", "emails", multiple=True, required=True, help="Repeat for each address.")
@click.option("--logon", help="Windows / directory logon name.")
@click.option("--site", help="Site name (created if missing).")
@click.option("--agent", is_flag=True, help="A service-desk agent, not an end user.")
def people_add(
    config_path: Path,
    name: str,
    emails: tuple[str, ...],
    logon: str | None,
    site: str | None,
    agent: bool,
) -> None:
    """Add a person with one or more e-mail addresses."""
    from deskmail.apply.context import get_or_create
    from deskmail.apply.people import add_person
    from deskmail.store.models import Site

    store = _store(_load(config_path))
    with store.transaction() as session:
        site_id = get_or_create(session, Site, site).id if site else None
        person = add_person(
            session, name, list(emails), logon=logon, site_id=site_id, is_agent=agent
        )
        click.echo(f"added person {person.id}: {name} <{', '.join(emails)}>")


@main.group()
def sample() -> None:
    """The embedded sample: a local Maildir of support mails and a SQLite database."""


@sample.command("init")
@click.option(
    "--dir",
    "target",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("var/sample"),
    show_default=True,
)
def sample_init(target: Path) -> None:
    """Create the sample config, mailbox and database (existing files are kept)."""
    from deskmail.sample.setup import init_sample

    config_file, created = init_sample(target)
    click.echo(f"sample ready: {config_file}" + ("" if created else " (already there)"))
