"""Outgoing mail, job health (infrastructure events), error events of quarantined mail.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("intake_record") as batch:
        batch.add_column(sa.Column("event_ticket_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_intake_record_event_ticket_id_ticket",
            "ticket",
            ["event_ticket_id"],
            ["id"],
            ondelete="SET NULL",
        )

    op.create_table(
        "outgoing_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("activity_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=500), nullable=False),
        sa.Column("in_reply_to", sa.String(length=1000), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["ticket.id"],
            name="fk_outgoing_mail_ticket_id_ticket",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activity.id"],
            name="fk_outgoing_mail_activity_id_activity",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_outgoing_mail"),
        sa.UniqueConstraint("message_id", name="uq_outgoing_mail_message_id"),
    )
    op.create_index("ix_outgoing_mail_job", "outgoing_mail", ["job"])
    op.create_index("ix_outgoing_mail_recipient", "outgoing_mail", ["recipient"])

    op.create_table(
        "job_health",
        sa.Column("job", sa.String(length=200), nullable=False),
        sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("step", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("event_ticket_id", sa.Integer(), nullable=True),
        sa.Column("last_reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_ticket_id"],
            ["ticket.id"],
            name="fk_job_health_event_ticket_id_ticket",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("job", name="pk_job_health"),
    )


def downgrade() -> None:
    op.drop_table("job_health")
    op.drop_index("ix_outgoing_mail_recipient", table_name="outgoing_mail")
    op.drop_index("ix_outgoing_mail_job", table_name="outgoing_mail")
    op.drop_table("outgoing_mail")
    with op.batch_alter_table("intake_record") as batch:
        batch.drop_constraint("fk_intake_record_event_ticket_id_ticket", type_="foreignkey")
        batch.drop_column("event_ticket_id")
