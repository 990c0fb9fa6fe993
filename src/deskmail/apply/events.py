"""Problems reported as events, as Octopus does ("In case of a problem an event is
automatically created").

Two kinds:
  - a message that could not be processed: one event per quarantined message,
    in the job's error group, with the original attached as .eml;
  - a mailbox that cannot be used, or a configuration problem found at run
    time: one event per job while the problem lasts (tracked in JobHealth);
    later failures add at most one note an hour to it, and the first good
    run closes it.

Everything here runs inside the caller's transaction: it flushes, never commits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from deskmail.apply.attachments import store_attachments
from deskmail.apply.context import get_or_create, insert_once
from deskmail.apply.tickets import next_ticket_number
from deskmail.config.files import command_line
from deskmail.config.models import NETWORK_PROTOCOLS, JobConfig, Protocol
from deskmail.config.shown import ShownFile, redacted_octopus_file, shown_configuration
from deskmail.parse.attachments import eml_attachment, make_attachment
from deskmail.parse.filenames import eml_name, safe_display_name
from deskmail.sources.errors import SourceError, Step
from deskmail.sources.hints import OCTOPUS_HINTS
from deskmail.store.blobs import BlobStore
from deskmail.store.models import (
    Activity,
    ActivityKind,
    Group,
    IntakeRecord,
    JobHealth,
    Team,
    Ticket,
    TicketKind,
    TicketStatus,
    utcnow,
)
from deskmail.webhooks.outbox import queue_webhook
from deskmail.webhooks.payloads import EventCause, EventClosed, EventOpened, JobHealthChanged

# While a mailbox keeps failing, one note an hour at most (a job's failure_note_minutes;
# Octopus adds one on every failed run).
REPORT_EVERY = timedelta(hours=1)
QUARANTINED_NAME = "quarantined-message.eml"
CONFIGURATION_STEP = "configuration"

# What to look at first, by the step that failed; the event is read by whoever
# is on duty, not necessarily by the person who configured the job.
_HINTS = {
    Step.DNS: "Check the server name in the job's settings and that this host can resolve it.",
    Step.CONNECT: "Check the server name and port, that the mail server is running,"
    " and that no firewall blocks the connection.",
    Step.TIMEOUT: "The server did not answer in time: check the server and the network"
    " (and the job's timeouts).",
    Step.TLS: 'Check that the security setting ("ssl", "starttls", "none") matches'
    " what the server expects on that port.",
    Step.CERTIFICATE: "The server's certificate was refused: renew it, or name the"
    " certificate authority that issued it in ca_file.",
    Step.STARTTLS: "The server does not offer STARTTLS: enable TLS on the server,"
    ' or use security = "ssl".',
    Step.AUTHENTICATION: "Check the user name and the password (password_env or"
    " password_file), and that the account is not locked or its password expired.",
    Step.FOLDER: 'Check the folder (and move_to) names; servers separate folders with "/" or ".".',
    Step.MAILBOX: "Check the mailbox's address (user) and that the app registration"
    " may open that mailbox.",
    Step.PROTOCOL: "The server answered something unexpected: check that the port"
    " belongs to the configured protocol.",
    Step.SECRET: "The password could not be read: check the environment variable or"
    " the password file the job names.",
    Step.IDENTITY: "Check the OAuth2 tenant and authority of the job, and that this host"
    " reaches the identity provider.",
    Step.CLIENT: "Check the OAuth2 client id and its secret or certificate (it may have expired).",
    Step.CONSENT: "Grant the app the permissions the job needs (admin consent) in Entra ID.",
    Step.SIGN_IN: "Sign in again with deskmail auth login for this job.",
}


# ---- a quarantined message -------------------------------------------------------


def quarantine_event(
    session: Session,
    blobs: BlobStore,
    job: JobConfig,
    record: IntakeRecord,
    raw: bytes,
    *,
    subject: str = "",
) -> Ticket:
    """Report a quarantined message; `record` must be flushed (its id is in the text).

    A retry that fails again adds a note to the message's open event instead of
    opening a second one.
    """
    now = utcnow()
    event = _open_event(session, record.event_ticket_id)
    if event is not None:
        _note(event, f"Retried at {_when(now)}; it failed again: {record.error}", now)
        return event
    about = f': "{subject}"' if subject else ""
    event = _new_event(
        session,
        job.team,
        job.error_group or job.group,
        f'Mail could not be processed (job "{job.name}"){about}',
        _quarantine_description(job, record),
        now,
        cause=EventCause.QUARANTINE,
        job=job.name,
    )
    store_attachments(
        session, blobs, [eml_attachment(raw, eml_name(subject, QUARANTINED_NAME))], event
    )
    record.event_ticket_id = event.id
    return event


def _quarantine_description(job: JobConfig, record: IntakeRecord) -> str:
    return (
        f'A message in the mailbox of job "{job.name}" could not be processed.'
        " It was kept as it is (attached here as .eml) and left in the mailbox;"
        " the job goes on with the other messages.\n\n"
        f"Reason: {record.error}\n"
        f"Quarantine id: {record.id}\n"
        f"Mailbox key: {record.source_key}\n"
        f"Message-ID: {record.message_id or '-'}\n"
        f"Size: {record.size:,} bytes\n\n"
        "What to do:\n"
        f"  {command_line(job.origin_file, 'quarantine', 'show', str(record.id))}\n"
        "      the reason and the message's headers\n"
        f"  {command_line(job.origin_file, 'quarantine', 'retry', str(record.id))}\n"
        "      once the cause is fixed; this event then closes itself\n"
        f"  {command_line(job.origin_file, 'quarantine', 'discard', str(record.id))}\n"
        "      to give up on it (the bytes stay kept for audit)"
    )


def retried_ok(session: Session, record: IntakeRecord, outcome: str = "") -> Ticket | None:
    """Close the event of a quarantined message that a retry has now processed."""
    now = utcnow()
    event = _open_event(session, record.event_ticket_id)
    if event is not None:
        done = f": {outcome}" if outcome else ""
        closing = f"Retried at {_when(now)} and processed{done}."
        _close(session, event, closing, now, EventCause.QUARANTINE, record.job)
    return event


def discarded(session: Session, record: IntakeRecord) -> Ticket | None:
    """Close the event of a quarantined message an operator gave up on."""
    now = utcnow()
    event = _open_event(session, record.event_ticket_id)
    if event is not None:
        _close(
            session,
            event,
            f"Discarded at {_when(now)}: no ticket will be made from it. The raw message is"
            f" kept in the blob store for audit (SHA-256 {record.raw_sha256}).",
            now,
            EventCause.QUARANTINE,
            record.job,
        )
    return event


# ---- a mailbox that cannot be used -----------------------------------------------


def mailbox_failed(
    session: Session,
    blobs: BlobStore,
    job: JobConfig,
    error: SourceError | str,
    now: datetime,
) -> Ticket | None:
    """Report a failed run: the event, or None when the last report is under an hour old."""
    step = error.step.value if isinstance(error, SourceError) else "error"
    detail = str(error)

    def open_event() -> Ticket:
        event = _new_event(
            session,
            job.team,
            job.error_group or job.group,
            f'Mailbox of job "{job.name}" cannot be used: {step} failed',
            _mailbox_description(job, error, now),
            now,
            cause=EventCause.MAILBOX,
            job=job.name,
        )
        _attach(session, blobs, event, shown_configuration(job))
        return event

    every = timedelta(minutes=job.failure_note_minutes)
    event, reported = _report_failure(session, job.name, step, detail, now, open_event, every)
    return event if reported else None


def credential_expiring(
    session: Session, job: JobConfig, what: str, expires: datetime, now: datetime
) -> Ticket | None:
    """An event that the job's OAuth2 client secret or certificate expires soon; None when
    one for this date is still open (a new date, once renewed, gets its own)."""
    subject = f'The {what} of job "{job.name}" expires on {expires:%Y-%m-%d}'
    already = session.scalars(
        select(Ticket.id).where(
            Ticket.kind == TicketKind.EVENT,
            Ticket.subject == subject,
            Ticket.status != TicketStatus.CLOSED,
        )
    ).first()
    if already is not None:
        return None
    renew = " and set oauth2.secret_expires to its date" if what == "client secret" else ""
    description = (
        f'The {what} with which job "{job.name}" signs in to the identity provider expires'
        f" on {_when(expires)}. After that the job cannot read its mailbox.\n\n"
        "What to do: in the app registration (Entra ID: Certificates & secrets), add a new"
        f" {what}; put it where the job's oauth2 table names it{renew};"
        f" then test the connection with: {check_command(job)}\n"
    )
    group = job.error_group or job.group
    event = _new_event(
        session,
        job.team,
        group,
        subject,
        description,
        now,
        cause=EventCause.CREDENTIAL,
        job=job.name,
    )
    return event


def config_error_event(
    session: Session,
    job_name: str,
    file: Path | str,
    problem: str,
    *,
    team: str = "IT",
    group: str | None = None,
    now: datetime | None = None,
    blobs: BlobStore | None = None,
) -> Ticket:
    """Report a configuration file that cannot be used (the Octopus XML command line).

    Like a mailbox failure, one event while the problem lasts; the job's next
    good run (mailbox_recovered with the same job name) closes it. With `blobs`,
    the file is attached as it is, its passwords shown as ***.
    """
    now = now or utcnow()
    detail = f"{file}: {problem}"

    def open_event() -> Ticket:
        event = _new_event(
            session,
            team,
            group,
            f'Configuration error: job "{job_name}" cannot run',
            f'The job "{job_name}" stopped before reading any mail: its configuration'
            f" cannot be used.\n\nFile: {file}\nProblem: {problem}\nSince: {_when(now)}\n\n"
            "What to do: correct the file (the problem names the line); the next run"
            " that works closes this event. The file is attached, its passwords shown as ***.",
            now,
            cause=EventCause.CONFIGURATION,
            job=job_name,
        )
        shown = redacted_octopus_file(Path(file)) if blobs is not None else None
        if blobs is not None and shown is not None:
            _attach(session, blobs, event, shown)
        return event

    event, _reported = _report_failure(
        session, job_name, CONFIGURATION_STEP, detail, now, open_event
    )
    return event


def stored_job_refused_event(
    session: Session,
    job_name: str,
    revision: int,
    problem: str,
    outcome: str,
    *,
    team: str = "IT",
    group: str | None = None,
    now: datetime | None = None,
) -> Ticket:
    """Report settings of a database job that the daemon cannot load (one event per
    revision; the caller makes sure only one instance reports it)."""
    now = now or utcnow()
    return _new_event(
        session,
        team,
        group,
        f'Configuration error: job "{job_name}" revision {revision} refused',
        f'The settings of job "{job_name}" kept in the database (revision'
        f" {revision}) cannot be used by this deskmail: the job is {outcome}."
        f"\n\nProblem: {problem}\nSince: {_when(now)}\n\nWhat to do: correct the"
        " job through the catalog (web UI, API, or `deskmail config import --replace`);"
        " a job whose secrets cannot be decrypted needs the key they were sealed with"
        " (DESKMAIL_SECRET_KEY or the key file).",
        now,
        cause=EventCause.CONFIGURATION,
        job=job_name,
    )


def mailbox_recovered(session: Session, job: JobConfig, now: datetime) -> Ticket | None:
    """After a good run: close the job's open event, if any, and mark the job healthy."""
    health = session.scalars(
        select(JobHealth).where(JobHealth.job == job.name).with_for_update()
    ).first()
    if health is None or health.failing_since is None:
        return None
    event = _open_event(session, health.event_ticket_id)
    event_id = health.event_ticket_id
    if event is not None:
        since = health.failing_since
        _close(
            session,
            event,
            f"The mailbox works again ({_when(now)}). It had failed since {_when(since)}"
            f" ({_duration(now - since)}); the last problem was: {health.detail}",
            now,
            EventCause.CONFIGURATION if health.step == CONFIGURATION_STEP else EventCause.MAILBOX,
            job.name,
        )
    health.failing_since = health.step = health.detail = None
    health.event_ticket_id = health.last_reported_at = None
    queue_webhook(session, JobHealthChanged(job.name, True, None, None, event_id, now))
    return event


