"""Where change-reading sources (Graph delta, EWS SyncFolderItems) keep their place.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "source_state",
        sa.Column("job", sa.String(200), primary_key=True),
        sa.Column("scope", sa.String(500), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        # models.UTCDateTime: stored as DateTime(timezone=True).
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("source_state")
