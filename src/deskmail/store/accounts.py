"""Who may use the web UI and the API: users, their sessions and tokens, failed logins.

Only digests of session ids and API tokens are stored: a copy of the
database does not let anyone in. Passwords are argon2id hashes
(web/security/passwords.py).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from deskmail.store.models import Base, UTCDateTime, _enum, utcnow


class Role(StrEnum):
    """What a user (or a token) may do; each role may do all that the ones below it may."""

    VIEWER = "viewer"  # reads everything but secrets
    AGENT = "agent"  # also works tickets, attachments and quarantine
    ADMIN = "admin"  # also jobs, rules, users, tokens of others, webhooks

    @property
    def rank(self) -> int:
        return _RANKS[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANKS = {Role.VIEWER: 0, Role.AGENT: 1, Role.ADMIN: 2}


class WebUser(Base):
    __tablename__ = "web_user"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)  # stored as typed; unique lower
    role: Mapped[Role] = mapped_column(_enum(Role, "web_role"))
    password_hash: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    sessions: Mapped[list[WebSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )


class WebSession(Base):
    """A signed-in browser. The cookie holds a random id; this row holds its SHA-256."""

    __tablename__ = "web_session"
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    address: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[WebUser] = relationship(back_populates="sessions")


class ApiToken(Base):
    """A bearer token of the API, shown once; `prefix` is its first characters, to recognise it."""

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_user.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(20))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "web_role"))  # at most the owner's
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    user: Mapped[WebUser] = relationship(back_populates="tokens")


class LoginFailure(Base):
    """One refused login, counted per user name and per address to throttle guessing.

    In the database, not in memory: several instances and restarts count together.
    """

    __tablename__ = "login_failure"
    __table_args__ = (
        Index("ix_login_failure_name_at", "name", "at"),
        Index("ix_login_failure_address_at", "address", "at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))  # lower-cased as typed, known or not
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
