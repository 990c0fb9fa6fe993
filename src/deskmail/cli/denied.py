"""Denied requests: `deskmail denied list | show ID [--raw]` (create_new_requests = false)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from deskmail.cli.app import main
from deskmail.cli.common import config_option, job_option, load, store_of


@main.group()
def denied() -> None:
    """Mail that opened no ticket because the job denies new requests, and its reply."""


@denied.command("list")
@config_option
@job_option
def denied_list(config_path: Path, job_name: str | None) -> None:
    """List denied mail: when, from whom, and whether its automatic reply went out."""
    from deskmail.report.denied import list_denied, render_list

    store = store_of(load(config_path))
    try:
        with store.session() as session:
            click.echo(render_list(list_denied(session, store.blobs, job_name)))
    finally:
        store.dispose()


@denied.command("show")
@config_option
@click.argument("record_id", metavar="ID", type=int)
@click.option("--raw", is_flag=True, help="Write the mail exactly as received (.eml).")
def denied_show(config_path: Path, record_id: int, raw: bool) -> None:
    """Show denied mail ID: its headers and its reply; --raw writes the mail itself."""
    from deskmail.report.denied import read_raw, show
    from deskmail.store.models import IntakeRecord

    config = load(config_path)
    store = store_of(config)
    try:
        with store.session() as session:
            if raw:
                record = session.get(IntakeRecord, record_id)
                data = read_raw(store.blobs, record) if record is not None else None
                if data is None:
                    _fail(f"no denied mail {record_id} with its raw bytes kept")
                click.echo(data, nl=False)  # bytes go to the binary stream, unchanged
                return
            text = show(session, store.blobs, record_id, config.source_file)
    finally:
        store.dispose()
    if text is None:
        _fail(f"no denied mail {record_id}")
    click.echo(text)


def _fail(message: str) -> NoReturn:
    click.echo(f"deskmail: {message}", err=True)
    sys.exit(1)
