"""Cursor pagination and `updated_since` for API lists.

A list is ordered by a unique key of one or more columns, e.g. (updated_at,
id). The cursor is the key of the last row returned, opaque to the client
(base64 of JSON); the next page is every row after it. Unlike an offset, a
row added meanwhile neither repeats nor hides another.

    page = paginate(session, select(Ticket), (Ticket.updated_at, Ticket.id), cursor, limit)
    return Page(items=[...], next_cursor=page.next_cursor)
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import DateTime, Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from deskmail.web.problems import field_problem

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500

# A list's `updated_since`: the rows changed (or made) at or after this time. A client
# keeps the newest updated_at it saw and asks again from there.
UpdatedSince = Annotated[
    AwareDatetime | None,
    Query(description="only what was changed or added at or after this time (with its offset)"),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None  # absent on the last page


@dataclass(frozen=True, slots=True)
class Rows(Generic[T]):
    rows: list[T]
    next_cursor: str | None


def encode_cursor(values: Sequence[Any]) -> str:
    plain = [value.isoformat() if isinstance(value, datetime) else value for value in values]
    return base64.urlsafe_b64encode(json.dumps(plain).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, columns: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(columns):
            raise ValueError
        return [_value(value, column) for value, column in zip(values, columns, strict=True)]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, OverflowError):
        raise field_problem(
            422, "query.cursor", "is not a cursor this list returned (use next_cursor as given)"
        ) from None


def _value(value: Any, column: InstrumentedAttribute[Any]) -> Any:
    """A cursor's value as the column holds it; ValueError for one no list returned (a
    string compared with an integer column, or an integer past 64 bits, fails in the
    database instead)."""
    if _is_datetime(column):
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:  # the lists write UTC times with their offset
            raise ValueError(value)
        return moment
    try:
        expected = column.type.python_type
    except (AttributeError, NotImplementedError):  # a column without a Python type: any
        expected = object
    if isinstance(value, bool) or not isinstance(value, expected):
        raise ValueError(value)
    if isinstance(value, int) and not -(2**63) <= value < 2**63:
        raise ValueError(value)
    return value


def _is_datetime(column: InstrumentedAttribute[Any]) -> bool:
    kind = column.type
    return isinstance(getattr(kind, "impl", kind), DateTime)  # UTCDateTime decorates DateTime


def after(columns: Sequence[InstrumentedAttribute[Any]], values: Sequence[Any]) -> Any:
    """Rows strictly after `values` in the order of `columns` (a row-value comparison
    spelled out, as SQLite and PostgreSQL both understand it)."""
    first, *rest = columns
    value, *others = values
    if not rest:
        return first > value
    return or_(first > value, and_(first == value, after(rest, others)))


def paginate(
    session: Session,
    query: Select[Any],
    columns: Sequence[InstrumentedAttribute[Any]],
    cursor: str | None,
    limit: int,
) -> Rows[T]:
    """One page of `query` in the order of `columns` (ascending), after `cursor`."""
    if cursor:
        query = query.where(after(columns, decode_cursor(cursor, columns)))
    rows: list[T] = list(session.scalars(query.order_by(*columns).limit(limit + 1)))
    if len(rows) <= limit:
        return Rows(rows, None)
    rows = rows[:limit]
    last = rows[-1]
    return Rows(rows, encode_cursor([getattr(last, column.key) for column in columns]))
