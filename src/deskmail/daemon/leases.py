"""Several instances share the jobs through leases in PostgreSQL (the `[cluster]` settings).

Each job is held by one instance at a time through a row of `job_lease`
(holder, expires_at), renewed every renew_seconds, and taken with
`SELECT ... FOR UPDATE SKIP LOCKED`. Rows rather than advisory locks alone:
a row has an expiry, a holder anyone can read (`deskmail status`), a history
(`lease_history`, which proves no job was held twice), and taking one is an
ordinary transaction that works through any pooler. Advisory locks stay
underneath (locks.py): a worker runs a pass only while its lease AND its
advisory lock are ours, and PostgreSQL frees the lock the moment a dead
instance's connection goes, so even a lease taken over on a clock that runs
ahead cannot put two instances in one mailbox; the intake journal stays the
last line of defence, not the first.

Expiry is the database's clock only. This instance trusts a lease for
lease_seconds from the moment it *sent* the renewal (before the database's
now()), so its own view always ends before the row does.

The keeper is a thread of its own: a pass being stopped, or a reload, never
delays a renewal. It decides (share.py), takes, and marks the surplus; the
supervisor stops those workers (each finishes its pass) and then calls
given_up(), which releases their leases.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Collection

from deskmail.config.models import ClusterConfig
from deskmail.daemon.lease_book import LeaseBook
from deskmail.daemon.locks import JobLock
from deskmail.daemon.share import Spread, Standing
from deskmail.store.engine import Store
from deskmail.store.errors import describe_error

log = logging.getLogger("deskmail.daemon.leases")

# A job this instance gave up is not taken back by it for this many lease periods
# (another instance should take it; if none does, it comes back after that).
COOLDOWN_LEASES = 3


def instance_id() -> str:
    """host:pid and a few random characters: a pid reused after a restart is another instance."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(2)}"


