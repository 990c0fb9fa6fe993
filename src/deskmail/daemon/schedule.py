"""When a job is next due, with jitter; the schedule itself is parsed in config/schedule.py."""

from __future__ import annotations

import random
from datetime import datetime

from deskmail.config.schedule import Schedule

# Spread of scheduled runs, so that many jobs (or instances) sharing a
# schedule do not all connect at the same instant: up to 10% of the gap, at
# most 30 s; always later, never earlier, than the schedule says.
JITTER_FRACTION = 0.1
JITTER_MAX = 30.0
_rng = random.Random()


def seconds_until_next(
    schedule: Schedule, started: datetime, rng: random.Random | None = None
) -> float:
    """Seconds from now until the run after the one that started at `started` (local time).

    Measured from the start of the last run, so a 5-minute interval keeps its
    pace; a run that overran its slot is followed at once.
    """
    now = datetime.now()
    due = schedule.next_after(started)
    gap = (due - started).total_seconds()
    spread = (rng or _rng).uniform(0.0, min(JITTER_MAX, gap * JITTER_FRACTION))
    # timestamp() reads naive times as local time, so DST changes come out right.
    return max(0.0, due.timestamp() - now.timestamp()) + spread
