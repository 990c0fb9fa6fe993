"""The ticket store: SQLAlchemy 2 declarative models.

Schema changes go through Alembic (store/migrations); never call create_all in
production code.
"""

from __future__ import annotations

import base64
import secrets
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from deskmail.config.fate import Fate, TicketKind
from deskmail.store import subject_search

# Stable constraint names so Alembic migrations work the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_token() -> str:
    """8 characters of base32: 40 bits, not guessable from a ticket number."""
    return base64.b32encode(secrets.token_bytes(5)).decode().lower()


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    CLOSED = "closed"


class ActivityKind(StrEnum):
    MAIL = "mail"
    NOTE = "note"
    SYSTEM = "system"


def _enum(cls: type[StrEnum], name: str) -> Enum:
    # Stored as plain strings (no native PG enum) so adding a value needs no type migration.
    return Enum(
        cls, name=name, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e]
    )


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime, stored in UTC, read back aware on every database.

    SQLite has no time zone type: a plain DateTime(timezone=True) drops the
    offset there (a Date: header at +02:00 would be stored two hours off) and
    reads back naive. Naive values are refused rather than guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: use an aware one (datetime.now(UTC))")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:  # SQLite
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Site(Base):
    __tablename__ = "site"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # For the API's updated_since (as on the group, team, person, token and endpoint rows).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Group(Base):
    __tablename__ = "group"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Source(Base):
    """Where a ticket came from (Octopus "incident source"): Email, Phone, ..."""

    __tablename__ = "source"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)


class Team(Base):
    """Each team numbers its own tickets; next_number is taken under a row lock."""

    __tablename__ = "team"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    next_number: Mapped[int] = mapped_column(Integer, default=1)
    # Set by a rename, not on update: drawing a ticket number is no change of the team.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Person(Base):
    __tablename__ = "person"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    logon: Mapped[str | None] = mapped_column(String(200), unique=True)  # Windows/directory logon
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    is_agent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Also set when only its addresses change (web/queries/directory.py).
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    site: Mapped[Site | None] = relationship()
    addresses: Mapped[list[PersonAddress]] = relationship(
        back_populates="person", cascade="all, delete-orphan"
    )


class PersonAddress(Base):
    """One of a person's e-mail addresses, stored lower-cased for matching."""

    __tablename__ = "person_address"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320), unique=True)
    person: Mapped[Person] = relationship(back_populates="addresses")


class Ticket(Base):
    __tablename__ = "ticket"
    __table_args__ = (
        UniqueConstraint("team_id", "number", name="uq_ticket_team_number"),
        # The flood limit looks tickets up by sender, whatever the case (migration 0005).
        Index("ix_ticket_sender_lower", func.lower(text("sender_address"))),
        # The web lists' order, newest or oldest change first (migration 0014).
        Index("ix_ticket_updated", "updated_at", "id"),
        Index("ix_ticket_kind_updated", "kind", "updated_at", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[TicketKind] = mapped_column(_enum(TicketKind, "ticket_kind"))
    status: Mapped[TicketStatus] = mapped_column(
        _enum(TicketStatus, "ticket_status"), default=TicketStatus.NEW
    )
    subject: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("group.id"))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("source.id"))
    priority: Mapped[str | None] = mapped_column(String(100))
    category: Mapped[str | None] = mapped_column(String(200))
    # A configured object type's name (config/object_types.py); None: a plain incident or
    # event. `kind` is the type's kind of record, so what holds for incidents holds for it.
    object_type: Mapped[str | None] = mapped_column(String(63))
    # Unguessable: a reply carrying it may post even from an address not on the ticket.
    token: Mapped[str] = mapped_column(String(16), default=new_token)
    linked_ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("ticket.id", ondelete="SET NULL")
    )
    description_html: Mapped[str | None] = mapped_column(Text)  # sanitised
    sender_address: Mapped[str | None] = mapped_column(String(320))  # as written in From:
    sender_name: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    team: Mapped[Team] = relationship()
    requester: Mapped[Person | None] = relationship(foreign_keys=[requester_id])
    user: Mapped[Person | None] = relationship(foreign_keys=[user_id])
    assignee: Mapped[Person | None] = relationship(foreign_keys=[assignee_id])
    group: Mapped[Group | None] = relationship()
    site: Mapped[Site | None] = relationship()
    source: Mapped[Source | None] = relationship()
    activities: Mapped[list[Activity]] = relationship(
        back_populates="ticket", order_by="Activity.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="ticket", order_by="Attachment.id", cascade="all, delete-orphan"
    )
    linked_ticket: Mapped[Ticket | None] = relationship(remote_side=[id])
    fields: Mapped[list[TicketField]] = relationship(
        order_by="TicketField.name", cascade="all, delete-orphan"
    )


