"""The store's side of sources.base.SyncState: a job's places in its mailbox, one row each."""

from __future__ import annotations

from sqlalchemy import select

from deskmail.store.engine import Store
from deskmail.store.models import SourceState, utcnow


class StoredSyncState:
    """Reads and writes the source_state rows of one job, each save its own transaction.

    A save comes after the commits of the mail it covers (Source.checkpoint),
    so it needs no share in their transactions.
    """

    def __init__(self, store: Store, job: str) -> None:
        self._store = store
        self._job = job

    def load(self, scope: str) -> str | None:
        with self._store.session() as session:
            return session.scalar(
                select(SourceState.value).where(
                    SourceState.job == self._job, SourceState.scope == scope
                )
            )

    def save(self, scope: str, value: str) -> None:
        with self._store.transaction() as session:
            row = session.get(SourceState, (self._job, scope))
            if row is None:
                session.add(SourceState(job=self._job, scope=scope, value=value))
            else:
                row.value = value
                row.updated_at = utcnow()
