"""The status command: every running instance and the jobs it holds."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from deskmail.cli.app import main
from deskmail.cli.common import config_option, load, store_of


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of text.")
def status(config_path: Path, as_json: bool) -> None:
    """Every running `deskmail serve`: host, pid, heartbeat age, the jobs it holds.

    On PostgreSQL the instances share the jobs through leases: an instance
    whose heartbeat is older than [cluster] lease_seconds is marked stale (its
    leases expire and the others take its jobs), and the jobs no live instance
    holds are listed. On SQLite one host runs every enabled job.
    """
    from sqlalchemy import select

    from deskmail.daemon.status import read_status
    from deskmail.daemon.switches import is_enabled, read_switches
    from deskmail.store.models import StoredJob

    config = load(config_path)
    store = store_of(config)
    try:
        with store.session() as session:
            stored = session.scalars(select(StoredJob.name).where(StoredJob.enabled))
            switches = read_switches(store)
            known = {job.name for job in config.jobs if is_enabled(job, switches)}
            known |= {name for name in stored if switches.get(name, True)}
        found = read_status(store, config.cluster.lease_seconds, known)
    finally:
        store.dispose()
    if as_json:
        click.echo(json.dumps(asdict(found), indent=2))
        return
    if not found.instances:
        click.echo("no deskmail serve is running")
    for instance in found.instances:
        pid = f" pid {instance.pid}" if instance.pid is not None else ""
        stale = " STALE (presumed dead)" if instance.stale else ""
        click.echo(
            f"{instance.id}: host {instance.host}{pid}, heartbeat {instance.heartbeat_age:.1f} s"
            f" ago{stale}"
        )
        if instance.jobs is None:
            click.echo("  jobs: every enabled job (SQLite: one host, a file lock per job)")
        else:
            click.echo(f"  jobs ({len(instance.jobs)}): {', '.join(instance.jobs) or 'none'}")
    if found.shared and found.unheld:
        click.echo(f"held by no live instance ({len(found.unheld)}): {', '.join(found.unheld)}")