class TicketField(Base):
    """A custom field's value on a ticket (config/custom_fields.py).

    One row per field and ticket rather than a JSON column: the same SQL filters
    and sorts on SQLite and PostgreSQL ("tickets whose host is web1"), the
    declarations can change without a migration, and an empty field is no row.
    The value is text in the declared type's canonical form (numbers as plain
    decimals, dates as ISO 8601, choices as declared), checked before it is
    written; the type lives in the configuration, as the field's declaration.
    """

    __tablename__ = "ticket_field"
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("ticket.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Activity(Base):
    __tablename__ = "activity"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ActivityKind] = mapped_column(_enum(ActivityKind, "activity_kind"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    from_address: Mapped[str | None] = mapped_column(String(320))
    from_name: Mapped[str | None] = mapped_column(String(300))
    subject: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)  # sanitised
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[Ticket] = relationship(back_populates="activities")
    author: Mapped[Person | None] = relationship()
    attachments: Mapped[list[Attachment]] = relationship(back_populates="activity")


class Attachment(Base):
    """Metadata of a stored file; the bytes live in the blob store under `sha256`."""

    __tablename__ = "attachment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str] = mapped_column(String(500))  # as sent; metadata only, never a path
    media_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    inline: Mapped[bool] = mapped_column(Boolean, default=False)
    content_id: Mapped[str | None] = mapped_column(String(500))

    ticket: Mapped[Ticket] = relationship(back_populates="attachments")
    activity: Mapped[Activity | None] = relationship(back_populates="attachments")


class TicketMessage(Base):
    """A Message-ID that belongs to a ticket: a mail we received for it or sent about it.

    Threading matches In-Reply-To / References against this table.
    """

    __tablename__ = "ticket_message"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(1000), index=True)
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketParticipant(Base):
    """An address allowed to post to a ticket by mail (requester, Cc'd colleagues, ...)."""

    __tablename__ = "ticket_participant"
    __table_args__ = (
        UniqueConstraint("ticket_id", "address", name="uq_participant_ticket_address"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))  # lower-cased


