"""Listing and revoking API tokens, with who may see which: one's own, or all for admins."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from deskmail.store.accounts import ApiToken, Role, WebUser
from deskmail.store.engine import Store
from deskmail.web.security.principal import Principal


class TokenNotFound(LookupError):
    """No such token, or not one this user may see."""


@dataclass(frozen=True, slots=True)
class TokenView:
    """What is shown of a token: never the token, nor its digest."""

    id: int
    label: str
    owner: str
    prefix: str
    role: Role
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    updated_at: datetime


def list_tokens(
    store: Store, user: Principal, updated_since: datetime | None = None
) -> list[TokenView]:
    """The user's tokens; everyone's for an admin. A use changes a token (its last use)."""
    query = select(ApiToken, WebUser.name).join(WebUser, WebUser.id == ApiToken.user_id)
    if not user.allows(Role.ADMIN):
        query = query.where(ApiToken.user_id == user.user_id)
    if updated_since is not None:
        query = query.where(ApiToken.updated_at >= updated_since)
    with store.session() as session:
        rows = session.execute(query.order_by(ApiToken.id)).all()
    return [view(token, owner) for token, owner in rows]


def view(token: ApiToken, owner: str) -> TokenView:
    return TokenView(
        token.id,
        token.label,
        owner,
        token.prefix,
        token.role,
        token.created_at,
        token.expires_at,
        token.last_used_at,
        token.updated_at,
    )


def revoke_token(store: Store, user: Principal, token_id: int) -> None:
    query = delete(ApiToken).where(ApiToken.id == token_id)
    if not user.allows(Role.ADMIN):
        query = query.where(ApiToken.user_id == user.user_id)
    with store.transaction() as session:
        if not getattr(session.execute(query), "rowcount", 0):
            raise TokenNotFound(token_id)
