"""The events deskmail reports by webhook, each a typed payload.

A payload holds ids, references, the record's object type, the job and times:
never mail text (bodies, addresses, headers other than the Message-ID) and never
a secret. The mail text an endpoint may ask for (include_subject) is the subject
and the record's custom fields, whose values a rule may have taken from the mail
(classify/extraction.py): both are passed beside the payload to queue_webhook
and added to the body only for those endpoints, the fields typed as the REST
API gives them (config/custom_fields.py FieldValue).

The body posted is the Standard Webhooks shape:
    {"type": "ticket.created", "timestamp": "2026-12-07T05:00:00Z", "data": {...}}
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from deskmail.config.custom_fields import FieldValue
from deskmail.store.models import IntakeRecord


class EventKind(StrEnum):
    TICKET_CREATED = "ticket.created"  # a mail made a ticket (an incident or an event)
    ACTIVITY_ADDED = "activity.added"  # a mail was added to a ticket (a reply)
    EVENT_OPENED = "event.opened"  # deskmail opened an event to report a problem
    EVENT_CLOSED = "event.closed"  # ... and closed it (the problem is over, or handled)
    MESSAGE_QUARANTINED = "message.quarantined"  # a mail failed a stage (also on a failed retry)
    QUARANTINE_RETRIED = "quarantine.retried"  # a retry took a quarantined mail in
    QUARANTINE_DISCARDED = "quarantine.discarded"  # an operator gave up on one
    RUN_FAILED = "run.failed"  # a pass of a job could not finish
    JOB_HEALTH_CHANGED = "job.health_changed"  # a job's mailbox started or stopped failing
    TEST = "webhook.test"  # sent by "send test" to one endpoint; never subscribed to


# The kinds an endpoint may subscribe to.
SUBSCRIBABLE = tuple(kind for kind in EventKind if kind is not EventKind.TEST)


class EventCause(StrEnum):
    """Why deskmail opened an event (apply/events.py)."""

    QUARANTINE = "quarantine"
    MAILBOX = "mailbox"
    CONFIGURATION = "configuration"
    CREDENTIAL = "credential"
    WEBHOOK = "webhook"  # an endpoint was disabled after sustained failure


@dataclass(frozen=True, slots=True)
class TicketCreated:
    KIND: ClassVar[EventKind] = EventKind.TICKET_CREATED
    ticket_id: int
    reference: str  # "IT-12"
    team: str
    number: int
    ticket_kind: str  # incident | event
    job: str
    message_id: str | None  # the mail's Message-ID
    created_at: datetime
    object_type: str | None = None  # a configured object type's name; None: incident or event


@dataclass(frozen=True, slots=True)
class ActivityAdded:
    KIND: ClassVar[EventKind] = EventKind.ACTIVITY_ADDED
    activity_id: int
    ticket_id: int
    reference: str
    job: str
    message_id: str | None
    created_at: datetime
    object_type: str | None = None  # of the ticket it was added to


@dataclass(frozen=True, slots=True)
class EventOpened:
    KIND: ClassVar[EventKind] = EventKind.EVENT_OPENED
    ticket_id: int
    reference: str
    cause: EventCause
    job: str | None  # None for an event about a webhook endpoint
    opened_at: datetime
    object_type: str | None = None  # deskmail's own events are plain events: always None


@dataclass(frozen=True, slots=True)
class EventClosed:
    KIND: ClassVar[EventKind] = EventKind.EVENT_CLOSED
    ticket_id: int
    reference: str
    cause: EventCause
    job: str | None
    closed_at: datetime


@dataclass(frozen=True, slots=True)
class MessageQuarantined:
    KIND: ClassVar[EventKind] = EventKind.MESSAGE_QUARANTINED
    quarantine_id: int
    job: str
    source_key: str  # the message's key in its mailbox
    message_id: str | None
    reason: str  # the stage and the error, as `deskmail quarantine show` says it
    event_ticket_id: int | None
    retry: bool  # True: a retry failed again
    quarantined_at: datetime

    @classmethod
    def of(cls, record: IntakeRecord, now: datetime, *, retry: bool) -> MessageQuarantined:
        return cls(
            record.id,
            record.job,
            record.source_key,
            record.message_id,
            record.error or "",
            record.event_ticket_id,
            retry,
            now,
        )


@dataclass(frozen=True, slots=True)
class QuarantineRetried:
    KIND: ClassVar[EventKind] = EventKind.QUARANTINE_RETRIED
    quarantine_id: int
    job: str
    result: str  # created | updated | duplicate | ignored | denied
    ticket_id: int | None
    activity_id: int | None
    retried_at: datetime

    @classmethod
    def of(cls, record: IntakeRecord, now: datetime) -> QuarantineRetried:
        return cls(
            record.id, record.job, record.outcome.value, record.ticket_id, record.activity_id, now
        )


@dataclass(frozen=True, slots=True)
class QuarantineDiscarded:
    KIND: ClassVar[EventKind] = EventKind.QUARANTINE_DISCARDED
    quarantine_id: int
    job: str
    event_ticket_id: int | None
    discarded_at: datetime

    @classmethod
    def of(cls, record: IntakeRecord, now: datetime) -> QuarantineDiscarded:
        return cls(record.id, record.job, record.event_ticket_id, now)


@dataclass(frozen=True, slots=True)
class RunFailed:
    KIND: ClassVar[EventKind] = EventKind.RUN_FAILED
    run_id: int
    job: str
    error: str  # the run's one-line failure, as `deskmail history` shows it
    started_at: datetime
    finished_at: datetime


@dataclass(frozen=True, slots=True)
class JobHealthChanged:
    KIND: ClassVar[EventKind] = EventKind.JOB_HEALTH_CHANGED
    job: str
    healthy: bool
    step: str | None  # the failed step (authentication, folder, ...) while failing
    failing_since: datetime | None
    event_ticket_id: int | None  # the infrastructure event that reports it
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class EndpointTest:
    KIND: ClassVar[EventKind] = EventKind.TEST
    endpoint_id: int
    sent_at: datetime


Payload = (
    TicketCreated
    | ActivityAdded
    | EventOpened
    | EventClosed
    | MessageQuarantined
    | QuarantineRetried
    | QuarantineDiscarded
    | RunFailed
    | JobHealthChanged
    | EndpointTest
)


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    raise TypeError(f"{type(value).__name__} is not JSON")


def data_json(payload: Payload) -> str:
    """The payload's fields as a JSON object (the outbox keeps this)."""
    # Not dataclasses.asdict: its deep copy cost more than the rest of queue_webhook.
    fields = {field.name: getattr(payload, field.name) for field in dataclasses.fields(payload)}
    return json.dumps(fields, default=_plain, ensure_ascii=False)