class IntakeRecord(Base):
    """The exactly-once journal: one row per message a job has taken in.

    Written in the same transaction as the ticket or activity it produced; the
    unique (job, source_key) is what makes a second run, or a second instance,
    unable to create a second ticket for the same message.
    """

    __tablename__ = "intake_record"
    __table_args__ = (
        UniqueConstraint("job", "source_key", name="uq_intake_job_key"),
        Index("ix_intake_job_sha256", "job", "sha256"),
        Index("ix_intake_message_id", "message_id"),
        Index("ix_intake_ticket", "ticket_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(200))
    source_key: Mapped[str] = mapped_column(String(1000))
    message_id: Mapped[str | None] = mapped_column(String(1000))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    outcome: Mapped[Fate] = mapped_column(_enum(Fate, "intake_outcome"))  # never SKIPPED
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"))
    error: Mapped[str | None] = mapped_column(Text)
    raw_sha256: Mapped[str | None] = mapped_column(String(64))  # raw bytes kept in the blob store
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    auto_reply_due: Mapped[bool] = mapped_column(Boolean, default=False)
    # The error event reporting this message while it is quarantined.
    event_ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("ticket.id", ondelete="SET NULL")
    )
    rules: Mapped[str | None] = mapped_column(Text)  # names of the processing rules that fired
    attempts: Mapped[int] = mapped_column(Integer, default=1)  # times taken in while quarantined

    ticket: Mapped[Ticket | None] = relationship(foreign_keys=[ticket_id])
    activity: Mapped[Activity | None] = relationship()


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    SUPPRESSED = "suppressed"  # loop protection or the per-recipient cap said no
    FAILED = "failed"  # gave up after retries


class OutgoingMail(Base):
    """A mail deskmail sends, queued in the same transaction as its cause.

    Queued atomically with the ticket (so a crash cannot lose the
    acknowledgement, nor send one for a ticket that was rolled back), sent
    after commit, then marked sent.
    """

    __tablename__ = "outgoing_mail"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(40))  # acknowledgement | denied | group_notice | ...
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id", ondelete="SET NULL"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"))
    recipient: Mapped[str] = mapped_column(String(320), index=True)  # lower-cased
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(500), unique=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[OutboxStatus] = mapped_column(
        _enum(OutboxStatus, "outbox_status"), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SourceState(Base):
    """Where a source that reads changes keeps its place between passes.

    A Graph folder's deltaLink or an EWS folder's SyncState, saved only once
    every message read up to it is committed (sources.base.SyncState): a crash
    before the save replays the changes, and the journal acknowledges them
    again without taking them in twice.
    """

    __tablename__ = "source_state"
    job: Mapped[str] = mapped_column(String(200), primary_key=True)
    scope: Mapped[str] = mapped_column(String(500), primary_key=True)  # e.g. the folder's id
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class OAuthTokenCache(Base):
    """A job's OAuth2 token cache (msal's serialized cache, or a refresh token), encrypted.

    Saved after every token call that changed it: refresh tokens rotate, and a
    cache left unsaved holds a dead one.
    """

    __tablename__ = "oauth_token_cache"
    job: Mapped[str] = mapped_column(String(200), primary_key=True)
    sealed: Mapped[str] = mapped_column(Text)  # Fernet token (ASCII) of the cache's JSON
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PendingSignIn(Base):
    """A web "Sign in with ..." started, its answer not yet back (web/sign_ins.py).

    In the database rather than one process's memory, so the identity provider's answer
    may land on any front end. Keyed by a hash of the sign-in's state; the flow (with
    its PKCE verifier) is sealed like a token cache; taken once, by deleting the row.
    """

    __tablename__ = "pending_sign_in"
    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex
    job: Mapped[str] = mapped_column(String(200))
    started_by: Mapped[str] = mapped_column(String(200))
    sealed: Mapped[str] = mapped_column(Text)  # Fernet token (ASCII) of the flow's JSON
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class StoredJob(Base):
    """A job created through the jobs catalog (jobs.catalog), not written in the file.

    `settings` is the job's [[jobs]] table as JSON without its secrets; the secrets
    (password, client secret, ...) are in `sealed`, one Fernet token of their JSON.
    `revision` grows by one on every change: the daemon polls it, and writers can
    refuse to overwrite a change they have not seen.
    """

    __tablename__ = "stored_job"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # NFC + casefold of name: "Support" and "support" are one job, as in the file.
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[str] = mapped_column(Text)
    sealed: Mapped[str | None] = mapped_column(Text)
    # Which secrets `sealed` holds ("password,smtp.password"): shown as set without opening it.
    secret_slots: Mapped[str] = mapped_column(String(200), default="")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    # The revision whose settings could not be loaded and were reported (once, whichever
    # instance saw it first).
    refused_revision: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JobHealth(Base):
    """Whether a job's mailbox works, and the open infrastructure event while it does not."""

    __tablename__ = "job_health"
    job: Mapped[str] = mapped_column(String(200), primary_key=True)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    step: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    event_ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("ticket.id", ondelete="SET NULL")
    )
    last_reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Run(Base):
    """One pass of one job, with its counts (Alloy's "Checking Results")."""

    __tablename__ = "run"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(200), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), default="running")  # running|ok|failed
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    ignored: Mapped[int] = mapped_column(Integer, default=0)  # rules, out-of-office, bounces
    denied: Mapped[int] = mapped_column(Integer, default=0)  # create_new_requests = false
    sent: Mapped[int] = mapped_column(Integer, default=0)  # automatic mails delivered
    acknowledged: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    step: Mapped[str | None] = mapped_column(String(40))  # where a failed run stopped


