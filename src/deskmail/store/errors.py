"""What an error may say in a log line, a quarantine reason or an event: no row values.

SQLAlchemy's text of a failed statement carries the SQL and, unless the
engine hides them, its parameters: a mail's body, addresses, subject. The
driver's own first line (e.g. "UNIQUE constraint failed: tickets.number")
names the problem without them; PostgreSQL's DETAIL line, which quotes the
offending key's value, is left out with the rest.
"""

from __future__ import annotations

from sqlalchemy.exc import StatementError


def describe_error(exc: BaseException) -> str:
    """`ClassName: message` on one line, without the statement or its values."""
    if isinstance(exc, StatementError) and exc.orig is not None:
        lines = str(exc.orig).strip().splitlines()
        message = lines[0].strip() if lines else ""
    else:
        message = str(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


__all__ = ["describe_error"]