def webhook_endpoint_disabled(
    session: Session,
    team: str,
    group: str | None,
    endpoint_id: int,
    where: str,
    reason: str,
    now: datetime,
) -> Ticket:
    """Report a webhook endpoint disabled after sustained failure (webhooks/policy.py).

    `where`: its scheme and host only: a path or query may carry the receiver's token.
    """
    return _new_event(
        session,
        team,
        group,
        f"Webhook endpoint {endpoint_id} ({where}) was disabled",
        f"deskmail stopped posting webhooks to endpoint {endpoint_id} ({where}): {reason}.\n\n"
        "Events for it are no longer queued while it is disabled. What to do: fix the"
        " receiver, check it with `deskmail webhooks test"
        f" {endpoint_id}`, then `deskmail webhooks enable {endpoint_id}`; `deskmail webhooks"
        f" deliveries --endpoint {endpoint_id}` shows the attempts and the answers, and"
        " `deskmail webhooks redeliver ID` posts a failed delivery again.",
        now,
        cause=EventCause.WEBHOOK,
        job=None,
    )


def _attach(session: Session, blobs: BlobStore, event: Ticket, shown: ShownFile) -> None:
    name = safe_display_name(shown.name, "configuration")
    store_attachments(session, blobs, [make_attachment(name, shown.media_type, shown.data)], event)


