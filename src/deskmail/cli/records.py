"""Commands on what deskmail stores: tickets, people, the database, the sample."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from deskmail.cli.app import main
from deskmail.cli.common import (
    EXIT_CONFIG,
    config_option,
    load,
    store_of,
)
from deskmail.report.text import count
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
        text = show_ticket(session, number, team, config.records)
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
    from deskmail.apply.people import PeopleError, add_person
    from deskmail.store.models import Site

    store = store_of(load(config_path))
    try:
        with store.transaction() as session:
            site_id = get_or_create(session, Site, site).id if site else None
            person = add_person(
                session, name, list(emails), logon=logon, site_id=site_id, is_agent=agent
            )
    except PeopleError as exc:
        click.echo(f"deskmail: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    click.echo(f"added person {person.id}: {name} <{', '.join(emails)}>")


@people.command("list")
@config_option
def people_list(config_path: Path) -> None:
    """List the people: id, name, logon, site, addresses."""
    from deskmail.report.people import list_people

    store = store_of(load(config_path))
    with store.session() as session:
        click.echo(list_people(session))


@people.command("remove")
@config_option
@click.argument("who")
@click.option(
    "--detach",
    is_flag=True,
    help="Also when tickets name them: the tickets are kept, without the person.",
)
def people_remove(config_path: Path, who: str, detach: bool) -> None:
    """Remove the person with id or address WHO, and all their addresses.

    Tickets are never removed. A person that tickets or activities name is
    kept unless --detach: then those tickets and activities stay, no longer
    naming them (the sender's address stays on each).
    """
    from deskmail.apply.people import PeopleError, describe, person_by_id_or_address, remove_person

    store = store_of(load(config_path))
    try:
        with store.transaction() as session:
            person = person_by_id_or_address(session, who)
            if person is None:
                click.echo(f"deskmail: no person with id or address {who!r}", err=True)
                sys.exit(1)
            removed = describe(person)
            refs = remove_person(session, person, detach=detach)
    except PeopleError as exc:
        click.echo(f"deskmail: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    click.echo(f"removed {removed}" + (f"; kept without them: {refs}" if refs else ""))


@people.command("import")
@config_option
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def people_import(config_path: Path, file: Path) -> None:
    """Add the people of FILE.csv, a directory export: a header row with the columns
    name, addresses (several separated by ; or spaces), logon, site.

    Every row is checked first; if any is bad, each bad row is said with its
    line number and nothing is imported (exit 2).
    """
    from deskmail.apply.directory import (
        DirectoryError,
        import_people,
        read_directory,
        taken_in_store,
    )

    store = store_of(load(config_path))
    try:
        directory = read_directory(file)
    except DirectoryError as exc:
        click.echo(f"deskmail: {file}: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    with store.transaction() as session:  # one transaction: all the rows or none
        problems = [*directory.problems, *taken_in_store(session, directory.people)]
        if not problems:
            imported = import_people(session, directory.people)
    if problems:
        for problem in sorted(problems, key=lambda problem: problem.line):
            click.echo(f"deskmail: {file}: {problem}", err=True)
        found = count(len(problems), "problem")
        click.echo(f"deskmail: {file}: nothing imported ({found})", err=True)
        sys.exit(EXIT_CONFIG)
    click.echo(f"imported {count(imported, 'person', 'people')} from {file}")


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
