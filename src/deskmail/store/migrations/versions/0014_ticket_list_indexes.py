"""Indexes for the tickets and events lists of the web UI and the API.

Both lists are read a page at a time in the order (updated_at, id), the screens
newest first, the API oldest first: with this index a page is an index range
scan of 51 rows instead of a sort of every ticket. The events list adds the
kind in front, events being few among many incidents.

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_ticket_updated", "ticket", ["updated_at", "id"])
    op.create_index("ix_ticket_kind_updated", "ticket", ["kind", "updated_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_ticket_kind_updated", table_name="ticket")
    op.drop_index("ix_ticket_updated", table_name="ticket")
