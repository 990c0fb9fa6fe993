"""Indexes for the per-message lookups of intake: the flood limit's sender query.

recent_ticket_for_sender (outbound/flood.py) finds a sender's tickets by
lower(sender_address) and their journal rows by ticket_id; without these
indexes every new ticket scanned the journal rows of the last hour.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_ticket_sender_lower", "ticket", [sa.text("lower(sender_address)")])
    op.create_index("ix_intake_ticket", "intake_record", ["ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_intake_ticket", table_name="intake_record")
    op.drop_index("ix_ticket_sender_lower", table_name="ticket")
