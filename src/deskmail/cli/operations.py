"""Commands for the one on duty: the quarantine and the history of runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal, NoReturn

import click

from deskmail.cli.app import main
from deskmail.cli.common import (
    EXIT_JOB_FAILED,
    EXIT_QUARANTINED,
    config_option,
    job_option,
    load,
    store_of,
    with_stored_jobs,
)


@main.group()
def quarantine() -> None:
    """Messages that could not be processed: look at them, retry, or discard."""


@quarantine.command("list")
@config_option
@job_option
def quarantine_list(config_path: Path, job_name: str | None) -> None:
    """List the quarantined messages with the reason of each."""
    from deskmail.intake.quarantine import list_quarantined, render_list

    store = store_of(load(config_path))
    with store.session() as session:
        click.echo(render_list(list_quarantined(session, job_name)))


@quarantine.command("show")
@config_option
@click.argument("record_id", metavar="ID", type=int)
@click.option("--raw", is_flag=True, help="Write the message exactly as received (.eml).")
def quarantine_show(config_path: Path, record_id: int, raw: bool) -> None:
    """Show why message ID was quarantined, its event and its headers."""
    from deskmail.intake.quarantine import read_raw, show
    from deskmail.store.models import IntakeRecord

    config = load(config_path)
    store = store_of(config)
    with store.session() as session:
        if raw:
            record = session.get(IntakeRecord, record_id)
            try:
                data = read_raw(store.blobs, record) if record else None
            except FileNotFoundError:
                data = None
            if data is None:
                _fail(f"no raw message kept for {record_id}")
            click.echo(data, nl=False)  # bytes go to the binary stream, unchanged
            return
        text = show(session, store.blobs, record_id, config.source_file)
    if text is None:
        _fail(f"no quarantined message {record_id}")
    click.echo(text)


@quarantine.command("retry")
@config_option
@click.argument("record_id", metavar="[ID]", type=int, required=False)
@click.option("--all", "retry_all", is_flag=True, help="Every quarantined message.")
@job_option
def quarantine_retry(
    config_path: Path, record_id: int | None, retry_all: bool, job_name: str | None
) -> None:
    """Take message ID (or --all, of --job) in again, once the cause is fixed.

    A message that now goes through gets its ticket and its event is closed;
    the job's next run acknowledges it in the mailbox. Exit code 3 when some
    are still quarantined, 1 when some could not be retried at all.
    """
    from deskmail.intake.quarantine import retry
    from deskmail.report.runs import outcome_line

    if retry_all == (record_id is not None):
        raise click.UsageError("give one ID, or --all")
    if job_name is not None and not retry_all:
        raise click.UsageError("--job goes with --all")
    which: int | Literal["all"] = "all" if record_id is None else record_id
    config = load(config_path)
    store = store_of(config)
    results = retry(store, with_stored_jobs(config, store), which, job_name)
    store.dispose()
    if not results:
        click.echo("no quarantined messages")
    for result in results:
        if result.outcome is None:
            click.echo(f"{result.record_id}: cannot retry: {result.problem}")
        else:
            click.echo(f"{result.record_id}:{outcome_line(result.outcome)}")
    if any(result.outcome is None for result in results):
        sys.exit(EXIT_JOB_FAILED)
    if not all(result.ok for result in results):
        sys.exit(EXIT_QUARANTINED)


@quarantine.command("discard")
@config_option
@click.argument("record_id", metavar="ID", type=int)
def quarantine_discard(config_path: Path, record_id: int) -> None:
    """Give up on message ID: no ticket; its event is closed.

    The raw bytes stay in the attachment store for audit; the job's next run
    acknowledges the message in the mailbox.
    """
    from deskmail.intake.quarantine import discard

    store = store_of(load(config_path))
    with store.transaction() as session:
        record = discard(session, record_id)
    if record is None:
        _fail(f"no quarantined message {record_id}")
    click.echo(
        f"discarded {record_id}: its raw bytes are kept for audit (SHA-256 {record.raw_sha256});"
        " the next run acknowledges it in the mailbox"
    )


@main.command("history")
@config_option
@job_option
@click.option("--limit", default=50, show_default=True, help="How many runs, newest last.")
def history_command(config_path: Path, job_name: str | None, limit: int) -> None:
    """Every run of the jobs: when, how long, what it fetched, created, updated, quarantined."""
    from deskmail.report.history import history

    store = store_of(load(config_path))
    with store.session() as session:
        click.echo(history(session, job_name, limit))


def _fail(message: str) -> NoReturn:
    click.echo(f"deskmail: {message}", err=True)
    sys.exit(1)
