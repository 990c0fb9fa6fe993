"""Engine, sessions and transactions for the ticket store (SQLite or PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from deskmail.config.models import DeskmailConfig
from deskmail.store.blobs import BlobStore

DATABASE_URL_ENV = "DESKMAIL_DATABASE_URL"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Values per IN (...) list: under every database's parameter limit (999 in older SQLite).
IN_LIST_CHUNK = 500
# Execution option that marks the connections of Store.session().
_READ_ONLY = "deskmail_read_only"


class SchemaVersionError(RuntimeError):
    """The database schema is not the Alembic revision this deskmail was built for."""


def _normalize_url(url: str) -> URL:
    parsed = make_url(url)
    # psycopg 3 is our PostgreSQL driver; SQLAlchemy 2.0 would pick psycopg2 for "postgresql://".
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite database URL; None for another database, memory or a URI."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):  # URI filenames: leave them to SQLite
        return None
    return Path(database)


def create_engine(url: str, *, foreign_keys: bool = True) -> Engine:
    """An engine with deskmail's connection settings; shared by Store and migrations.

    hide_parameters: an error's text then never carries a statement's values
    (a mail's body, its addresses), wherever it is logged or kept.

    `foreign_keys=False` is only for migrations: SQLite's batch mode copies
    and drops tables, which enforced foreign keys would refuse or cascade.
    """
    parsed = _normalize_url(url)
    if parsed.get_backend_name() != "sqlite":
        # Explicit so a changed server default cannot silently alter our locking assumptions.
        return sa.create_engine(
            parsed, isolation_level="READ COMMITTED", pool_pre_ping=True, hide_parameters=True
        )

    database_file = sqlite_file(parsed)
    if database_file is not None:
        database_file.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy's pysqlite recipe: stop the driver from emitting its own
        # (deferred, and skipped before SELECT) BEGIN; _on_begin emits ours.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            # FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on
            # power loss, and the intake journal must be durable before we
            # delete the mail from the server.
            cursor.execute("PRAGMA synchronous = FULL")
            cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.get_execution_options().get(_READ_ONLY, False):
            # Deferred: readers never wait for the write lock; query_only makes writes fail.
            connection.exec_driver_sql("PRAGMA query_only = ON")
            connection.exec_driver_sql("BEGIN")
        else:
            # IMMEDIATE takes the write lock up front. A deferred transaction
            # that reads and then writes can lose updates or fail with
            # SQLITE_BUSY that busy_timeout cannot wait out.
            connection.exec_driver_sql("PRAGMA query_only = OFF")
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Store:
    """The database plus the attachment blob store.

    Write with `with store.transaction() as session: ...`; read with
    `with store.session() as session: ...`. Objects stay readable after the
    block (expire_on_commit=False), e.g. a new ticket's id.
    """

    def __init__(self, url: str, attachments_dir: Path, config_file: Path | None = None) -> None:
        self.url = url  # as given, password included: for migrate.upgrade(store.url) etc.
        self.config_file = config_file  # the configuration it was opened for, for advice
        self.engine: Engine = create_engine(url)
        self.blobs = BlobStore(attachments_dir)
        self._writer = sessionmaker(self.engine, expire_on_commit=False)
        read_only_engine = self.engine.execution_options(
            **{_READ_ONLY: True},
            **({"postgresql_readonly": True} if self.is_postgresql else {}),
        )
        self._reader = sessionmaker(read_only_engine, expire_on_commit=False)

    @property
    def display_url(self) -> str:
        """The URL with any password masked, for messages and logs."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one write transaction: committed on success, rolled back on error.

        SQLite: BEGIN IMMEDIATE (one writer at a time, waiting up to the busy
        timeout). PostgreSQL: READ COMMITTED, so use row locks or atomic
        UPDATE ... RETURNING for read-modify-write.
        """
        with self._writer.begin() as session:
            yield session

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read-only session; writes through it fail, and it is rolled back at the end."""
        with self._reader() as session:
            yield session

    def require_current_schema(self) -> None:
        """Raise SchemaVersionError unless the database is at this deskmail's Alembic head.

        Call it before writing (intake, daemon start); not done on every open
        so `deskmail db upgrade` and read-only tools can open an old database.
        """
        # Imported here: migrate imports this module for create_engine.
        from deskmail.store import migrate

        with self.session() as session:  # read-only: no SQLite write lock for a check
            current = migrate.revision_of(session.connection())
        migrate.check_revision(current, self.config_file)

    def dispose(self) -> None:
        self.engine.dispose()
        self.blobs.close()


def resolve_database_url(config: DeskmailConfig) -> str:
    """config.database.url, unless the DESKMAIL_DATABASE_URL environment variable is set."""
    return os.environ.get(DATABASE_URL_ENV) or config.database.url


def database_missing(config: DeskmailConfig) -> bool:
    """True when the configured SQLite file does not exist yet (a server database is assumed)."""
    database = sqlite_file(_normalize_url(resolve_database_url(config)))
    return database is not None and not database.exists()


def open_store(config: DeskmailConfig) -> Store:
    """Open the store of a loaded configuration.

    The database URL is config.database.url, overridden by the environment
    variable DESKMAIL_DATABASE_URL when set (keeps a password out of the
    config file). Relative paths must already be resolved by the loader.
    The schema version is not checked here: call Store.require_current_schema().
    """
    return Store(resolve_database_url(config), config.storage.attachments_dir, config.source_file)


__all__ = [
    "DATABASE_URL_ENV",
    "IN_LIST_CHUNK",
    "SchemaVersionError",
    "Store",
    "create_engine",
    "database_missing",
    "open_store",
    "resolve_database_url",
    "sqlite_file",
]