def check_command(job: JobConfig) -> str:
    """The `deskmail check` command line for this job, as written for its own file."""
    return command_line(job.origin_file, "check", "--job", job.name)


def _mailbox_description(job: JobConfig, error: SourceError | str, now: datetime) -> str:
    step = error.step if isinstance(error, SourceError) else None
    hints = OCTOPUS_HINTS if job.from_octopus_xml else _HINTS
    hint = hints.get(step, "See the problem above.") if step else "See the problem above."
    if isinstance(error, SourceError) and error.hint:  # e.g. the exact command to sign in again
        hint = error.hint
    every = job.failure_note_minutes
    notes = (
        f"at most every {_duration(timedelta(minutes=every))}" if every else "on every failed run"
    )
    return (
        f'deskmail could not use the mailbox of job "{job.name}" ({_where(job)}).\n\n'
        f"Failed step: {step.value if step else 'unknown'}\n"
        f"Problem: {error}\n"
        f"Since: {_when(now)}\n\n"
        f"What to do: {hint}\n"
        f"Then test the connection with: {check_command(job)}\n\n"
        f"While the problem lasts, deskmail adds a note here {notes}"
        " instead of opening new events, and closes this event when the mailbox works"
        " again. The job's settings are attached, with every secret shown as ***."
    )


