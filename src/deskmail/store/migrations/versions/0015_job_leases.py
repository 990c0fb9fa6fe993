"""Instances of `deskmail serve` that share the jobs, the jobs' leases, and their history.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# models.UTCDateTime is stored as DateTime(timezone=True).
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "daemon_instance",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", _WHEN, nullable=False),
        sa.Column("heartbeat_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_daemon_instance"),
    )
    op.create_table(
        "job_lease",
        sa.Column("job", sa.String(200), nullable=False),
        sa.Column("holder", sa.String(100), nullable=True),
        sa.Column("taken_at", _WHEN, nullable=True),
        sa.Column("renewed_at", _WHEN, nullable=True),
        sa.Column("expires_at", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("job", name="pk_job_lease"),
    )
    op.create_table(
        "lease_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(200), nullable=False),
        sa.Column("holder", sa.String(100), nullable=False),
        sa.Column("held_from", _WHEN, nullable=False),
        sa.Column("held_until", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_lease_history"),
    )
    op.create_index("ix_lease_history_job", "lease_history", ["job", "held_from"])


def downgrade() -> None:
    op.drop_index("ix_lease_history_job", table_name="lease_history")
    op.drop_table("lease_history")
    op.drop_table("job_lease")
    op.drop_table("daemon_instance")