def fields_json(values: Sequence[FieldValue]) -> str:
    """A record's custom fields as the outbox keeps them (WebhookMessage.fields)."""
    return json.dumps([dataclasses.asdict(value) for value in values], ensure_ascii=False)


def body(
    kind: str,
    created_at: datetime,
    data: str,
    subject: str | None,
    *,
    with_subject: bool,
    custom_fields: str | None = None,
) -> bytes:
    """The bytes posted: the same for every attempt of a message to an endpoint.
    `with_subject`: the endpoint takes mail text, the subject and the custom fields."""
    fields: dict[str, Any] = json.loads(data)
    if with_subject and subject is not None:
        fields["subject"] = subject
    if with_subject and custom_fields is not None:
        fields["fields"] = json.loads(custom_fields)
    document = {"type": kind, "timestamp": _plain(created_at), "data": fields}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


__all__ = [
    "SUBSCRIBABLE",
    "ActivityAdded",
    "EndpointTest",
    "EventCause",
    "EventClosed",
    "EventKind",
    "EventOpened",
    "JobHealthChanged",
    "MessageQuarantined",
    "Payload",
    "QuarantineDiscarded",
    "QuarantineRetried",
    "RunFailed",
    "TicketCreated",
    "body",
    "data_json",
    "fields_json",
]
