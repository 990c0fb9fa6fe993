"""The `deskmail` command group; the commands live in the sibling modules."""

from __future__ import annotations

import logging

import click


@click.group()
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
@click.version_option(package_name="deskmail")
def main(verbose: int) -> None:
    """deskmail turns mailboxes into service-desk tickets, exactly once."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
