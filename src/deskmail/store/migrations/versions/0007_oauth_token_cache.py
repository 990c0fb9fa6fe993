"""OAuth2 token caches, one per job, encrypted with the deskmail secret key.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oauth_token_cache",
        sa.Column("job", sa.String(200), primary_key=True),
        sa.Column("sealed", sa.Text(), nullable=False),
        # models.UTCDateTime: stored as DateTime(timezone=True).
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("oauth_token_cache")
