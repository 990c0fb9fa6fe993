"""Alembic environment: runs on the connection deskmail.store.migrate hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from deskmail.store.migrate import PG_MIGRATION_LOCK, schema_metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=schema_metadata(),
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Released at commit; a second upgrader then sees the new revision.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK}
            )
        context.run_migrations()


connection = context.config.attributes.get("connection")
if context.is_offline_mode() or connection is None:
    raise RuntimeError("run migrations through deskmail.store.migrate (`deskmail db upgrade`)")
_run(connection)
