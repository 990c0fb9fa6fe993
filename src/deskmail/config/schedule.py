"""A job's schedule as written: an interval ("30s", "5m", "1h30m") or a 5-field cron expression.

Cron expressions are read in the host's local time, as cron does. Parsed here,
at config load, so that a daemon never starts, or reloads, with a schedule it
cannot follow; daemon/schedule.py says when a parsed schedule is next due.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from cronsim import CronSim, CronSimError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(r"(?:\d+[smhd])+")
_PART = re.compile(r"(\d+)([smhd])")
_EXAMPLES = 'an interval such as "30s", "5m" or "1h", or a cron expression such as "*/10 * * * *"'


@dataclass(frozen=True, slots=True)
class Interval:
    seconds: int
    text: str

    def next_after(self, moment: datetime) -> datetime:
        return moment + timedelta(seconds=self.seconds)

    def __str__(self) -> str:
        return f"every {self.text}"


@dataclass(frozen=True, slots=True)
class Cron:
    expression: str

    def next_after(self, moment: datetime) -> datetime:
        next_time: datetime = next(CronSim(self.expression, moment))
        return next_time

    def __str__(self) -> str:
        return f"cron {self.expression!r}"


Schedule = Interval | Cron


def parse_schedule(text: str) -> Schedule:
    """The schedule written in `text`; ValueError in plain words when it is not one."""
    value = text.strip()
    if not value:
        raise ValueError(f"must not be empty; use {_EXAMPLES}")
    fields = value.split()
    if len(fields) > 1:
        return _cron(fields)
    if value.isdigit():
        raise ValueError(f'needs a unit: "{value}s" (seconds) or "{value}m" (minutes)')
    if not _INTERVAL.fullmatch(value):
        raise ValueError(f"must be {_EXAMPLES} (got {text!r})")
    seconds = sum(int(number) * _UNITS[unit] for number, unit in _PART.findall(value))
    if seconds < 1:
        raise ValueError("must be at least 1 second")
    return Interval(seconds, value)


def _cron(fields: list[str]) -> Cron:
    if len(fields) != 5:
        raise ValueError(
            f"a cron expression has 5 fields (minute hour day month weekday), got {len(fields)}"
        )
    expression = " ".join(fields)
    try:
        # Evaluated once: cronsim checks ranges and impossible dates ("0 0 30 2 *") here.
        next(CronSim(expression, datetime.now()))
    except (CronSimError, StopIteration) as exc:
        detail = str(exc).lower() or "no time ever matches"
        raise ValueError(f"is not a valid cron expression ({detail}); use {_EXAMPLES}") from None
    return Cron(expression)
