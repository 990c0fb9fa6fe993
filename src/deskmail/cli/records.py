"""Commands on what deskmail stores: tickets, people, the database, the sample."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from deskmail.cli.app import main
from deskmail.cli.common import (
    config_option,
    load,
    store_of,
)
from deskmail.store.engine import open_store


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

    store = store_of(load(config_path))
    with store.session() as session:
        click.echo(list_tickets(session, team, limit))


@tickets.command("show")
@config_option
@click.argument("number", type=int)
@click.option("--team", default=None, help="Team that numbered it (default: the first job's).")
def tickets_show(config_path: Path, number: int, team: str | None) -> None:
    """Show one ticket with its activities and attachments."""
    from deskmail.report.tickets import show_ticket

    config = load(config_path)
    team = team or (config.jobs[0].team if config.jobs else "IT")
    store = store_of(config)
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

    config = load(config_path)
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

    store = store_of(load(config_path))
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