class LeaseKeeper:
    """This instance's leases: renewed, taken, handed over. start(), want(), held(), stop()."""

    def __init__(self, store: Store, cluster: ClusterConfig, on_change: Callable[[], None]) -> None:
        self.instance = instance_id()
        self._host, self._pid = socket.gethostname(), os.getpid()
        self._book = LeaseBook(store.engine, self.instance, cluster.lease_seconds)
        self._cluster = cluster
        self._spread = Spread(cluster.settle_rounds)
        self._on_change = on_change
        self._lock = threading.Lock()
        self._wanted: frozenset[str] = frozenset()
        self._valid_until: dict[str, float] = {}  # held job -> monotonic end of our trust
        self._taken_order: list[str] = []  # oldest first: the newest are handed over first
        self._releasing: set[str] = set()
        self._cooling: dict[str, float] = {}  # given up -> monotonic time it may be taken again
        self._one_round = threading.Lock()
        self._nudge = threading.Event()
        self._stopping = threading.Event()
        self._failing = False
        self._started = False
        self._thread = threading.Thread(target=self._main, name="leases", daemon=True)

    # ---- the supervisor's side ---------------------------------------------------

    def start(self, wanted: Collection[str]) -> None:
        """Register, take a first share at once, then renew on a thread of its own."""
        self._wanted = frozenset(wanted)
        try:
            self._book.register(self._host, self._pid)
        except Exception as exc:
            log.error("leases: cannot register this instance: %s", describe_error(exc))
        self._round()
        self._started = True
        self._thread.start()

    def want(self, wanted: Collection[str]) -> None:
        """The jobs to share out changed (reload, database jobs, switches): a round now, so
        that a new job's lease is taken before the supervisor asks held()."""
        with self._lock:
            changed = frozenset(wanted) != self._wanted
            self._wanted = frozenset(wanted)
        if changed:
            self._round()

    def held(self) -> set[str]:
        """The jobs this instance should run now (held, trusted, not being handed over)."""
        now = time.monotonic()
        with self._lock:
            return {
                job
                for job, until in self._valid_until.items()
                if until > now and job not in self._releasing and job in self._wanted
            }

    def holds(self, job: str) -> bool:
        """The lease of `job` is ours and still trusted (a worker asks before each pass)."""
        with self._lock:
            return self._valid_until.get(job, 0.0) > time.monotonic()

    def given_up(self, jobs: Collection[str]) -> None:
        """The workers of `jobs` have stopped: release the leases we still hold of them."""
        with self._lock:
            mine = [job for job in jobs if job in self._valid_until]
        if not mine:
            return
        try:
            self._book.give_up(mine)
        except Exception as exc:  # they expire on their own
            log.warning("leases: not released (they will expire): %s", describe_error(exc))
        cool = time.monotonic() + COOLDOWN_LEASES * self._cluster.lease_seconds
        with self._lock:
            for job in mine:
                if job in self._releasing:  # handed over to another: not to be taken back
                    self._cooling[job] = cool
                self._forget(job)
        log.info("leases: released %d job(s): %s", len(mine), ", ".join(sorted(mine)))

    def alive(self) -> bool:
        """The renewing thread runs (once started): without it every lease would lapse."""
        return self._thread.is_alive() or not self._started

    def release_unused(self, running: Collection[str]) -> None:
        """Release the leases that no running worker uses and held() no longer names
        (handed over, no longer wanted): called once their workers have stopped."""
        keep = self.held()
        with self._lock:
            unused = [job for job in self._valid_until if job not in keep and job not in running]
        self.given_up(unused)

    def stop(self) -> None:
        """After every worker stopped: release every lease, leave the instance table."""
        self._stopping.set()
        self._nudge.set()
        if self._thread.is_alive():
            self._thread.join(self._cluster.lease_seconds)
        try:
            self._book.leave()
        except Exception as exc:
            log.warning(
                "leases: not released on stopping (they will expire): %s", describe_error(exc)
            )

    # ---- the keeper's thread -----------------------------------------------------

    def _main(self) -> None:
        while not self._stopping.is_set():
            self._nudge.wait(self._cluster.renew_seconds)
            self._nudge.clear()
            if self._stopping.is_set():
                return
            try:
                self._round()
            except Exception:  # a bug: said, and the next renewal tries again
                log.exception("leases: the renewal failed unexpectedly")

    def _round(self) -> None:
        with self._one_round:  # the keeper's thread, or want() on the supervisor's
            self._round_alone()

    def _round_alone(self) -> None:
        try:
            changed = self._renew_and_spread()
        except Exception as exc:  # the database is out of reach: trust runs out on its own
            if not self._failing:
                log.error("leases: not renewed: %s", describe_error(exc))
            self._failing = True
            changed = self._expire_locally()
        else:
            if self._failing:
                log.info("leases: renewed again")
            self._failing = False
        if changed:
            self._on_change()

    def _renew_and_spread(self) -> bool:
        with self._lock:
            wanted = self._wanted
        sent = time.monotonic()
        renewal = self._book.renew(wanted, self._host, self._pid)
        changed = False
        with self._lock:
            lost = set(self._valid_until) - renewal.renewed
            for job in lost:
                self._forget(job)
            for job in renewal.renewed:
                self._valid_until[job] = sent + self._cluster.lease_seconds
                if job not in self._taken_order:
                    self._taken_order.append(job)
            held = [job for job in self._taken_order if job in wanted]
            releasing = len(self._releasing)
            now = time.monotonic()
            self._cooling = {job: at for job, at in self._cooling.items() if at > now}
            cooling, mine = set(self._cooling), set(self._valid_until)
        if lost:
            log.warning(
                "leases: lost %d job(s) to another instance: %s", len(lost), ", ".join(sorted(lost))
            )
            changed = True
        counts = renewal.counts
        move = self._spread.decide(
            Standing(
                jobs=len(wanted),
                instances=max(1, len(counts)),
                held=len(held) - releasing,
                least_held=min(counts.values(), default=0),
            )
        )
        if move.take:
            sent = time.monotonic()
            taken = self._book.take(wanted, move.take, mine, cooling)
            if taken:
                with self._lock:
                    for job in taken:
                        self._valid_until[job] = sent + self._cluster.lease_seconds
                        self._taken_order.append(job)
                log.info("leases: took %d job(s): %s", len(taken), ", ".join(sorted(taken)))
                changed = True
        if move.give_up:
            with self._lock:
                handing = [job for job in reversed(held) if job not in self._releasing]
                handing = handing[: move.give_up]
                self._releasing.update(handing)
            if handing:
                log.info(
                    "leases: above the fair share (%d jobs, %d instances): handing over %s",
                    len(wanted),
                    len(counts),
                    ", ".join(sorted(handing)),
                )
                changed = True
        with self._lock:  # held leases of jobs no longer wanted: the supervisor stops them
            if any(job not in wanted for job in self._valid_until):
                changed = True
        return changed

    def _expire_locally(self) -> bool:
        """Without the database, leases whose trust ran out are dropped (workers stop)."""
        now = time.monotonic()
        with self._lock:
            gone = [job for job, until in self._valid_until.items() if until <= now]
            for job in gone:
                self._forget(job)
        return bool(gone)

    def _forget(self, job: str) -> None:
        """Under the lock."""
        self._valid_until.pop(job, None)
        self._releasing.discard(job)
        if job in self._taken_order:
            self._taken_order.remove(job)


class LeasedLock:
    """A worker's lock on PostgreSQL with leases: the lease AND the advisory lock are ours."""

    def __init__(self, keeper: LeaseKeeper, job: str, guard: JobLock) -> None:
        self._keeper = keeper
        self._job = job
        self._guard = guard

    def acquire(self) -> bool:
        return self._keeper.holds(self._job) and self._guard.acquire()

    def held(self) -> bool:
        return self._keeper.holds(self._job) and self._guard.held()

    def release(self) -> None:
        self._guard.release()