class RunLogLine(Base):
    """A log record of one run (bounded per run; log calls carry no secret and no mail text)."""

    __tablename__ = "run_log_line"
    __table_args__ = (Index("ix_run_log_line_run", "run_id", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("run.id", ondelete="CASCADE"))
    logged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    level: Mapped[int] = mapped_column(Integer)  # logging's number: 10 DEBUG ... 50 CRITICAL
    logger: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)


class WebhookEndpoint(Base):
    """Where webhooks go: a URL, the kinds of event it takes, and its signing secret.

    The secret (whsec_...) is sealed with the deskmail secret key and shown once, when
    made. `failing_since` and `failures` count the attempts that failed in a row: the
    rule that disables an endpoint reads them (webhooks/policy.py).
    """

    __tablename__ = "webhook_endpoint"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    kinds: Mapped[str] = mapped_column(Text)  # space-separated event kinds
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    secret_sealed: Mapped[str] = mapped_column(Text)  # Fernet token of the whsec_ secret
    description: Mapped[str] = mapped_column(Text, default="")
    include_subject: Mapped[bool] = mapped_column(Boolean, default=False)  # mail text: opt-in
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class WebhookMessage(Base):
    """The outbox: one event to report, written in the transaction of what it reports.

    `id` is the webhook-id every attempt of it carries, to every endpoint.
    """

    __tablename__ = "webhook_message"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)  # the event's data as JSON, never mail text
    # The mail's subject, kept only when an endpoint asked for it (include_subject).
    subject: Mapped[str | None] = mapped_column(Text)
    # The record's custom fields as JSON (webhooks/payloads.py), kept likewise: mail text.
    fields: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt of the retry schedule failed


class WebhookDelivery(Base):
    """One message to one endpoint, until it is delivered or its attempts run out."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_due", "status", "next_attempt_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_message.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[WebhookDeliveryStatus] = mapped_column(
        _enum(WebhookDeliveryStatus, "webhook_delivery_status"),
        default=WebhookDeliveryStatus.PENDING,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # since queued or redelivered
    # When it is due; while an instance posts it, the end of that instance's lease.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    message: Mapped[WebhookMessage] = relationship()
    endpoint: Mapped[WebhookEndpoint] = relationship()


class WebhookAttempt(Base):
    """The delivery log: one POST, its request headers (no secret), the answer, the time."""

    __tablename__ = "webhook_attempt"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_delivery.id", ondelete="CASCADE"), index=True
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    url: Mapped[str] = mapped_column(String(2000))
    request_headers: Mapped[str] = mapped_column(Text)  # JSON object
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)  # truncated
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)  # no answer: timeout, refused, TLS...


# Subject search (store/subject_search.py) comes with the ticket table on a new database.
event.listen(
    Base.metadata,
    "before_create",
    DDL(subject_search.POSTGRESQL_EXTENSION).execute_if(dialect="postgresql"),  # type: ignore[no-untyped-call]
)
for _statement in subject_search.SQLITE_CREATE:
    ddl = DDL(_statement).execute_if(dialect="sqlite")  # type: ignore[no-untyped-call]
    event.listen(Ticket.__table__, "after_create", ddl)
# DDL, not an Index with postgresql_* options: those load SQLAlchemy's PostgreSQL
# dialect (19 modules) into every process, SQLite runs included.
event.listen(
    Ticket.__table__,
    "after_create",
    DDL(subject_search.POSTGRESQL_CREATE).execute_if(dialect="postgresql"),  # type: ignore[no-untyped-call]
)

# The daemon's shared state lives in a module of its own; importing it here puts its
# tables in Base.metadata wherever the models are. The web's accounts (accounts.py)
# are not imported here: a run that takes in mail has no use for them, and the
# schema as a whole is migrate.schema_metadata().
from deskmail.store import daemon_state  # noqa: E402

__all__ = [
    "Activity",
    "ActivityKind",
    "Attachment",
    "Base",
    "Group",
    "IntakeRecord",
    "JobHealth",
    "OutboxStatus",
    "OutgoingMail",
    "Person",
    "PersonAddress",
    "Run",
    "Site",
    "Source",
    "StoredJob",
    "Team",
    "Ticket",
    "TicketKind",
    "TicketMessage",
    "TicketParticipant",
    "TicketStatus",
    "UTCDateTime",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
    "WebhookMessage",
    "daemon_state",
]
