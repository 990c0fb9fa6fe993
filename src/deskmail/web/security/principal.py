"""Who a request acts for, once a session cookie or an API token has said so."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from deskmail.store.accounts import Role


class Via(StrEnum):
    SESSION = "session"  # a browser, by its session cookie
    TOKEN = "token"  # an API client, by its bearer token


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    name: str
    role: Role  # a token's: never more than its owner's
    via: Via
    session_digest: str | None = None
    token_id: int | None = None

    def allows(self, needed: Role) -> bool:
        return self.role.allows(needed)
