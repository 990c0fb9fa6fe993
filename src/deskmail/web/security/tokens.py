"""API bearer tokens: a recognisable prefix and 32 random bytes, kept only as SHA-256."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from deskmail.store.accounts import ApiToken, Role, WebUser
from deskmail.store.engine import Store
from deskmail.web.security.digests import digest, new_secret
from deskmail.web.security.principal import Principal, Via

PREFIX = "dmt_"  # "deskmail token": secret scanners and people recognise it
SHOWN_PREFIX = len(PREFIX) + 6  # the part kept in clear, to tell tokens apart in lists
TOUCH_EVERY = timedelta(seconds=60)  # last_used_at is written at most this often


@dataclass(frozen=True, slots=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, to its creator; never stored


def weaker(first: Role, second: Role) -> Role:
    return first if first.rank <= second.rank else second


def create_token(
    store: Store, owner: WebUser, label: str, role: Role, expires_at: datetime | None
) -> NewToken:
    """A token for `owner` with at most the owner's role (a higher one is lowered)."""
    secret = new_secret(PREFIX)
    row = ApiToken(
        user_id=owner.id,
        label=label,
        prefix=secret[:SHOWN_PREFIX],
        digest=digest(secret),
        role=weaker(role, owner.role),
        expires_at=expires_at,
    )
    with store.transaction() as session:
        session.add(row)
    return NewToken(row, secret)


def token_principal(store: Store, secret: str) -> Principal | None:
    """Who a bearer token acts for, or None (unknown, expired)."""
    if not secret.startswith(PREFIX):
        return None
    now = datetime.now(UTC)
    with store.session() as session:
        row = session.execute(
            select(ApiToken, WebUser)
            .join(WebUser, WebUser.id == ApiToken.user_id)
            .where(ApiToken.digest == digest(secret))
        ).first()
    if row is None:
        return None
    token, user = row
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if token.last_used_at is None or now - token.last_used_at > TOUCH_EVERY:
        with store.transaction() as session:
            live = session.get(ApiToken, token.id)
            if live is not None:
                live.last_used_at = now
    # The owner may have been demoted since: the token follows.
    role = weaker(token.role, user.role)
    return Principal(user.id, user.name, role, Via.TOKEN, token_id=token.id)
