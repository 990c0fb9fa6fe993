"""What the running instances share through the database.

A heartbeat per daemon (readiness: is a scheduler alive?), a switch per job
that the UI turns off and on without editing the configuration file, and the
web front ends' signing secret (so that several of them accept each other's
CSRF tokens).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from deskmail.store.models import Base, UTCDateTime, utcnow


class SchedulerHeartbeat(Base):
    __tablename__ = "scheduler_heartbeat"
    instance: Mapped[str] = mapped_column(String(300), primary_key=True)  # host:pid
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JobSwitch(Base):
    """A job turned off (or back on) from the UI; without a row the file's `enabled` holds."""

    __tablename__ = "job_switch"
    job: Mapped[str] = mapped_column(String(200), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    changed_by: Mapped[str | None] = mapped_column(String(100))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebSecret(Base):
    """A random secret the web front ends share, created by the first one that needs it."""

    __tablename__ = "web_secret"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
