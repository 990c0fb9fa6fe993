"""Commands that read mail: run-once, check, preprocess, explain."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from deskmail.cli.app import main
from deskmail.cli.common import (
    EXIT_CONFIG,
    EXIT_JOB_FAILED,
    config_option,
    exit_code,
    job_option,
    jobs_of,
    load,
    one_job,
    run_owned,
    store_of,
    with_stored_jobs,
)
from deskmail.config.errors import ConfigError
from deskmail.config.models import JobConfig
from deskmail.entry import imported


@main.command("run-once")
@config_option
@job_option
@click.option("--show", is_flag=True, help="Print one line per message taken in.")
@click.option(
    "--debug",
    is_flag=True,
    help="Log at debug level and keep every fetched message, byte for byte, in --debug-dir.",
)
@click.option(
    "--debug-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for --debug's raw messages (default: debug/ next to the config file).",
)
@click.option(
    "--parse-worker",
    is_flag=True,
    help="Parse in a second process alongside the database writes: on a backlog about"
    " an eighth faster, for about 70 MiB more memory.",
)
def run_once(
    config_path: Path,
    job_name: str | None,
    show: bool,
    debug: bool,
    debug_dir: Path | None,
    parse_worker: bool,
) -> None:
    """Process every job's mailbox once and exit (for cron or a task scheduler)."""
    from deskmail.apply.names import log_unmatched_names
    from deskmail.cli.progress import progress_for
    from deskmail.intake.run import RunSummary, run_job
    from deskmail.report.runs import outcome_line, summary_line

    imported()
    config = load(config_path, debug=debug)
    store = store_of(config)
    config = with_stored_jobs(config, store, job_name=job_name, debug=debug)
    jobs = jobs_of(config, job_name)
    log_unmatched_names(store, jobs)  # a misspelt assignee, group or site
    on_message = (lambda outcome: click.echo(outcome_line(outcome))) if show else None
    raw_dir = (debug_dir or config_path.absolute().parent / "debug") if debug else None

    def run(job: JobConfig) -> RunSummary:
        # On a terminal a bar shows a long backlog moving; --show's lines already do.
        progress = progress_for(job.name, wanted=not show)
        try:
            return run_job(
                store,
                job,
                on_message,
                debug_dir=raw_dir,
                config=config,
                parse_worker=parse_worker,
                progress=progress,
            )
        finally:
            if progress is not None:
                progress.close()

    # One job at a time: each may start its own parsing worker (--parse-worker).
    summaries = run_owned(store, jobs, run)
    store.dispose()
    for summary in summaries:
        click.echo(summary_line(summary))
    sys.exit(exit_code(summaries))


@main.command()
@config_option
@job_option
def check(config_path: Path, job_name: str | None) -> None:
    """Test the connection: DNS, connect, TLS, log in, open the folder, count messages."""
    from deskmail.auth.tokens import job_tokens
    from deskmail.config.secrets import resolve_password
    from deskmail.report.check import mailbox_line, waiting
    from deskmail.report.names import unmatched_name_lines
    from deskmail.sources.check import check_connection, describe_failure
    from deskmail.sources.errors import SourceError

    config = with_stored_jobs(load(config_path), job_name=job_name)
    jobs = jobs_of(config, job_name)
    # OAuth2 tokens are cached in the database (a renewed one is saved): opened once, and
    # only when a job signs in so; a check of password jobs creates no database.
    store = store_of(config) if any(job.oauth2 is not None for job in jobs) else None
    failed = False
    for job in jobs:
        try:
            tokens = job_tokens(job, store) if store is not None else None
            info = check_connection(job, resolve_password(job), tokens)
        except SourceError as exc:
            failed = True
            click.echo(f"{job.name}: {describe_failure(exc, job)}")
            continue
        except ConfigError as exc:
            failed = True
            click.echo(f"{job.name}: FAILED at password: {exc}")
            continue
        click.echo(mailbox_line(job, info, waiting(config, job, info.keys)))
    if store is not None:
        store.dispose()
    for line in unmatched_name_lines(config, jobs):
        click.echo(line)
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

    job = one_job(with_stored_jobs(load(config_path), job_name=job_name), job_name)
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
    from deskmail.store.engine import SchemaVersionError
    from deskmail.store.readonly import read_only

    config = with_stored_jobs(load(config_path), job_name=job_name)
    job = one_job(config, job_name)
    try:
        with read_only(config) as reading:  # creates no database; opens one read-only
            text = explain(reading.session, job, message.read_bytes(), no_database=reading.stand_in)
    except SchemaVersionError as exc:
        click.echo(f"deskmail: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    click.echo(text)
