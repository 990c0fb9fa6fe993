"""The `deskmail` command group; the commands live in the sibling modules."""

from __future__ import annotations

import click

from deskmail.cli.allocator import tune_malloc
from deskmail.logs import configure_logging


@click.group()
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.version_option(package_name="deskmail")
def main(verbose: int) -> None:
    """deskmail turns mailboxes into service-desk tickets, exactly once."""
    tune_malloc()
    # stderr only until a command loads its configuration (common.load adds the files).
    configure_logging(None, verbose)
