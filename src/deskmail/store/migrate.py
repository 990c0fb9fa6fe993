"""Schema migrations with Alembic, driven from code.

The scripts live inside the package (store/migrations) and the Alembic
configuration is built here, so this works from an installed wheel in any
working directory; there is no alembic.ini.

Alembic (and Mako) are heavy to import, so the everyday paths
do without: the version check reads alembic_version itself, and a brand-new
database is created from the models in one transaction and stamped with
HEAD. Only upgrading an existing database runs Alembic.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, MetaData, inspect, text

from deskmail.config.files import command_line
from deskmail.store.engine import SchemaVersionError, create_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The newest script in migrations/versions (tests/test_store.py checks it).
HEAD = "0018"
# Any constant shared by all deskmail versions: serialises concurrent upgrades on
# PostgreSQL (migrations/env.py takes the same lock).
PG_MIGRATION_LOCK = 0x6465736B6D61696C  # "deskmail"


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration; migrations/env.py runs on `connection`."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision among the scripts (Alembic's view; HEAD must equal it)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # only if the versions folder is missing from the install
        raise RuntimeError(f"no Alembic revisions found in {MIGRATIONS_DIR}")
    return head


def revision_of(connection: Connection) -> str | None:
    """The Alembic revision the database is at; None for an empty database."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    if len(versions) > 1:  # branches: never made by deskmail's linear history
        raise SchemaVersionError(f"database at several revisions at once: {', '.join(versions)}")
    return versions[0] if versions else None


def current_revision(url: str) -> str | None:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return revision_of(connection)
    finally:
        engine.dispose()


def _is_known(revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def check_revision(current: str | None, config_file: Path | None = None) -> None:
    """Raise SchemaVersionError unless `current` is this deskmail's head revision; the
    advice names the configuration file the database was opened for."""
    if current == HEAD:
        return
    head = head_revision()
    if current is not None and not _is_known(current):
        raise SchemaVersionError(
            f"database at revision {current}, which this deskmail does not know "
            f"(it needs {head}): was it upgraded by a newer deskmail?"
        )
    raise SchemaVersionError(
        f"database at revision {current or 'none (empty)'}, this deskmail needs {head}: "
        f"run `{command_line(config_file, 'db', 'upgrade')}`"
    )


def upgrade(url: str, revision: str = "head") -> None:
    """Upgrade the database at `url` to `revision` (idempotent; safe to run concurrently).

    An empty database asked for the head is created in one step (create_fresh).
    """
    if revision in ("head", HEAD) and create_fresh(url):
        return
    from alembic import command

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


def schema_metadata() -> MetaData:
    """Every table of the schema: the models, and the web's accounts beside them, which
    only the web and this module import (a run that takes in mail does not)."""
    from deskmail.store import accounts  # noqa: F401  (its tables join Base.metadata)
    from deskmail.store.models import Base

    return Base.metadata


def create_schema(connection: Connection) -> None:
    """Every table of the head revision, from the models (no alembic_version table)."""
    schema_metadata().create_all(connection)


def create_fresh(url: str) -> bool:
    """Create every table of an empty database and stamp it HEAD; False if it was not empty.

    The same schema the migrations build (tests/test_store.py compares them),
    in one transaction: SQLite's BEGIN IMMEDIATE or PostgreSQL's advisory lock
    makes a second instance starting at the same moment wait, then find it done.
    """
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK}
                )
            if revision_of(connection) is not None:
                return False
            if inspect(connection).get_table_names():
                return False  # tables without a version: let Alembic say what is wrong
            create_schema(connection)
            connection.execute(
                text(
                    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL,"
                    " CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
                )
            )
            connection.execute(
                text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": HEAD}
            )
        return True
    finally:
        engine.dispose()


__all__ = [
    "HEAD",
    "MIGRATIONS_DIR",
    "alembic_config",
    "check_revision",
    "create_fresh",
    "create_schema",
    "current_revision",
    "head_revision",
    "revision_of",
    "upgrade",
]
