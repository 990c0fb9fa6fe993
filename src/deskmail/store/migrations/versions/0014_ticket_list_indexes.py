"""Indexes for the tickets and events lists of the web UI and the API.

Both lists are read a page at a time in the order (updated_at, id), the screens
newest first, the API oldest first: with this index a page is an index range
scan of 51 rows instead of a sort of every ticket. The events list adds the
kind in front, events being few among many incidents. Subject search gets its
trigram index (store/subject_search.py): an FTS5 table on SQLite, pg_trgm's GIN
index on PostgreSQL.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from deskmail.store import subject_search

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_ticket_updated", "ticket", ["updated_at", "id"])
    op.create_index("ix_ticket_kind_updated", "ticket", ["kind", "updated_at", "id"])
    if op.get_context().dialect.name == "postgresql":
        op.execute(subject_search.POSTGRESQL_EXTENSION)
        op.execute(subject_search.POSTGRESQL_CREATE)
    else:
        for statement in subject_search.SQLITE_CREATE:
            op.execute(statement)
        op.execute(subject_search.SQLITE_REBUILD)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {subject_search.POSTGRESQL_INDEX}")
    else:
        for statement in subject_search.SQLITE_DROP:
            op.execute(statement)
    op.drop_index("ix_ticket_kind_updated", table_name="ticket")
    op.drop_index("ix_ticket_updated", table_name="ticket")
