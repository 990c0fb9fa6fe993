"""updated_at on the rows the API lists without one, for its updated_since filter:
sites, groups, teams, people, API tokens and webhook endpoints.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Table -> the column existing rows take their updated_at from (None: the upgrade's time).
TABLES: dict[str, str | None] = {
    "site": None,
    "group": None,
    "team": None,
    "person": None,
    "api_token": "created_at",
    "webhook_endpoint": "created_at",
}


def upgrade() -> None:
    now = datetime.now(UTC)
    for table, source in TABLES.items():
        with op.batch_alter_table(table) as batch:
            # models.UTCDateTime: stored as DateTime(timezone=True).
            batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        rows = sa.table(
            table,
            sa.column("updated_at", sa.DateTime(timezone=True)),
            *([sa.column(source, sa.DateTime(timezone=True))] if source else []),
        )
        value = rows.c[source] if source else sa.literal(now, sa.DateTime(timezone=True))
        op.execute(rows.update().values(updated_at=value))
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "updated_at", existing_type=sa.DateTime(timezone=True), nullable=False
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("updated_at")
