"""Schema migrations with Alembic, driven from code.

The scripts live inside the package (store/migrations) and the Alembic
configuration is built here, so this works from an installed wheel in any
working directory; there is no alembic.ini.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection

from deskmail.store.engine import SchemaVersionError, create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration; migrations/env.py runs on `connection`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # only if the versions folder is missing from the install
        raise RuntimeError(f"no Alembic revisions found in {MIGRATIONS_DIR}")
    return head


def revision_of(connection: Connection) -> str | None:
    """The Alembic revision the database is at; None for an empty database."""
    return MigrationContext.configure(connection).get_current_revision()


def current_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return revision_of(connection)
    finally:
        engine.dispose()


def _is_known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def check_revision(current: str | None) -> None:
    """Raise SchemaVersionError unless `current` is this deskmail's head revision."""
    head = head_revision()
    if current == head:
        return
    if current is not None and not _is_known(current):
        raise SchemaVersionError(
            f"database at revision {current}, which this deskmail does not know "
            f"(it needs {head}): was it upgraded by a newer deskmail?"
        )
    raise SchemaVersionError(
        f"database at revision {current or 'none (empty)'}, this deskmail needs {head}: "
        "run `deskmail db upgrade`"
    )


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision` (idempotent; safe to run concurrently)."""
    # Foreign keys off: SQLite batch migrations rebuild tables (copy, drop, rename).
    engine = create_engine(url, foreign_keys=False)
    try:
        with engine.connect() as connection:
            command.upgrade(alembic_config(connection), revision)
            if engine.dialect.name == "sqlite":
                # ...so check afterwards that the rebuilt tables still hold together.
                problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                connection.rollback()
                if problems:
                    raise RuntimeError(f"foreign key violations after migration: {problems}")
    finally:
        engine.dispose()


__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "check_revision",
    "current_revision",
    "head_revision",
    "revision_of",
    "upgrade",
]
