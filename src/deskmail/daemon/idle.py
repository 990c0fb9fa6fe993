"""IMAP IDLE (RFC 2177): the server tells us about new mail, so a job need not wait to poll.

Each IMAP job with idle = true has one extra session that selects the job's
folder and IDLEs; an EXISTS or RECENT response wakes the job, whose pass
does the actual work in its own session. The watcher never changes the mailbox.

All of a daemon's IDLE sessions share one `IdleHub`:

- One thread waits on every IDLE socket at once (`selectors`, epoll on
  Linux) and on a timer heap, and sleeps until a socket has something to
  say or a timer is due: a thousand quiet mailboxes cost no wake-up at all.
  (The previous design, two threads per job polling a stop flag every
  second, cost 16% of a core and 2,001 threads at 1,000 mailboxes; see
  README "Limits".) Selectors over imapclient's own sockets rather than an
  asyncio loop: the connecting, login and the passes stay on the blocking,
  tested imapclient code, and only the waiting is multiplexed; the one loop
  thread never blocks on the network.
- The blocking work (connect, TLS, login, SELECT, DONE and IDLE again,
  LOGOUT) runs on CONNECT_THREADS threads, and new connections are started
  at most CONNECT_RATE a second, with jitter: a restart of a daemon with a
  thousand jobs does not storm the server.
- IDLE is re-issued on a per-session timer every IDLE_REISSUE seconds (less
  a random tenth, so sessions opened together do not renew together), far
  inside the 29 minutes after which RFC 2177 lets a server drop an idle
  client, and inside the timeouts of NAT boxes and firewalls.
- The socket keeps the job's read timeout for commands and gets TCP
  keepalive, so a half-open connection is noticed within minutes.
- A dropped connection is re-opened with backoff and jitter; meanwhile the
  job's schedule still runs, and after reconnecting the job is woken once,
  since mail may have arrived unannounced.
- A server without IDLE: one log line, and the schedule alone drives the job.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import imaplib
import itertools
import logging
import queue
import random
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import Any

from deskmail.config.errors import ConfigError
from deskmail.config.models import JobConfig
from deskmail.config.secrets import resolve_password
from deskmail.daemon.backoff import Backoff
from deskmail.logs import job_logging
from deskmail.sources.base import BearerTokens
from deskmail.sources.errors import SourceError
from deskmail.sources.imap import ImapSource

log = logging.getLogger("deskmail.daemon.idle")

IDLE_REISSUE = 600.0  # 10 minutes; RFC 2177 servers may drop an IDLE after 29
RECONNECT_BASE = 1.0
RECONNECT_CAP = 300.0
# A session that lasted this long was a working one: the next loss starts the
# backoff afresh. (Resetting at every connect would let a server that drops
# each session at once be reconnected to, and the job woken, every second.)
STABLE_AFTER = 60.0
# Threads that open, renew and close sessions (blocking work, off the loop
# thread). Opening one mostly waits on the server (TLS, LOGIN, SELECT): with 4
# threads, 1,000 sessions took 175 s on a loaded machine while serve used 15%
# of a core, so the threads, not the CPU, were the limit (bench/scale.py).
CONNECT_THREADS = 16
# New sessions started per second at most, across the daemon (a restart's stagger).
CONNECT_RATE = 100.0
_KEEPALIVE = (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 15), ("TCP_KEEPCNT", 4))
_LOST = (SourceError, ConfigError, imaplib.IMAP4.error, OSError)


def announces_new_mail(responses: list[Any]) -> bool:
    """True when any untagged response is "* n EXISTS" or "* n RECENT" (n > 0)."""
    for response in responses:
        if len(response) < 2:
            continue
        if response[1] == b"EXISTS" or (response[1] == b"RECENT" and response[0]):
            return True
    return False


def _keepalive(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in _KEEPALIVE:
        option = getattr(socket, name, None)  # Linux names; absent elsewhere
        if option is not None:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)


def _say_ready(watcher: IdleWatcher) -> None:
    ready, watcher.ready = watcher.ready, None
    if ready is not None:
        ready()


class _State(Enum):
    NEW = "new"
    BUSY = "busy"  # a connect thread holds the session (connecting, renewing)
    IDLING = "idling"  # registered with the selector
    WAITING = "waiting"  # for a reconnect timer
    ENDED = "ended"


class IdleWatcher:
    """One job's IDLE session, kept by an IdleHub; `wake` is called on new mail."""

    def __init__(
        self,
        job: JobConfig,
        wake: Callable[[], None],
        *,
        reissue: float = IDLE_REISSUE,
        reconnect_base: float = RECONNECT_BASE,
        tokens: BearerTokens | None = None,
        hub: IdleHub | None = None,
        ready: Callable[[], None] | None = None,
    ) -> None:
        self.job = job
        # Called once, when the first session is IDLE (or has failed, or has no
        # IDLE): the job's first pass then misses no mail that came before.
        self.ready = ready
        self.tokens = tokens  # an OAuth2 job's access tokens (XOAUTH2)
        self.wake = wake
        self.reissue = reissue
        self.backoff = Backoff(reconnect_base, RECONNECT_CAP)
        self._hub = hub
        self.stopping = threading.Event()
        self.ended = threading.Event()
        self.idling = threading.Event()  # set while an IDLE is running, for tests and logs
        # Owned by the hub's loop thread:
        self.state = _State.NEW
        self.source: ImapSource | None = None
        self.connected_at: float | None = None
        self.connected_before = False
        self.timer = 0  # the generation of the live timer; older ones are stale

    def start(self) -> None:
        if self._hub is None:
            self._hub = IdleHub.shared()
        self._hub.watch(self)

    def stop(self) -> None:
        """Ask the watcher to end IDLE and log out; returns at once (see join)."""
        self.stopping.set()
        if self._hub is not None:
            self._hub.unwatch(self)
        else:
            self.ended.set()

    def join(self, timeout: float | None = None) -> bool:
        return self.ended.wait(timeout)


