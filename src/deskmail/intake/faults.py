"""Crash points for the kill tests, and a slow stage for the budget tests.

`DESKMAIL_CRASH_AT=in_transaction:5` makes the process SIGKILL itself the 5th
time it reaches that point, which is how the tests prove that a crash at any
step boundary neither loses nor duplicates mail. Unset in production: the
check is one dict lookup.

`DESKMAIL_SLOW_SUBJECT=text` makes preprocessing of a mail whose subject holds
`text` spin (in Python, as a runaway loop would) until its time budget stops it
(intake/budget.py), or 10 minutes; `DESKMAIL_SLOW_PARSE=text` the same for parsing
a mail whose raw bytes hold `text`. Unset in production: one dict lookup.
"""

from __future__ import annotations

import os
import signal
import time
from enum import StrEnum


class CrashPoint(StrEnum):
    AFTER_FETCH = "after_fetch"  # bytes in hand, nothing recorded
    IN_TRANSACTION = "in_transaction"  # ticket and journal row written, not committed
    # (a batch commits its messages together: before this, none of them is committed)
    AFTER_COMMIT = "after_commit"  # committed, not acknowledged on the server
    DURING_ACK = "during_ack"  # acknowledged on the server, not yet in the journal
    # The pass is committed and acknowledged; a source reading changes (Graph delta)
    # has not saved its place: the next pass reads the same changes again.
    BEFORE_CHECKPOINT = "before_checkpoint"


def _parse(spec: str | None) -> tuple[str, int] | None:
    if not spec:
        return None
    point, _, count = spec.partition(":")
    CrashPoint(point)  # refuse unknown names loudly
    return point, int(count or 1)


_TARGET = _parse(os.environ.get("DESKMAIL_CRASH_AT"))
_hits: dict[str, int] = {}


def reached(point: CrashPoint) -> None:
    if _TARGET is None or _TARGET[0] != point.value:
        return
    _hits[point.value] = _hits.get(point.value, 0) + 1
    if _hits[point.value] >= _TARGET[1]:
        os.kill(os.getpid(), signal.SIGKILL)


def slow_stage(subject: str) -> None:
    slow = os.environ.get("DESKMAIL_SLOW_SUBJECT")  # read each time: tests set it late
    if slow and slow in subject:
        _spin()


def slow_parse(raw: bytes) -> None:
    slow = os.environ.get("DESKMAIL_SLOW_PARSE")
    if slow and slow.encode() in raw:
        _spin()


def _spin() -> None:
    until = time.monotonic() + 600
    while time.monotonic() < until:
        pass
