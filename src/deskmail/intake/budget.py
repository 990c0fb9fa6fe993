"""The time one message may take from raw bytes to a plan (job key message_budget_seconds).

The safety net under the fuzzer and the linear-time regular expressions: a mail
that still takes too long (a case nobody found, a user's pattern) is quarantined
with that reason, its raw bytes kept, and the batch goes on.

How it is enforced, and why:
- A worker thread per message with a deadline does not work: a Python thread cannot
  be stopped, so the slow mail would go on holding the core (and the GIL) while the
  next ones run, and the transaction it was in could not be closed safely.
- A process per message would be a clean stop, but costs a process start and
  pickling a ParsedMessage per mail (the benchmark takes in hundreds a second);
  parsing already runs in a worker process (parse_ahead.py), and there this
  module's main-thread path applies: the pool runs its tasks in the worker's main
  thread.
- So the check runs in the thread doing the work. In the main thread (run-once,
  `quarantine retry`, the parse worker) signal.setitimer raises OverBudget from the
  SIGALRM handler: it stops pure Python and also a running regular expression (the
  `re` engine checks for signals while it backtracks). In another thread (a
  daemon's job), signals cannot be used; one watchdog thread raises OverBudget in
  the worker thread with PyThreadState_SetAsyncExc, at its next bytecode: a single long
  C call (one regular expression match) finishes first, which is why the built-in
  patterns are linear (tests/parse/test_linear_time.py).
The budget covers parse, preprocess and classify, the stages whose time depends on
the mail's text; apply's time is the database's, and a slow database must not
quarantine mail.
"""

from __future__ import annotations

import ctypes
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

DEFAULT_SECONDS = 30.0


class OverBudget(Exception):
    """The message went over its processing time budget (raised with no arguments:
    PyThreadState_SetAsyncExc raises the class)."""


def reason(seconds: float, stage: str) -> str:
    """The quarantine's reason: what went over and where."""
    return f"{stage}: over the processing budget of {seconds:g} s per message"


@contextmanager
def limited(seconds: float) -> Iterator[None]:
    """Raises OverBudget inside the block once it has run `seconds`; <= 0 raises at once.

    One at a time per thread (not nested): intake runs one message's stages at a time."""
    if seconds <= 0:
        raise OverBudget
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        with _alarm(seconds):
            yield
    else:
        with _watchdog(seconds):
            yield


class Stopwatch:
    """What is left of a budget as stages spend it."""

    def __init__(self, seconds: float, spent: float = 0.0) -> None:
        self.seconds = seconds
        self._started = time.monotonic() - spent

    @property
    def left(self) -> float:
        return self.seconds - (time.monotonic() - self._started)


_alarm_armed = False


def _expired(signum: int, frame: FrameType | None) -> None:
    if _alarm_armed:  # a signal already on its way when the block ended is ignored
        raise OverBudget


@contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    global _alarm_armed
    # Installed once and left (nothing else in deskmail uses SIGALRM): signal.signal()
    # costs ten times a pair of setitimer() calls, twice per message.
    if signal.getsignal(signal.SIGALRM) is not _expired:
        signal.signal(signal.SIGALRM, _expired)
    _alarm_armed = True
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        _alarm_armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)


_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.py_object)
_set_async_exc.restype = ctypes.c_int


class _Watchdog:
    """One thread for the whole process that raises OverBudget in a thread whose
    deadline passed: a timer thread per message cost more than setitimer by far."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._deadlines: dict[int, float] = {}  # thread ident -> time.monotonic() deadline
        self._fired: set[int] = set()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float) -> None:
        with self._changed:
            self._deadlines[threading.get_ident()] = time.monotonic() + seconds
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="budget", daemon=True)
                self._thread.start()
            self._changed.notify()

    def disarm(self) -> bool:
        """Whether it fired; an exception fired but not yet raised is taken back, so that
        it cannot go off later in the caller's code."""
        ident = threading.get_ident()
        with self._changed:
            self._deadlines.pop(ident, None)
            fired = ident in self._fired
            self._fired.discard(ident)
        if fired:
            _set_async_exc(ident, ctypes.py_object())
        return fired

    def _run(self) -> None:
        with self._changed:
            while True:
                now = time.monotonic()
                for ident, deadline in list(self._deadlines.items()):
                    if deadline <= now:
                        del self._deadlines[ident]
                        self._fired.add(ident)
                        _set_async_exc(ident, OverBudget)
                earliest = min(self._deadlines.values(), default=None)
                self._changed.wait(None if earliest is None else earliest - now)


_WATCHDOG = _Watchdog()


@contextmanager
def _watchdog(seconds: float) -> Iterator[None]:
    _WATCHDOG.arm(seconds)
    try:
        yield
    finally:
        fired = _WATCHDOG.disarm()
    if fired:
        raise OverBudget