class IdleHub:
    """Every IDLE session of the process: one loop thread, a few connect threads."""

    _shared: IdleHub | None = None
    _shared_lock = threading.Lock()

    @classmethod
    def shared(cls) -> IdleHub:
        """The process's hub for watchers made without one (tests, tools)."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = IdleHub()
            return cls._shared

    def __init__(
        self,
        connect_threads: int = CONNECT_THREADS,
        connect_rate: float = CONNECT_RATE,
        rng: random.Random | None = None,
    ) -> None:
        self._connect_threads = connect_threads
        self._spacing = 1.0 / connect_rate
        self._rng = rng or random.Random()
        self._selector = selectors.DefaultSelector()
        self._bell_in, self._bell_out = socket.socketpair()
        self._bell_in.setblocking(False)
        self._bell_out.setblocking(False)
        self._selector.register(self._bell_in, selectors.EVENT_READ, None)
        self._inbox: deque[Callable[[], None]] = deque()  # work for the loop thread
        # Blocking work for the connect threads, with the watcher it is for.
        self._work: queue.SimpleQueue[tuple[IdleWatcher, Callable[[], None]] | None] = (
            queue.SimpleQueue()
        )
        self._timers: list[tuple[float, int, int, IdleWatcher]] = []
        self._order = itertools.count()
        self._slot_lock = threading.Lock()
        self._next_slot = 0.0
        self._threads: list[threading.Thread] = []
        self._start_lock = threading.Lock()
        self._stopping = False

    # ---- from any thread -----------------------------------------------------

    def watch(self, watcher: IdleWatcher) -> None:
        self._ensure_started()
        self._post(lambda: self._begin(watcher))

    def unwatch(self, watcher: IdleWatcher) -> None:
        self._post(lambda: self._end(watcher))

    def alive(self) -> bool:
        """Not started yet, or every thread still runs."""
        return all(thread.is_alive() for thread in self._threads)

    def stop(self, timeout: float = 5.0) -> None:
        """End the threads (the watchers are stopped and joined first, by their jobs)."""
        self._stopping = True
        for _thread in range(self._connect_threads):
            self._work.put(None)
        self._ring()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _ensure_started(self) -> None:
        with self._start_lock:
            if self._threads:
                return
            loop = threading.Thread(target=self._loop, name="idle", daemon=True)
            self._threads.append(loop)
            for number in range(self._connect_threads):
                self._threads.append(
                    threading.Thread(
                        target=self._connector, name=f"idle connect {number + 1}", daemon=True
                    )
                )
            for thread in self._threads:
                thread.start()

    def _post(self, work: Callable[[], None]) -> None:
        self._inbox.append(work)
        self._ring()

    def _ring(self) -> None:
        with contextlib.suppress(BlockingIOError):  # full: the bell is ringing already
            self._bell_out.send(b"\0")

    # ---- the loop thread ---------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping:
            timeout = None
            if self._timers:
                timeout = max(0.0, self._timers[0][0] - time.monotonic())
            for key, _events in self._selector.select(timeout):
                if key.data is None:
                    self._drain_bell()
                else:
                    self._readable(key.data)
            while self._inbox:
                self._inbox.popleft()()
            self._fire_timers()

    def _drain_bell(self) -> None:
        try:
            while self._bell_in.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _fire_timers(self) -> None:
        now = time.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _when, _order, generation, watcher = heapq.heappop(self._timers)
            if generation != watcher.timer:
                continue  # cancelled
            if watcher.state is _State.IDLING:
                self._unregister(watcher)
                self._submit(watcher, functools.partial(self._renew, watcher))
            elif watcher.state is _State.WAITING:
                self._submit(watcher, functools.partial(self._connect, watcher))

    def _set_timer(self, watcher: IdleWatcher, delay: float) -> None:
        watcher.timer += 1
        heapq.heappush(
            self._timers, (time.monotonic() + delay, next(self._order), watcher.timer, watcher)
        )

    def _submit(self, watcher: IdleWatcher, work: Callable[[], None]) -> None:
        watcher.state = _State.BUSY
        watcher.timer += 1  # any pending timer is stale now
        self._work.put((watcher, work))

    def _begin(self, watcher: IdleWatcher) -> None:
        if watcher.state is _State.NEW and not watcher.stopping.is_set():
            self._submit(watcher, lambda: self._connect(watcher))
        elif watcher.state is _State.NEW:
            self._finish(watcher)

    def _end(self, watcher: IdleWatcher) -> None:
        """A stop: log out of an idling session; a busy one is ended by its connect thread."""
        if watcher.state is _State.IDLING:
            self._unregister(watcher)
            self._submit(watcher, lambda: self._close(watcher))
        elif watcher.state in (_State.WAITING, _State.NEW):
            watcher.timer += 1
            self._finish(watcher)

    def _finish(self, watcher: IdleWatcher) -> None:
        watcher.state = _State.ENDED
        watcher.idling.clear()
        watcher.ended.set()

    def _readable(self, watcher: IdleWatcher) -> None:
        source = watcher.source
        assert source is not None
        try:
            responses = source.client.idle_check(timeout=0)
        except _LOST as exc:
            self._unregister(watcher)
            self._submit(watcher, functools.partial(self._lost, watcher, exc, close=True))
            return
        if announces_new_mail(responses):
            watcher.wake()
        elif not responses:
            # Readable yet nothing to read: imapclient hides an end of file
            # this way. Sending DONE tells a dead connection from a live one.
            self._unregister(watcher)
            self._submit(watcher, lambda: self._renew(watcher))

    def _idling(self, watcher: IdleWatcher) -> None:
        """Back from a connect thread with IDLE running (loop thread)."""
        if watcher.stopping.is_set():
            self._submit(watcher, lambda: self._close(watcher))
            return
        source = watcher.source
        assert source is not None
        self._selector.register(source.client.socket(), selectors.EVENT_READ, watcher)
        watcher.state = _State.IDLING
        watcher.idling.set()
        self._set_timer(watcher, watcher.reissue * self._rng.uniform(0.9, 1.0))

    def _unregister(self, watcher: IdleWatcher) -> None:
        watcher.idling.clear()
        source = watcher.source
        if source is None:
            return
        with contextlib.suppress(KeyError, ValueError, SourceError):  # gone with its socket
            self._selector.unregister(source.client.socket())

    def _retry(self, watcher: IdleWatcher, exc: BaseException) -> None:
        """After a failed or lost session (loop thread): a reconnect timer, with backoff."""
        if watcher.stopping.is_set():
            self._finish(watcher)
            return
        connected_at = watcher.connected_at
        if connected_at is not None and time.monotonic() - connected_at > STABLE_AFTER:
            watcher.backoff.reset()
        watcher.connected_at = None
        delay = watcher.backoff.next_delay()
        with job_logging(watcher.job.name):
            log.warning(
                "job %s: no IDLE session (%s); reconnecting in %.1f s, the schedule runs meanwhile",
                watcher.job.name,
                exc,
                delay,
            )
        watcher.state = _State.WAITING
        self._set_timer(watcher, delay)
        _say_ready(watcher)  # the job's pass reports the problem meanwhile

    # ---- the connect threads ---------------------------------------------------

    def _connector(self) -> None:
        while (item := self._work.get()) is not None:
            watcher, work = item
            try:
                work()
            except Exception as exc:  # a bug: this session starts again, the others go on
                log.exception("job %s: IDLE: unexpected error", watcher.job.name)
                self._lost(watcher, exc, close=True)

    def _wait_for_slot(self) -> None:
        """At most CONNECT_RATE new sessions a second, with jitter, across the hub."""
        with self._slot_lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._spacing * self._rng.uniform(0.5, 1.5)
        time.sleep(max(0.0, slot - now))

    def _connect(self, watcher: IdleWatcher) -> None:
        job = watcher.job
        with job_logging(job.name):
            self._wait_for_slot()
            if watcher.stopping.is_set():
                self._post(lambda: self._finish(watcher))
                return
            try:
                source = ImapSource(job, resolve_password(job), watcher.tokens)
            except _LOST as exc:
                self._post(functools.partial(self._retry, watcher, exc))
                return
            watcher.source = source
            watcher.connected_at = time.monotonic()
            try:
                client = source.client
                if not client.has_capability("IDLE"):
                    log.warning(
                        "job %s: the server does not offer IMAP IDLE; new mail waits for"
                        " the schedule",
                        job.name,
                    )
                    self._logout(watcher, idling=False)
                    self._post(lambda: self._finish(watcher))
                    _say_ready(watcher)
                    return
                _keepalive(client.socket())
                if watcher.connected_before:
                    watcher.wake()  # mail that came while we were away was not announced
                watcher.connected_before = True
                client.idle()
                log.info("job %s: waiting for new mail in %r (IMAP IDLE)", job.name, source.folder)
                _say_ready(watcher)
            except _LOST as exc:
                self._lost(watcher, exc, close=True)
                return
        self._post(lambda: self._idling(watcher))

    def _renew(self, watcher: IdleWatcher) -> None:
        """DONE, pass on what it reported, IDLE again; a dead connection is reconnected."""
        source = watcher.source
        assert source is not None
        try:
            _text, responses = source.client.idle_done()
            if announces_new_mail(responses):
                watcher.wake()
            if watcher.stopping.is_set():
                self._logout(watcher, idling=False)
                self._post(lambda: self._finish(watcher))
                return
            source.client.idle()
        except _LOST as exc:
            self._lost(watcher, exc, close=True)
            return
        self._post(lambda: self._idling(watcher))

    def _lost(self, watcher: IdleWatcher, exc: BaseException, *, close: bool) -> None:
        if close:
            self._logout(watcher, idling=False, quietly=True)
        self._post(functools.partial(self._retry, watcher, exc))

    def _close(self, watcher: IdleWatcher) -> None:
        self._logout(watcher, idling=True)
        self._post(lambda: self._finish(watcher))

    @staticmethod
    def _logout(watcher: IdleWatcher, *, idling: bool, quietly: bool = False) -> None:
        source, watcher.source = watcher.source, None
        if source is None:
            return
        if quietly:  # a dead connection: no LOGOUT to wait a read timeout for
            try:
                source.client.shutdown()
            except Exception as exc:
                log.debug("job %s: closing a lost session: %s", watcher.job.name, exc)
        elif idling:
            try:
                source.client.idle_done()
            except _LOST as exc:  # closing anyway
                log.debug("job %s: ending IDLE: %s", watcher.job.name, exc)
        source.close()
