"""The daemon command: serve."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from deskmail.cli.app import main
from deskmail.cli.common import config_option, load, store_of
from deskmail.config.models import DeskmailConfig
from deskmail.entry import imported
from deskmail.report.text import count


@main.command()
@config_option
@click.option("--debug", is_flag=True, help="Keep every fetched message in --debug-dir.")
@click.option(
    "--debug-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where --debug keeps raw messages (default: debug/ next to the config file).",
)
def serve(config_path: Path, debug: bool, debug_dir: Path | None) -> None:
    """Run every enabled job on its schedule until stopped, woken early by new mail.

    IMAP jobs with idle = true are woken by the server (IDLE), Maildir jobs by
    file-system events. SIGTERM or SIGINT: finish the message in hand, then
    exit. SIGHUP: reload the configuration file (a bad file is refused and
    the running configuration stays). Jobs kept in the database are followed
    without a signal: a change there applies within seconds. With a [web]
    table (enabled = true, the default in it) the web UI and API are served
    too, in the same process.
    """
    from deskmail.apply.names import log_unmatched_names
    from deskmail.daemon.supervisor import serve as run_daemon
    from deskmail.logs import configure_logging

    imported()
    config = load(config_path, debug=debug)
    raw_dir = (debug_dir or config_path.absolute().parent / "debug") if debug else None
    verbose = int(click.get_current_context().find_root().params.get("verbose") or 0)
    store = store_of(config)
    log_unmatched_names(store, [job for job in config.jobs if job.enabled])
    web = config.web if config.web is not None and config.web.enabled else None
    alongside = None
    if web is not None:
        from deskmail.cli.web import web_alongside

        alongside = web_alongside(config, web, store)
    code = run_daemon(
        config_path,
        config=config,
        store=store,
        # Log files named in the new configuration take over from the old ones.
        on_reload=lambda new: configure_logging(new, verbose, debug),
        debug_dir=raw_dir,
        # Said whatever the log level: a daemon that prints nothing looks hung.
        on_started=lambda running: click.echo(_started_line(config_path, running)),
        alongside=alongside,
    )
    click.echo("deskmail serve: stopped")
    sys.exit(code)


def _started_line(config_path: Path, config: DeskmailConfig) -> str:
    """One line: each enabled job with its schedule and what wakes it early."""
    from deskmail.config.schedule import parse_schedule
    from deskmail.daemon.worker import push_of

    jobs = [job for job in config.jobs if job.enabled]
    if not jobs:
        return (
            f"deskmail serve: {config_path}: no enabled job; waiting for a reload (SIGHUP)"
            " or a job in the database"
        )
    described = "; ".join(
        f"{job.name} ({parse_schedule(job.schedule)}, {push_of(job) or 'no push'})" for job in jobs
    )
    return f"deskmail serve: started, {count(len(jobs), 'job')}: {described}"
