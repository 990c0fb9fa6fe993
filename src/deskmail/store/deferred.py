"""Rows of append-only tables, inserted with one executemany per table.

The ORM's unit of work costs a fraction of a millisecond per new object, and
a mail makes four to six rows that intake only appends and never reads back
as objects: its journal row, a ticket's Message-IDs, participants and
attachments. Handed here as plain values instead, a 1,000-mail run took 4%
less time on SQLite and 9% less on PostgreSQL (bench/ingest.py).

In a transaction that defers (`defer_rows`, a batch of intake), they wait and
go to the database together: before any ORM statement of the session runs
(after flushing the ORM's own pending rows, which they refer to) and before
the commit. So every query in the transaction sees them, as it sees pending
ORM objects through autoflush; under `no_autoflush` neither is written. In
any other transaction they are inserted at once.

New tickets are deferred too, as parents: rows that the ORM's pending objects
(an automatic mail, a note) may refer to, so they are written before any
flush of the ORM, and the other rows after it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import MetaData, Table, event
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.sql.dml import Insert

_PENDING = "deskmail_deferred_rows"  # session.info: _Pending
# A statement: its table, column names and the unique columns to skip conflicts on.
_Key = tuple[Table, tuple[str, ...], tuple[str, ...]]
_Rows = dict[_Key, list[dict[str, Any]]]


@dataclass
class _Pending:
    parents: _Rows = field(default_factory=dict)  # written before the ORM flushes
    children: _Rows = field(default_factory=dict)  # written after


def defer_rows(session: Session) -> None:
    """From now on, insert() of this session waits for the next query or the commit.

    A query inside a savepoint does not write them: the savepoint's rollback
    would take them along. (apply/context.py insert_once, the one savepoint in a
    batch, looks its row up first: that query writes them before it.)
    """
    session.info[_PENDING] = _Pending()
    event.listen(session, "do_orm_execute", _before_query)
    event.listen(session, "before_flush", _before_flush)
    event.listen(session, "before_commit", write_pending)


def insert(
    session: Session,
    table: Table,
    row: dict[str, Any],
    *,
    unless_exists: tuple[str, ...] = (),
    parent: bool = False,
) -> None:
    """Insert `row` into `table` in this transaction (now, or deferred: see above).

    `unless_exists`: the columns of a unique key; a row that would repeat one is
    skipped (ON CONFLICT DO NOTHING), also one another instance just wrote.
    `parent`: ORM objects may refer to it (a ticket); it refers only to rows
    already in the database.
    """
    pending: _Pending | None = session.info.get(_PENDING)
    if pending is None:
        if not parent:
            session.flush()  # the ORM rows it refers to
        session.connection().execute(_statement(session, table, unless_exists), row)
        return
    rows = pending.parents if parent else pending.children
    # One statement per set of columns: executemany compiles the first row's.
    rows.setdefault((table, tuple(row), unless_exists), []).append(row)


def write_pending(session: Session) -> None:
    """Write the deferred rows now: parents, the ORM's pending rows, the other rows."""
    pending: _Pending | None = session.info.get(_PENDING)
    if pending is None:
        return
    _write_parents(session, pending)
    session.flush()
    children, pending.children = pending.children, {}
    _write(session, children)


def _write_parents(session: Session, pending: _Pending) -> None:
    parents, pending.parents = pending.parents, {}
    _write(session, parents)


def _write(session: Session, rows: _Rows) -> None:
    if not rows:
        return
    connection = session.connection()
    # Tables in the order of their foreign keys: an activity before the journal rows
    # that name it, whichever was deferred first.
    for key in sorted(rows, key=lambda key: _dependency_order(key[0])):
        table, _columns, unless_exists = key
        connection.execute(_statement(session, table, unless_exists), rows[key])


def _dependency_order(table: Table) -> int:
    return _orders(table.metadata, len(table.metadata.tables))[table]


@functools.cache
def _orders(metadata: MetaData, _tables: int) -> dict[Table, int]:
    # Per number of tables: the web's accounts join the metadata only when a process
    # imports them (migrate.schema_metadata), and places taken before and after that
    # must not be compared.
    return {table: place for place, table in enumerate(metadata.sorted_tables)}


def _before_flush(session: Session, _flush: UOWTransaction, _instances: object) -> None:
    # The ORM's rows may refer to the parents: these go first.
    pending: _Pending | None = session.info.get(_PENDING)
    if pending is not None and pending.parents:
        if session.in_nested_transaction():  # a rollback to the savepoint would lose them
            raise RuntimeError("deferred parent rows pending at a flush inside a savepoint")
        _write_parents(session, pending)


def _statement(session: Session, table: Table, unless_exists: tuple[str, ...]) -> Insert:
    if not unless_exists:
        return table.insert()
    # The dialects' own insert() has ON CONFLICT; imported on use (SQLite runs
    # would otherwise load the PostgreSQL dialect at start-up).
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing(index_elements=unless_exists)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table).on_conflict_do_nothing(index_elements=unless_exists)


# Execution options of a query that must not write what waits: its caller has looked
# at the waiting rows itself (pending()) and found none that could change the answer.
WITHOUT_WRITING: dict[str, Any] = {"autoflush": False}


def pending(session: Session, table: Table) -> Iterator[dict[str, Any]]:
    """The rows of `table` waiting in this transaction (none outside a batch)."""
    waiting: _Pending | None = session.info.get(_PENDING)
    if waiting is None:
        return
    for rows in (waiting.parents, waiting.children):
        for key, values in rows.items():
            if key[0] is table:
                yield from values


def ensure_ids(session: Session, *rows: object) -> None:
    """Flush if any of these ORM rows (tickets, activities) has no id yet: a row refers to it."""
    if any(row is not None and getattr(row, "id", None) is None for row in rows):
        session.flush()


def _before_query(state: ORMExecuteState) -> None:
    # SQLAlchemy autoflushes after this hook; rows are written only where it would flush.
    session = state.session
    if (
        session.autoflush
        and state.execution_options.get("autoflush", True)
        and not session.in_nested_transaction()
    ):
        write_pending(session)
