"""Parsing in a second process, ahead of the database writes.

Intake is single-threaded Python: while a batch is written to the database
the second core would sit idle. With several batches to take in, a worker
process parses the next ones while this process writes one, and hands back
each message's SHA-256 and ParsedMessage (pickled; a few milliseconds per
batch). Messages over INLINE_LIMIT are parsed here, so that a very large
attachment is never held by both processes.

The worker is a new interpreter (multiprocessing's spawn) that imports the
parser and nothing else (README.md, Performance, has its memory). A
forked worker would start out sharing this process's memory, but it must not
be forked where other threads run (the daemon), and on the benchmark it used
as much. It is started when ParseAhead is made, so it imports while this
process fetches. On Linux only: the worker asks the kernel to kill it when
its parent dies (prctl PR_SET_PDEATHSIG), so a killed run leaves no orphan
holding its pipes. Elsewhere everything is parsed in this process.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import signal
import sys
import time
import types
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from deskmail.intake.budget import DEFAULT_SECONDS, OverBudget, limited
from deskmail.intake.faults import slow_parse
from deskmail.parse.message import ParsedMessage
from deskmail.parse.parser import parse_message
from deskmail.parse.spool import Spool
from deskmail.sources.base import FetchedMessage

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger(__name__)

INLINE_LIMIT = 8 * 1024 * 1024  # bytes: bigger messages are parsed in this process


@dataclass(frozen=True, slots=True)
class Prepared:
    """A message ready for the database: its digest and what the parser made of it."""

    sha256: str
    message: ParsedMessage | None  # None: parsing went over the message's budget
    # What parsing took of the budget (intake/budget.py); not part of what was prepared.
    seconds: float = field(default=0.0, compare=False)


def prepare(raw: bytes, spool: Spool | None, budget: float = DEFAULT_SECONDS) -> Prepared:
    """Hashed and parsed within `budget` seconds (in either process: the pool runs its
    tasks in the worker's main thread, where budget.py can stop a parse)."""
    sha256 = hashlib.sha256(raw).hexdigest()
    started = time.monotonic()
    try:
        with limited(budget):
            slow_parse(raw)
            message = parse_message(raw, spool)
    except OverBudget:
        return Prepared(sha256, None, time.monotonic() - started)
    return Prepared(sha256, message, time.monotonic() - started)


def _prepare_all(raws: list[bytes], spool: Spool | None, budget: float) -> list[Prepared]:
    return [prepare(raw, spool, budget) for raw in raws]


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with(parent: int) -> None:
    """Worker start: be killed with the parent, even by SIGKILL; a worker left
    alone would keep the parent's stdout open and its caller waiting."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        os._exit(1)  # the pool breaks and the parent parses by itself
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _ready() -> None:
    """The first task: the worker is up once it has imported this module."""


@contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Spawn's new interpreter imports this one's __main__, for functions pickled from
    there. Under `python -m deskmail` that is the whole CLI (SQLAlchemy, pydantic: ~60
    MiB); ours live in this module, so the worker is started with an empty __main__."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


class ParseAhead:
    """submit() a batch, collect() it later; without a worker, collect() parses here.

    `spool`: where large attachments are decoded to, by either process (parse/spool.py).
    `budget`: seconds a message's parse may take (the job's message_budget_seconds)."""

    def __init__(
        self, *, enabled: bool, spool: Spool | None = None, budget: float = DEFAULT_SECONDS
    ) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self.spool = spool
        self.budget = budget
        if enabled and sys.platform == "linux":
            # Imported here: a run without the worker does not load multiprocessing.
            import multiprocessing
            from concurrent.futures.process import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_die_with,
                initargs=(os.getpid(),),
            )
            with _main_module_hidden():  # spawn starts the process within submit()
                self._pool.submit(_ready)

    def submit(self, batch: Sequence[FetchedMessage]) -> Future[list[Prepared]] | None:
        small = [fetched.raw for fetched in batch if len(fetched.raw) < INLINE_LIMIT]
        if self._pool is None or not small:
            return None
        from concurrent.futures.process import BrokenProcessPool  # loaded with the pool

        try:
            return self._pool.submit(_prepare_all, small, self.spool, self.budget)
        except BrokenProcessPool as exc:  # the worker died: the rest is parsed here
            log.warning("parsing worker gone (%s); parsing here", exc)
            self.close()
            return None

    def collect(
        self, batch: Sequence[FetchedMessage], future: Future[list[Prepared]] | None
    ) -> list[Prepared]:
        """The batch prepared, in order: the worker's results, the rest parsed here."""
        done: list[Prepared] = []
        if future is not None:
            try:
                done = future.result()
            except Exception as exc:  # a dead worker costs time, never a message
                log.warning("parsing worker failed (%s: %s); parsing here", type(exc).__name__, exc)
        from_worker = iter(done)
        prepared = []
        for fetched in batch:
            ready = next(from_worker, None) if done and len(fetched.raw) < INLINE_LIMIT else None
            if ready is None:
                ready = prepare(fetched.raw, self.spool, self.budget)
            prepared.append(ready)
        return prepared

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
