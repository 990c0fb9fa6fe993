"""Login throttling per user name and per client address, counted in the database."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select

from deskmail.config.models import WebConfig
from deskmail.store.accounts import LoginFailure
from deskmail.store.engine import Store


def wait_minutes(store: Store, web: WebConfig, name: str, address: str) -> int:
    """Minutes until a login for `name` from `address` is accepted again; 0 when it is now."""
    window = timedelta(minutes=web.login_window_minutes)
    now = datetime.now(UTC)
    since = now - window
    waits = []
    with store.session() as session:
        for column, value, limit in (
            (LoginFailure.name, name.casefold(), web.login_attempts_per_user),
            (LoginFailure.address, address, web.login_attempts_per_address),
        ):
            count, first = session.execute(
                select(func.count(), func.min(LoginFailure.at)).where(
                    column == value, LoginFailure.at > since
                )
            ).one()
            if count >= limit and first is not None:
                oldest = first if first.tzinfo else first.replace(tzinfo=UTC)
                waits.append((oldest + window - now).total_seconds())
    return max((math.ceil(seconds / 60) for seconds in waits), default=0)


def record_failure(store: Store, web: WebConfig, name: str, address: str) -> None:
    now = datetime.now(UTC)
    with store.transaction() as session:
        session.add(LoginFailure(name=name.casefold()[:100], address=address, at=now))
        # Rows older than the window count for nothing: dropped as new ones come.
        cutoff = now - timedelta(minutes=web.login_window_minutes)
        session.execute(delete(LoginFailure).where(LoginFailure.at < cutoff))


def forget_failures(store: Store, name: str) -> None:
    """A successful login clears the user's count (the address's stays)."""
    with store.transaction() as session:
        session.execute(delete(LoginFailure).where(LoginFailure.name == name.casefold()))
