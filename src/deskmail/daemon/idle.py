"""IMAP IDLE (RFC 2177): the server tells us about new mail, so a job need not wait to poll.

One extra connection per job selects the job's folder and IDLEs; an EXISTS
or RECENT response wakes the job's worker, which does the actual work in
its own session. The watcher never changes the mailbox.

- IDLE is re-issued every IDLE_REISSUE seconds, far inside the 29 minutes
  after which RFC 2177 lets a server drop an idle client, and inside the
  timeouts of NAT boxes and firewalls that drop quiet connections.
- The socket keeps the job's read timeout for commands and gets TCP
  keepalive, so a half-open connection is noticed within minutes.
- A dropped connection is re-opened with backoff and jitter; meanwhile the
  job's schedule still runs, and after reconnecting the worker is woken
  once, since mail may have arrived unannounced.
- A server without IDLE: one log line, and the schedule alone drives the job.
"""

from __future__ import annotations

import imaplib
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from imapclient import IMAPClient

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
CHECK_EVERY = 1.0  # how often the watcher looks at its stop flag while idling
RECONNECT_BASE = 1.0
RECONNECT_CAP = 300.0
# A session that lasted this long was a working one: the next loss starts the
# backoff afresh. (Resetting at every connect would let a server that drops
# each session at once be reconnected to, and the job woken, every second.)
STABLE_AFTER = 60.0
_KEEPALIVE = (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 15), ("TCP_KEEPCNT", 4))


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


class IdleWatcher:
    """A thread holding one IDLE session for one IMAP job; `wake` is called on new mail."""

    def __init__(
        self,
        job: JobConfig,
        wake: Callable[[], None],
        *,
        reissue: float = IDLE_REISSUE,
        reconnect_base: float = RECONNECT_BASE,
        tokens: BearerTokens | None = None,
    ) -> None:
        self._job = job
        self._tokens = tokens  # an OAuth2 job's access tokens (XOAUTH2)
        self._wake = wake
        self._reissue = reissue
        self._backoff = Backoff(reconnect_base, RECONNECT_CAP)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"idle {job.name}", daemon=True)
        self.idling = threading.Event()  # set while an IDLE is running, for tests and logs

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the watcher to end IDLE and log out; returns at once (see join)."""
        self._stopping.set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # ---- the thread ---------------------------------------------------------

    def _main(self) -> None:
        with job_logging(self._job.name):
            try:
                self._loop()
            except Exception:  # a bug: the job goes on, on its schedule
                log.exception(
                    "job %s: IDLE watcher stopped; new mail waits for the schedule", self._job.name
                )

    def _loop(self) -> None:
        connected_before = False
        while not self._stopping.is_set():
            connected_at: float | None = None
            try:
                with ImapSource(self._job, resolve_password(self._job), self._tokens) as source:
                    connected_at = time.monotonic()
                    client = source.client
                    if not client.has_capability("IDLE"):
                        log.warning(
                            "job %s: the server does not offer IMAP IDLE; new mail waits for"
                            " the schedule",
                            self._job.name,
                        )
                        return
                    _keepalive(client.socket())
                    if connected_before:
                        self._wake()  # mail that came while we were away was not announced
                    connected_before = True
                    self._idle(client, source.folder)
            except (SourceError, ConfigError, imaplib.IMAP4.error, OSError) as exc:
                self.idling.clear()
                if self._stopping.is_set():
                    return
                if connected_at is not None and time.monotonic() - connected_at > STABLE_AFTER:
                    self._backoff.reset()
                delay = self._backoff.next_delay()
                log.warning(
                    "job %s: no IDLE session (%s); reconnecting in %.1f s,"
                    " the schedule runs meanwhile",
                    self._job.name,
                    exc,
                    delay,
                )
                self._stopping.wait(delay)

    def _idle(self, client: IMAPClient, folder: str) -> None:
        """IDLE until asked to stop; raises when the connection fails."""
        log.info("job %s: waiting for new mail in %r (IMAP IDLE)", self._job.name, folder)
        while not self._stopping.is_set():
            client.idle()
            self.idling.set()
            try:
                self._wait(client)
            finally:
                self.idling.clear()
            # DONE ends this IDLE; on a dead connection it raises, which reconnects.
            _text, responses = client.idle_done()
            if announces_new_mail(responses):
                self._wake()

    def _wait(self, client: IMAPClient) -> None:
        """Pass on new-mail announcements until it is time to re-issue IDLE or to stop."""
        deadline = time.monotonic() + self._reissue
        while not self._stopping.is_set() and time.monotonic() < deadline:
            began = time.monotonic()
            responses = client.idle_check(timeout=CHECK_EVERY)
            if announces_new_mail(responses):
                self._wake()
            elif not responses and time.monotonic() - began < CHECK_EVERY / 2:
                # Readable yet nothing to read: imapclient hides an end of file
                # this way. Sending DONE tells a dead connection from a live one.
                return
