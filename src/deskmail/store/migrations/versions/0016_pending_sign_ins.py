"""Web sign-ins under way, kept in the database so any front end can finish them.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pending_sign_in",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("job", sa.String(200), nullable=False),
        sa.Column("started_by", sa.String(200), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        # models.UTCDateTime: stored as DateTime(timezone=True).
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_pending_sign_in_expires_at", "pending_sign_in", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_pending_sign_in_expires_at", table_name="pending_sign_in")
    op.drop_table("pending_sign_in")
