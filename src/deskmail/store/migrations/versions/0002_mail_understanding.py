"""Threading, participants, processing-rule fields and sanitised HTML.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("priority", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("category", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("token", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("linked_ticket_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("description_html", sa.Text(), nullable=True))
        batch.create_foreign_key(
            "fk_ticket_linked_ticket_id_ticket",
            "ticket",
            ["linked_ticket_id"],
            ["id"],
            ondelete="SET NULL",
        )
    # Existing tickets get their own token before the column becomes NOT NULL.
    connection = op.get_bind()
    ticket = sa.table("ticket", sa.column("id", sa.Integer()), sa.column("token", sa.String()))
    for (ticket_id,) in connection.execute(sa.select(ticket.c.id)):
        token = base64.b32encode(secrets.token_bytes(5)).decode().lower()
        connection.execute(ticket.update().where(ticket.c.id == ticket_id).values(token=token))
    with op.batch_alter_table("ticket") as batch:
        batch.alter_column("token", existing_type=sa.String(length=16), nullable=False)

    with op.batch_alter_table("activity") as batch:
        batch.add_column(sa.Column("body_html", sa.Text(), nullable=True))

    with op.batch_alter_table("intake_record") as batch:
        batch.add_column(
            sa.Column("auto_reply_due", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("rules", sa.Text(), nullable=True))

    op.create_table(
        "ticket_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("message_id", sa.String(length=1000), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name="fk_ticket_message_ticket_id_ticket",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activity.id"],
            name="fk_ticket_message_activity_id_activity",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_message"),
    )
    op.create_index("ix_ticket_message_ticket_id", "ticket_message", ["ticket_id"])
    op.create_index("ix_ticket_message_message_id", "ticket_message", ["message_id"])

    op.create_table(
        "ticket_participant",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name="fk_ticket_participant_ticket_id_ticket",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_ticket_participant"),
        sa.UniqueConstraint("ticket_id", "address", name="uq_participant_ticket_address"),
    )


def downgrade() -> None:
    op.drop_table("ticket_participant")
    op.drop_index("ix_ticket_message_message_id", table_name="ticket_message")
    op.drop_index("ix_ticket_message_ticket_id", table_name="ticket_message")
    op.drop_table("ticket_message")
    with op.batch_alter_table("intake_record") as batch:
        batch.drop_column("rules")
        batch.drop_column("auto_reply_due")
    with op.batch_alter_table("activity") as batch:
        batch.drop_column("body_html")
    with op.batch_alter_table("ticket") as batch:
        batch.drop_constraint("fk_ticket_linked_ticket_id_ticket", type_="foreignkey")
        batch.drop_column("description_html")
        batch.drop_column("linked_ticket_id")
        batch.drop_column("token")
        batch.drop_column("category")
        batch.drop_column("priority")
