"""Row ids handed out before the INSERT, in intake's batches.

A new ticket or activity with its id known up front can wait as a plain row
(store/deferred.py) and go to the database with the batch's other rows, in
one multi-row INSERT per table, instead of a flush per mail for its id; the
rows that refer to it (Message-IDs, participants, attachments, journal) wait
with it. SQLite: max(id) + 1 and on, safe under the write lock held since
BEGIN IMMEDIATE, provided every row of the table in that transaction takes
its id here; PostgreSQL: the id sequence, a block at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.orm import Session

_IDS = "deskmail_ids_up_front"  # session.info: table name -> _Ids
TABLES = ("ticket", "activity")  # the names are put into SQL: only these
_BLOCK = 64  # PostgreSQL: sequence values fetched per round trip (unused ones leave gaps)
_PG_IDS = text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)")


@dataclass
class _Ids:
    free: list[int] = field(default_factory=list)  # PostgreSQL: fetched, not yet used
    last: int | None = None  # SQLite: the last id handed out


def assign_ids_up_front(session: Session) -> None:
    """From now on, next_id() of this session hands out ids (a batch of intake)."""
    session.info[_IDS] = {table: _Ids() for table in TABLES}


def next_id(session: Session, table: str) -> int | None:
    """The id of the next row of `table`; None outside a batch (the INSERT gives it)."""
    tables: dict[str, _Ids] | None = session.info.get(_IDS)
    if tables is None:
        return None
    ids = tables[table]
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        if not ids.free:
            drawn = connection.execute(_PG_IDS, {"table": table, "n": _BLOCK}).scalars()
            ids.free.extend(drawn)
        return ids.free.pop(0)
    if ids.last is None:
        ids.last = int(
            connection.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()
        )
    ids.last += 1
    return ids.last
