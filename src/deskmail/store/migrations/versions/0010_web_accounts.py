"""Web UI and API: users, sessions, tokens, failed logins, scheduler heartbeats, job switches,
the front ends' shared secret.

Revision ID: 0010
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# models.UTCDateTime is stored as DateTime(timezone=True); roles as plain strings.
_WHEN = sa.DateTime(timezone=True)
_ROLE = sa.String(length=20)  # models._enum: a non-native Enum, a VARCHAR(20) without CHECK


def upgrade() -> None:
    op.create_table(
        "web_user",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", _ROLE, nullable=False),
        sa.Column("password_hash", sa.String(300), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_web_user"),
        sa.UniqueConstraint("name", name="uq_web_user_name"),
    )
    op.create_table(
        "web_session",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("last_seen_at", _WHEN, nullable=False),
        sa.Column("address", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("digest", name="pk_web_session"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["web_user.id"], name="fk_web_session_user_id_web_user", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_web_session_user_id", "web_session", ["user_id"])
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(20), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("role", _ROLE, nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=True),
        sa.Column("last_used_at", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_token"),
        sa.UniqueConstraint("digest", name="uq_api_token_digest"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["web_user.id"], name="fk_api_token_user_id_web_user", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_api_token_user_id", "api_token", ["user_id"])
    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_login_failure"),
    )
    op.create_index("ix_login_failure_name_at", "login_failure", ["name", "at"])
    op.create_index("ix_login_failure_address_at", "login_failure", ["address", "at"])
    op.create_table(
        "scheduler_heartbeat",
        sa.Column("instance", sa.String(300), nullable=False),
        sa.Column("started_at", _WHEN, nullable=False),
        sa.Column("beat_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("instance", name="pk_scheduler_heartbeat"),
    )
    op.create_table(
        "job_switch",
        sa.Column("job", sa.String(200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("changed_by", sa.String(100), nullable=True),
        sa.Column("changed_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("job", name="pk_job_switch"),
    )
    op.create_table(
        "web_secret",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_web_secret"),
    )


def downgrade() -> None:
    op.drop_table("web_secret")
    op.drop_table("job_switch")
    op.drop_table("scheduler_heartbeat")
    op.drop_index("ix_login_failure_address_at", table_name="login_failure")
    op.drop_index("ix_login_failure_name_at", table_name="login_failure")
    op.drop_table("login_failure")
    op.drop_index("ix_api_token_user_id", table_name="api_token")
    op.drop_table("api_token")
    op.drop_index("ix_web_session_user_id", table_name="web_session")
    op.drop_table("web_session")
    op.drop_table("web_user")
