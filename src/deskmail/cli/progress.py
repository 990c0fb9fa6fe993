"""run-once's progress bar: messages taken in of those found, rate, time left.

Only on a terminal: a pipe, a file or a log never gets it (a cron mail of
carriage returns helps no one). Drawn by click's own progress bar.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:  # what click.progressbar returns; click itself imports it this way
    from click._termui_impl import ProgressBar


class TerminalProgress:
    """One bar per job that has new mail (intake.run.Progress); close() ends its line."""

    def __init__(self, job_name: str) -> None:
        self._label = job_name
        self._bar: ProgressBar[str] | None = None
        self._started = 0.0
        self._taken = 0

    def found(self, count: int) -> None:
        if count == 0:
            return
        self._started = time.monotonic()
        self._bar = click.progressbar(
            length=count,
            label=self._label,
            show_pos=True,
            show_eta=True,
            item_show_func=_as_is,
        )
        self._bar.render_progress()

    def taken(self, count: int) -> None:
        if self._bar is None:
            return
        self._taken += count
        elapsed = time.monotonic() - self._started
        rate = f"{self._taken / elapsed:,.0f} mails/s" if elapsed > 0 else None
        self._bar.update(count, rate)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.render_finish()
            self._bar = None


def progress_for(job_name: str, *, wanted: bool) -> TerminalProgress | None:
    """A bar when `wanted` and standard output is a terminal; otherwise None (costs nothing)."""
    if not wanted or not sys.stdout.isatty():
        return None
    return TerminalProgress(job_name)


def _as_is(rate: str | None) -> str | None:
    return rate
