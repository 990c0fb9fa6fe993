"""Every job's passes, on a bounded pool of threads: the daemon's cost follows the mail.

A job is a `Task` with a due time. PASS_THREADS threads share one heap of
due times and run whichever task is due, so a thousand jobs waiting for their
schedule or their IDLE push cost no thread and no wake-up each: a thread wakes
only when the earliest task is due or a task is woken.

- A task never runs twice at once: a wake that comes while it runs marks it
  to run again as soon as it ends (the mail may be too new for the pass under
  way), and only one heap entry per task is live at a time (older entries are
  skipped by their generation number).
- A task's step returns the seconds until its next step, or None when it has
  ended (stopped): join() waits for that.
- Passes are blocking (imapclient, poplib, SQLAlchemy): threads, not coroutines.
  PASS_THREADS bounds how many mailboxes are worked at once and therefore the
  database connections taken (the store's pool holds more than that, see
  README "Limits").
- A step that runs longer than STALL_AFTER (a server that does not answer
  until the connect or read timeout, a huge mailbox) does not count against
  the pool: rebalance(), called on the daemon's tick, adds a thread for each
  such step, up to MOST_THREADS, and the extra threads end once they are not
  needed. Forty mailboxes on one dead server do not stall the other jobs.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Protocol

log = logging.getLogger("deskmail.daemon.scheduler")

# How many passes run at once. A pass mostly waits (on the server, on the
# database's commit), so the pool is wider than the cores: 8 threads took a
# burst of 100 mails in 26 s, 16 in 9 s (bench/scale.py). 12 stays within the
# store's connection pool (SQLAlchemy's QueuePool: 5 + 10 overflow), leaving
# room for the heartbeat, the webhook worker and the web UI.
PASS_THREADS = 12
# A step running this long is taken as stuck on its server (rebalance()).
STALL_AFTER = 10.0
# Threads at most, stuck ones included.
MOST_THREADS = 64


class Task(Protocol):
    """One job's work, one step at a time."""

    name: str

    def step(self) -> float | None:
        """Do what is due; the seconds until the next step, or None when the task has ended."""
        ...


class _Entry:
    """A task's bookkeeping, guarded by the scheduler's lock."""

    __slots__ = ("again", "done", "due", "generation", "running", "started", "task")

    def __init__(self, task: Task) -> None:
        self.task = task
        self.due = 0.0
        self.generation = 0
        self.running = False
        self.again = False
        self.started = 0.0  # when the running step began
        self.done = threading.Event()


class Scheduler:
    """A heap of due tasks and the threads that run them. start(), add(), wake(), stop()."""

    def __init__(
        self,
        threads: int = PASS_THREADS,
        name: str = "pass",
        *,
        most: int = MOST_THREADS,
        stall_after: float = STALL_AFTER,
    ) -> None:
        if not 1 <= threads <= most:
            raise ValueError("need 1 <= threads <= most")
        self._count = threads
        self._most = most
        self._stall_after = stall_after
        self._wanted = threads  # the pool's size now: threads + stuck steps, at most `most`
        self._numbers = itertools.count(1)
        self._name = name
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._heap: list[tuple[float, int, int, _Entry]] = []
        self._order = itertools.count()  # ties on the due time: first come, first run
        self._entries: dict[int, _Entry] = {}
        self._threads: list[threading.Thread] = []
        self._stopping = False

    def start(self) -> None:
        with self._lock:
            for _thread in range(self._count):
                self._spawn()

    def _spawn(self) -> None:
        """One more thread (under the lock)."""
        thread = threading.Thread(
            target=self._main, name=f"{self._name} {next(self._numbers)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def alive(self) -> bool:
        """Every thread of the pool still runs (a dead one would leave tasks waiting)."""
        with self._lock:
            threads = list(self._threads)
        return bool(threads) and all(thread.is_alive() for thread in threads)

    def threads(self) -> int:
        with self._lock:
            return len(self._threads)

    def rebalance(self) -> None:
        """A thread more for each step stuck longer than STALL_AFTER; fewer once they end."""
        with self._lock:
            if self._stopping or not self._threads:
                return
            now = time.monotonic()
            stuck = sum(
                1
                for entry in self._entries.values()
                if entry.running and now - entry.started > self._stall_after
            )
            wanted = min(self._most, self._count + stuck)
            if wanted > self._wanted:
                log.warning(
                    "%d pass(es) running for more than %.0f s; %d thread(s) for the others",
                    stuck,
                    self._stall_after,
                    wanted - stuck,
                )
            self._wanted = wanted
            while len(self._threads) < wanted:
                self._spawn()
            self._changed.notify_all()  # surplus threads end

    def add(self, task: Task, delay: float = 0.0) -> None:
        """Run `task` in `delay` seconds, then as its steps say."""
        entry = _Entry(task)
        with self._lock:
            self._entries[id(task)] = entry
            self._push(entry, time.monotonic() + delay)

    def wake(self, task: Task) -> None:
        """Step `task` now, or as soon as its running step ends."""
        with self._lock:
            entry = self._entries.get(id(task))
            if entry is None or entry.done.is_set():
                return
            if entry.running:
                entry.again = True
            elif entry.due > time.monotonic():
                self._push(entry, time.monotonic())

    def join(self, task: Task, timeout: float | None = None) -> bool:
        """Wait until `task` has ended; True if it has."""
        with self._lock:
            entry = self._entries.get(id(task))
        return True if entry is None else entry.done.wait(timeout)

    def ended(self, task: Task) -> bool:
        with self._lock:
            entry = self._entries.get(id(task))
        return entry is None or entry.done.is_set()

    def stop(self, timeout: float | None = None) -> None:
        """End the threads once the running steps are over (tasks are stopped by their owner)."""
        with self._lock:
            self._stopping = True
            self._changed.notify_all()
            threads = list(self._threads)
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    # ---- the threads ----------------------------------------------------------

    def _push(self, entry: _Entry, due: float) -> None:
        """(Re)schedule under the lock; an older heap entry of the task becomes stale."""
        entry.generation += 1
        entry.due = due
        heapq.heappush(self._heap, (due, next(self._order), entry.generation, entry))
        if self._heap[0][3] is entry:  # the earliest changed: a sleeping thread must look
            self._changed.notify()

    def _next(self) -> _Entry | None:
        """The next due entry, marked running; None when the scheduler stops or has a thread
        too many (this one then leaves the pool)."""
        with self._lock:
            while not self._stopping:
                if len(self._threads) > self._wanted:
                    self._threads.remove(threading.current_thread())
                    return None
                if not self._heap:
                    self._changed.wait()
                    continue
                due, _order, generation, entry = self._heap[0]
                if generation != entry.generation or entry.done.is_set():
                    heapq.heappop(self._heap)  # stale: the task was rescheduled since
                    continue
                wait = due - time.monotonic()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
                heapq.heappop(self._heap)
                if self._heap:  # a burst: the next due task must not wait for this one
                    self._changed.notify()
                entry.running = True
                entry.started = time.monotonic()
                entry.generation += 1  # no other entry of the task is live while it runs
                return entry
        return None

    def _main(self) -> None:
        while (entry := self._next()) is not None:
            try:
                delay = entry.task.step()
            except Exception:  # a bug in one task: it ends; the others go on
                log.exception("%s: stopped by an unexpected error", entry.task.name)
                delay = None
            with self._lock:
                entry.running = False
                if delay is None:
                    del self._entries[id(entry.task)]
                    entry.done.set()
                    continue
                again, entry.again = entry.again, False
                self._push(entry, time.monotonic() + (0.0 if again else delay))
