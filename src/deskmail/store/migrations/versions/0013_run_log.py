"""Runs: the step a failed run stopped at, and the run's log lines; quarantine attempts.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# models.UTCDateTime: stored as DateTime(timezone=True).
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("step", sa.String(length=40), nullable=True))
    with op.batch_alter_table("intake_record") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"))
    op.create_table(
        "run_log_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("logged_at", _WHEN, nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("logger", sa.String(length=200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["run.id"], name="fk_run_log_line_run_id_run", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_run_log_line"),
    )
    op.create_index("ix_run_log_line_run", "run_log_line", ["run_id", "id"])


def downgrade() -> None:
    op.drop_table("run_log_line")
    with op.batch_alter_table("intake_record") as batch:
        batch.drop_column("attempts")
    with op.batch_alter_table("run") as batch:
        batch.drop_column("step")
