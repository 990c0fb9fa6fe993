"""The scheduler's heartbeat: a row per running daemon, renewed on every tick.

/readyz reads it: a daemon whose main loop stopped turning (or whose database
went away) stops beating, and the front ends say so.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import UTC, datetime

from sqlalchemy import delete

from deskmail.store.daemon_state import SchedulerHeartbeat
from deskmail.store.engine import Store
from deskmail.store.errors import describe_error

log = logging.getLogger("deskmail.daemon")


class Heartbeat:
    def __init__(self, store: Store) -> None:
        self._store = store
        self.instance = f"{socket.gethostname()}:{os.getpid()}"
        self._failing = False

    def beat(self) -> None:
        now = datetime.now(UTC)
        try:
            with self._store.transaction() as session:
                row = session.get(SchedulerHeartbeat, self.instance)
                if row is None:
                    session.add(
                        SchedulerHeartbeat(instance=self.instance, started_at=now, beat_at=now)
                    )
                else:
                    row.beat_at = now
        except Exception as exc:  # the database is out of reach: said once, not every tick
            if not self._failing:
                log.warning("scheduler heartbeat not recorded: %s", describe_error(exc))
            self._failing = True
            return
        self._failing = False

    def forget(self) -> None:
        try:
            with self._store.transaction() as session:
                session.execute(
                    delete(SchedulerHeartbeat).where(SchedulerHeartbeat.instance == self.instance)
                )
        except Exception as exc:
            log.warning("scheduler heartbeat not removed: %s", describe_error(exc))
