"""What the running instances share through the database.

A heartbeat per daemon (readiness: is a scheduler alive?), a switch per job
that the UI turns off and on without editing the configuration file, and the
web front ends' signing secret (so that several of them accept each other's
CSRF tokens).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String
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


class DaemonInstance(Base):
    """A running `deskmail serve` sharing the jobs (PostgreSQL); its heartbeat is the database's
    clock at its last renewal, so hosts whose clocks disagree still agree on who is alive."""

    __tablename__ = "daemon_instance"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # host:pid:random
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobLease(Base):
    """Which instance holds a job, until when (the database's clock); no holder: free."""

    __tablename__ = "job_lease"
    job: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(100))
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    renewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LeaseHistory(Base):
    """Each time a job was held: by whom, from, until (open while held). An expired lease
    taken over ends at its expiry, the moment the previous holder stopped owning it."""

    __tablename__ = "lease_history"
    __table_args__ = (Index("ix_lease_history_job", "job", "held_from"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(200))
    holder: Mapped[str] = mapped_column(String(100))
    held_from: Mapped[datetime] = mapped_column(UTCDateTime)
    held_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
