"""The daemon's webhook worker: posts what the outbox holds, seconds after each commit.

A thread of its own, so a slow receiver never holds up a job. It looks at the
outbox every POLL seconds with one small query; httpx and cryptography are
imported only once something is due, so a daemon without webhooks never loads
them. Several instances on one database each run one: the claims in
webhooks/delivery.py keep them from posting the same attempt twice.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from deskmail.config.models import DeskmailConfig
from deskmail.store.engine import Store
from deskmail.store.errors import describe_error
from deskmail.store.models import utcnow
from deskmail.webhooks.outbox import anything_due

if TYPE_CHECKING:
    from deskmail.webhooks.delivery import Deliverer

log = logging.getLogger("deskmail.daemon.webhooks")

POLL = 2.0  # seconds between looks at the outbox


class WebhookWorker:
    def __init__(self, store: Store, config: DeskmailConfig, poll: float = POLL) -> None:
        self._store = store
        self._config = config  # the one at start: where a disabled endpoint is reported
        self._poll = poll
        self._stopping = threading.Event()
        self._deliverer: Deliverer | None = None
        self._thread = threading.Thread(target=self._loop, name="webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _loop(self) -> None:
        try:
            while not self._stopping.is_set():
                try:
                    with self._store.session() as session:
                        due = anything_due(session, utcnow())
                    if due:
                        self._deliver()
                except Exception as exc:  # the database went away, a bad key...: try again
                    log.error("webhooks: %s", describe_error(exc))
                    log.debug("webhooks: the traceback", exc_info=exc)
                self._stopping.wait(self._poll)
        finally:
            if self._deliverer is not None:
                self._deliverer.close()

    def _deliver(self) -> None:
        if self._deliverer is None:
            from deskmail.webhooks.delivery import deliverer_for

            self._deliverer = deliverer_for(self._store, self._config)
        report = self._deliverer.deliver_due(should_stop=self._stopping.is_set)
        if report.attempts:
            log.info("webhooks: %d delivered, %d failed", report.delivered, report.failed)