def _where(job: JobConfig) -> str:
    if job.protocol is Protocol.EWS:
        url = job.service_url or job.server or "autodiscover"
        return f"ews {job.user} at {url}, folder {job.folder}"
    if job.protocol in NETWORK_PROTOCOLS:
        return (
            f"{job.protocol.value} {job.user} at {job.server}:{job.effective_port},"
            f" folder {job.folder}"
        )
    return f"{job.protocol.value} {job.path}"


def _report_failure(
    session: Session,
    job_name: str,
    step: str,
    detail: str,
    now: datetime,
    open_event: Callable[[], Ticket],
    every: timedelta = REPORT_EVERY,
) -> tuple[Ticket, bool]:
    """The job's one open event, and whether this failure was written to it."""
    health = _health(session, job_name)
    health.step, health.detail = step, detail[:4000]
    event = _open_event(session, health.event_ticket_id) if health.failing_since else None
    if event is None:
        # First failure, or the event was closed by hand while the problem lasts.
        healthy = health.failing_since is None
        health.failing_since = health.failing_since or now
        event = open_event()
        health.event_ticket_id, health.last_reported_at = event.id, now
        if healthy:
            change = JobHealthChanged(job_name, False, step, now, event.id, now)
            queue_webhook(session, change)
        return event, True
    last = health.last_reported_at or health.failing_since
    if last is not None and now - last < every:
        return event, False
    since = health.failing_since
    assert since is not None  # set on the first failure
    _note(event, f"Still failing at {_when(now)} (since {_duration(now - since)}): {detail}", now)
    health.last_reported_at = now
    return event, True


def _health(session: Session, job_name: str) -> JobHealth:
    """The job's health row, locked; created if missing.

    Two instances failing at once: the loser of the insert takes the winner's row.
    """
    query = select(JobHealth).where(JobHealth.job == job_name).with_for_update()
    found = session.scalars(query).first()
    if found is not None:
        return found
    return insert_once(session, JobHealth(job=job_name), lambda: session.scalars(query).first())


# ---- shared ----------------------------------------------------------------------


def _new_event(
    session: Session,
    team_name: str,
    group_name: str | None,
    subject: str,
    description: str,
    now: datetime,
    *,
    cause: EventCause,
    job: str | None,
) -> Ticket:
    team = get_or_create(session, Team, team_name)
    event = Ticket(
        team_id=team.id,
        number=next_ticket_number(session, team.id),
        kind=TicketKind.EVENT,
        status=TicketStatus.NEW,
        subject=subject[:2000],
        description=description,
        group_id=get_or_create(session, Group, group_name).id if group_name else None,
        created_at=now,
        updated_at=now,
    )
    session.add(event)
    session.flush()
    reference = f"{team.name}-{event.number}"
    opened = EventOpened(event.id, reference, cause, job, now)
    # deskmail's own events are plain events, without values of custom fields.
    queue_webhook(session, opened, subject=subject, custom_fields=tuple)
    return event


def _open_event(session: Session, ticket_id: int | None) -> Ticket | None:
    if ticket_id is None:
        return None
    event = session.get(Ticket, ticket_id)
    if event is None or event.status is TicketStatus.CLOSED:
        return None
    return event


def _note(event: Ticket, body: str, now: datetime) -> None:
    event.activities.append(
        Activity(kind=ActivityKind.SYSTEM, body=body, occurred_at=now, created_at=now)
    )
    event.updated_at = now


def _close(
    session: Session, event: Ticket, body: str, now: datetime, cause: EventCause, job: str | None
) -> None:
    _note(event, body, now)
    event.status = TicketStatus.CLOSED
    reference = f"{event.team.name}-{event.number}"
    queue_webhook(session, EventClosed(event.id, reference, cause, job, now), subject=event.subject)


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _duration(span: timedelta) -> str:
    minutes = max(int(span.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} d"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if minutes or not parts:
        parts.append(f"{minutes} min")
    return " ".join(parts)


__all__ = [
    "REPORT_EVERY",
    "check_command",
    "config_error_event",
    "discarded",
    "mailbox_failed",
    "mailbox_recovered",
    "quarantine_event",
    "retried_ok",
    "stored_job_refused_event",
    "webhook_endpoint_disabled",
]
