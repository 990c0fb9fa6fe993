"""The Octopus MailIntegration command line, and turning its XML file into a TOML job.

`deskmail octopus /Login:USER /Password:PASS /Team:1 /ConfigFilePath:FILE.xml`
takes the scheduled task of an Octopus installation unchanged. Click would
read "/Login:..." as positional arguments, so the command takes them raw and
parses them here.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click

from deskmail.cli.app import main
from deskmail.cli.common import EXIT_CONFIG, exit_code, store_of
from deskmail.cli.jobs import config_group
from deskmail.config.errors import ConfigError
from deskmail.config.files import DEFAULT_TEAM
from deskmail.config.models import DeskmailConfig

log = logging.getLogger("deskmail.octopus")

# Option names by their lower-case form, as the Octopus document spells them.
_OPTIONS = {
    name.lower(): name
    for name in ("Login", "Password", "Team", "ConfigFilePath", "LogFilePath", "Debug")
}
_FLAGS = frozenset({"debug"})
_REQUIRED = ("login", "password", "configfilepath")


@dataclass(frozen=True, slots=True)
class OctopusArgs:
    login: str
    password: str = field(repr=False)  # the Octopus user's: accepted, not used
    team: str
    config_file: Path
    log_file: Path | None = None
    debug: bool = False


def parse_octopus_args(args: Sequence[str]) -> OctopusArgs:
    """Read /Name:value options: any case, any order, the value after the first colon.

    A word that is not an option continues the previous value: the document's
    own example, /ConfigFilePath:C:\\Program Files\\Octopus\\email-integration.xml,
    is unquoted, so its path arrives in two pieces.
    """
    values: dict[str, str] = {}
    current: str | None = None
    for arg in args:
        if arg.startswith("/"):
            name, colon, value = arg[1:].partition(":")
            current = name.casefold()
            if current not in _OPTIONS:
                known = " ".join(f"/{option}" for option in _OPTIONS.values())
                raise click.UsageError(
                    f"unknown option {arg.partition(':')[0]!r} (options: {known};"
                    " quote a value that contains spaces and slashes)"
                )
            if current in values:
                raise click.UsageError(f"/{_OPTIONS[current]} is given twice")
            if current in _FLAGS and colon:
                raise click.UsageError(f"/{_OPTIONS[current]} takes no value")
            values[current] = value
        elif current is not None and current not in _FLAGS:
            values[current] += " " + arg
        else:
            raise click.UsageError(f"unexpected argument {arg!r}; options look like /Name:value")
    values = {name: value.strip() for name, value in values.items()}
    for name in (*_REQUIRED, "team", "logfilepath"):
        if name in values and not values[name]:
            raise click.UsageError(f"/{_OPTIONS[name]} needs a value: /{_OPTIONS[name]}:...")
    missing = [f"/{_OPTIONS[name]}" for name in _REQUIRED if name not in values]
    if missing:
        raise click.UsageError(f"missing {', '.join(missing)}")
    log_file = values.get("logfilepath")
    return OctopusArgs(
        login=values["login"],
        password=values["password"],
        team=values.get("team", DEFAULT_TEAM),
        config_file=Path(values["configfilepath"]),
        log_file=Path(log_file) if log_file else None,
        debug="debug" in values,
    )


_USAGE = "/Login:USER /Password:PASS /Team:N /ConfigFilePath:FILE.xml [/LogFilePath:FILE] [/Debug]"


@main.command(
    "octopus",
    context_settings={"ignore_unknown_options": True},
    options_metavar="[--database URL]",
)
@click.option(
    "--database",
    "database_url",
    metavar="URL",
    help="Where tickets go (default: deskmail.db next to the XML file;"
    " DESKMAIL_DATABASE_URL wins when set).",
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED, metavar=_USAGE)
def octopus(database_url: str | None, args: tuple[str, ...]) -> None:
    """Run an Octopus MailIntegration command line: process the mailbox once and exit.

    \b
    deskmail octopus /Login:system /Password:octo /Team:1
                     /ConfigFilePath:email-integration.xml

    Options as in Octopus, in any case and any order. /Login is the Octopus
    user the run is for (written to the log). /Password is accepted and
    ignored: deskmail has no Octopus login to check it against. /Team is the
    team number, used as the deskmail team name (default 1, as before Octopus
    3.8). /ConfigFilePath is the MailIntegration XML file, read as Octopus
    documents it (tags in any case; accents as such or as &eacute;).
    /LogFilePath appends the log to that file; its folder must exist. /Debug
    is run-once's --debug: it logs at debug level and keeps every message
    fetched, byte for byte (Octopus's RawMessage.txt), in debug/ next to the
    XML file.

    With useSsl true the server's certificate must be trusted: by the system,
    by a file of CA certificates named in SSL_CERT_FILE, or by deskmail's
    <caFile> tag. The summary line and exit codes are those of run-once.

    deskmail's own optional tags, inside <MailIntegration>: <smtpServer>,
    <smtpPort>, <smtpSecurity> (none, starttls, ssl), <smtpUserName>,
    <smtpPassword>, <smtpFromAddress>, <smtpFromName>: the SMTP server Octopus
    keeps in its options, needed with <CreateNewRequests>False to answer the
    denied senders; <failureNoteMinutes>: how often a failing mailbox adds a
    note to its event (default 60; 0 on every run, as Octopus). Every other
    command takes the XML file as --config.
    """
    if any(arg.casefold() in ("/?", "/help") for arg in args):
        click.echo(click.get_current_context().get_help())
        return
    from deskmail.config.octopus import base_config, read_octopus_xml, to_config
    from deskmail.logs import FILES_ONLY, configure_logging

    parsed = parse_octopus_args(args)
    _check_log_file(parsed.log_file)
    try:
        base = base_config(parsed.config_file, database_url, parsed.log_file)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    verbose = int(click.get_current_context().find_root().params.get("verbose") or 0)
    # The log file from the start, so that a broken XML file is logged there too.
    configure_logging(base, verbose, parsed.debug)
    log.info(
        "Octopus MailIntegration for user %s, team %s, file %s",
        parsed.login,
        parsed.team,
        parsed.config_file,
    )
    try:
        config = to_config(
            read_octopus_xml(parsed.config_file), parsed.team, database_url, parsed.log_file
        )
    except ConfigError as exc:
        # One line on the terminal; the log file (/LogFilePath) gets it too.
        log.error("%s", exc, extra=FILES_ONLY)
        click.echo(f"deskmail: {exc}", err=True)
        _report_broken_file(base, parsed, exc)
        sys.exit(EXIT_CONFIG)
    # Again, now that the mailbox password is known and can be hidden from the log.
    configure_logging(config, verbose, parsed.debug)
    debug_dir = parsed.config_file.absolute().parent / "debug" if parsed.debug else None
    sys.exit(_run(config, debug_dir))


def _report_broken_file(base: DeskmailConfig, parsed: OctopusArgs, error: ConfigError) -> None:
    """As Octopus: an event says the file cannot be used; the job's next good run closes it."""
    from deskmail.apply.events import config_error_event
    from deskmail.config.octopus import job_name_of

    try:
        store = store_of(base)
        try:
            with store.transaction() as session:
                event = config_error_event(
                    session,
                    job_name_of(parsed.config_file),
                    parsed.config_file,
                    str(error),
                    team=parsed.team,
                    blobs=store.blobs,
                )
                log.warning("reported in event %s-%d", parsed.team, event.number)
        finally:
            store.dispose()
    except Exception as exc:  # the file's own problem is what must be seen, not this one
        log.warning("could not record an event for %s: %s", parsed.config_file, exc)


def _run(config: DeskmailConfig, debug_dir: Path | None) -> int:
    """run-once for the file's one job: its summary line, and its exit code."""
    from deskmail.cli.common import run_owned
    from deskmail.intake.run import run_job
    from deskmail.report.runs import summary_line

    store = store_of(config)
    try:
        summaries = run_owned(
            store,
            config.jobs[:1],
            lambda job: run_job(store, job, debug_dir=debug_dir, config=config),
        )
    finally:
        store.dispose()
    for summary in summaries:
        click.echo(summary_line(summary))
    return exit_code(summaries)


def _check_log_file(path: Path | None) -> None:
    """As Octopus: the folder must exist (nothing creates it) and the path names a file."""
    if path is None:
        return
    if path.is_dir():
        raise click.UsageError(f"/LogFilePath: {path} is a folder; give the log file's name")
    if not path.absolute().parent.is_dir():
        raise click.UsageError(
            f"/LogFilePath: the folder {path.absolute().parent} does not exist; create it first"
        )


@config_group.command("import-octopus")
@click.argument("xml_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--team", default=DEFAULT_TEAM, show_default=True, help="Team name (Octopus /Team number)."
)
def import_octopus(xml_file: Path, team: str) -> None:
    """Print the deskmail TOML job equivalent to an Octopus MailIntegration XML file.

    The clear-text password of the file is not copied: the job reads it from
    an environment variable (password_env), named in a comment.
    """
    from deskmail.config.octopus import read_octopus_xml, to_toml

    try:
        click.echo(to_toml(read_octopus_xml(xml_file), team), nl=False)
    except ConfigError as exc:
        click.echo(f"deskmail: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
