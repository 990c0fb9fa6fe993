"""Database fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is expected on 127.0.0.1:5432 with trust auth; each test gets a
fresh database that is dropped afterwards. Where it is unreachable the
PostgreSQL half is skipped, or fails under CI=true so CI cannot go quietly
green. DESKMAIL_TEST_DATABASES=sqlite (a comma list) restricts the runs.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import TupleRow

from deskmail.store.engine import Store
from deskmail.store.migrate import upgrade

POSTGRES_SERVER = "postgres@127.0.0.1:5432"
ALL_DATABASES = ("sqlite", "postgresql")

# A trigger that makes the store refuse a ticket with this subject, by dialect: a
# transaction that fails in the database, as a real one can.
REFUSE_TICKET = {
    "sqlite": [
        "CREATE TRIGGER refuse_ticket BEFORE INSERT ON ticket"
        " WHEN NEW.subject = 'Refused by a trigger'"
        " BEGIN SELECT RAISE(ABORT, 'trigger says no'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_ticket() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN IF NEW.subject = 'Refused by a trigger' THEN"
        " RAISE EXCEPTION 'trigger says no'; END IF; RETURN NEW; END $$",
        "CREATE TRIGGER refuse_ticket BEFORE INSERT ON ticket"
        " FOR EACH ROW EXECUTE FUNCTION refuse_ticket()",
    ],
}


def _selected_databases() -> list[str]:
    wanted = os.environ.get("DESKMAIL_TEST_DATABASES", "")
    chosen = [name.strip() for name in wanted.split(",") if name.strip()] or list(ALL_DATABASES)
    unknown = set(chosen) - set(ALL_DATABASES)
    if unknown:
        raise pytest.UsageError(
            f"DESKMAIL_TEST_DATABASES: unknown {sorted(unknown)}; use {', '.join(ALL_DATABASES)}"
        )
    return chosen


def _maintenance_connection() -> psycopg.Connection[TupleRow]:
    try:
        return psycopg.connect(
            f"postgresql://{POSTGRES_SERVER}/postgres", autocommit=True, connect_timeout=5
        )
    except psycopg.OperationalError as error:
        message = f"PostgreSQL at {POSTGRES_SERVER} is unreachable: {error}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped after the test."""
    name = f"deskmail_test_{secrets.token_hex(6)}"
    with _maintenance_connection() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield f"postgresql+psycopg://{POSTGRES_SERVER}/{name}"
    finally:
        with _maintenance_connection() as admin:
            # A leaked connection (a test's un-disposed engine) would block the DROP.
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.fixture(params=_selected_databases())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file in tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'deskmail.db'}"
    url: str = request.getfixturevalue("postgresql_url")
    return url


@pytest.fixture
def store(database_url: str, tmp_path: Path) -> Iterator[Store]:
    """A Store on a database upgraded to the latest schema."""
    upgrade(database_url)
    opened = Store(database_url, tmp_path / "attachments")
    try:
        yield opened
    finally:
        opened.dispose()
