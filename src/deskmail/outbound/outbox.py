"""The outbox: automatic mail queued with its cause, sent after commit.

`queue` runs inside the intake transaction: the mail is rendered and stored
as an OutgoingMail row together with the ticket, so a rolled-back ticket
sends nothing and a committed one cannot lose its mail. The loop rules and
the per-recipient daily cap are applied there; a mail they stop is stored
as SUPPRESSED with the reason, so an administrator can see it.

`deliver_pending` runs after commit and sends the job's PENDING rows. Each
row is claimed (its attempt counted) in one short transaction and marked
sent in another, with the SMTP exchange in between and outside any
transaction: the database is never locked while a server is slow, and a
crash between sending and marking re-sends at most that one mail. Only one
process delivers a job's outbox at a time (the daemon's job lease).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from deskmail.apply.threads import record_message
from deskmail.classify.loops import auto_reply_blocker
from deskmail.classify.references import format_reference
from deskmail.config.errors import ConfigError
from deskmail.config.models import DeskmailConfig, JobConfig, SmtpConfig
from deskmail.config.secrets import resolve_smtp_password
from deskmail.outbound.compose import (
    build_message,
    clean_message_id,
    header_text,
    mail_address,
    new_message_id,
    subject_line,
)
from deskmail.outbound.smtp import SmtpError, SmtpSession, smtp_endpoint
from deskmail.outbound.templates import TemplateError, templates_for
from deskmail.parse.message import ParsedMessage
from deskmail.sources.base import BearerTokens
from deskmail.sources.errors import SourceError, Step
from deskmail.store.engine import Store
from deskmail.store.models import (
    Activity,
    ActivityKind,
    OutboxStatus,
    OutgoingMail,
    Ticket,
    utcnow,
)

log = logging.getLogger(__name__)
_WARNED_NO_SMTP: set[tuple[str, MailKind]] = set()

MAX_ATTEMPTS = 5  # then FAILED; each run of the job is one attempt
CAP_WINDOW = timedelta(hours=24)
MAX_QUOTED_TEXT = 10_000  # characters of the answered mail offered to templates
_MAX_RECIPIENT = 320  # the width of outgoing_mail.recipient


class MailKind(StrEnum):
    ACKNOWLEDGEMENT = "acknowledgement"  # a ticket was created (send_acknowledgement)
    DENIED = "denied"  # create_new_requests = false (Octopus "denied request creation")
    GROUP_NOTICE = "group_notice"  # a ticket got a new mail activity (notify_group_address)


# Kinds that answer the sender of a mail: the In-Reply-To rule and the daily cap
# apply. A group notice goes to our own staff and is not an answer.
ANSWERS = frozenset({MailKind.ACKNOWLEDGEMENT, MailKind.DENIED})


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0  # failed this time; tried again on the next delivery
    failed: int = 0  # given up: refused for good or MAX_ATTEMPTS reached
    errors: list[str] = field(default_factory=list)


def smtp_settings(config: DeskmailConfig, job: JobConfig) -> SmtpConfig | None:
    """The job's own [smtp] table, else the global one; None: the job sends no mail."""
    return job.smtp or config.smtp


def sender_address(job: JobConfig, smtp: SmtpConfig) -> str:
    """The From of the job's mail: the mailbox's own address, else the SMTP from_address."""
    return job.address or smtp.from_address


def own_addresses(config: DeskmailConfig, job: JobConfig) -> set[str]:
    """Every address that is this desk's, lower-cased: mail from them is our own."""
    candidates = [job.address, job.user if "@" in job.user else None]
    candidates += [smtp.from_address for smtp in (job.smtp, config.smtp) if smtp is not None]
    return {address.strip().lower() for address in candidates if address and address.strip()}


def queue(
    session: Session,
    config: DeskmailConfig,
    job: JobConfig,
    kind: MailKind,
    ticket: Ticket | None,
    to: str,
    answering: ParsedMessage | None = None,
    context: Mapping[str, object] | None = None,
) -> OutgoingMail | None:
    """Store one automatic mail for `deliver_pending`; None when the job has no SMTP settings.

    `answering` is the mail that caused it (for acknowledgements and denials
    the one answered: its sender is `to`). `context` adds template variables.
    The row is returned whatever its status: PENDING, SUPPRESSED (with the
    reason in last_error) or FAILED (a broken template, named in last_error).
    Flushes, never commits.
    """
    smtp = smtp_settings(config, job)
    if smtp is None:
        if (job.name, kind) not in _WARNED_NO_SMTP:  # once per process, not once per mail
            _WARNED_NO_SMTP.add((job.name, kind))
            log.warning(
                "job %s: no [smtp] settings; %s mails are not sent (first to %s)",
                job.name,
                kind.value,
                to,
            )
        return None
    sender = sender_address(job, smtp)
    try:
        message_id = new_message_id(sender)
    except ValueError as exc:  # the loader checks less than sending needs
        log.error("job %s: %s not sent: our From address %s", job.name, kind.value, exc)
        return None
    reference = _reference(ticket)
    row = OutgoingMail(
        job=job.name,
        kind=kind.value,
        ticket_id=ticket.id if ticket is not None else None,
        recipient=header_text(to, _MAX_RECIPIENT).lower(),
        subject="",
        body_text="",
        message_id=message_id,
        status=OutboxStatus.PENDING,
        attempts=0,
    )
    if kind in ANSWERS and answering is not None:
        row.in_reply_to = clean_message_id(answering.message_id)
    try:
        variables = _variables(kind, job, smtp, sender, ticket, reference, answering, context)
        rendered = templates_for(config.templates_dir).render(kind.value, variables)
        row.subject = subject_line(reference, rendered.subject)
        row.body_text, row.body_html = rendered.text, rendered.html
        domain = sender.rpartition("@")[2] if kind in ANSWERS else None
        own = own_addresses(config, job)
        reason = _stopped(session, job, kind, row.recipient, answering, own, domain)
    except TemplateError as exc:
        row.status, row.last_error = OutboxStatus.FAILED, str(exc)
        log.error("job %s: %s not sent: %s", job.name, kind.value, exc)
    else:
        if reason:
            row.status, row.last_error = OutboxStatus.SUPPRESSED, reason
            log.info("job %s: %s to %s suppressed: %s", job.name, kind.value, row.recipient, reason)
    session.add(row)
    session.flush()
    return row


def deliver_pending(
    store: Store, config: DeskmailConfig, job: JobConfig, *, max_attempts: int = MAX_ATTEMPTS
) -> DeliveryReport:
    """Send the job's PENDING mail, oldest first. Never raises for a mail or server problem.

    A mail the server refuses is retried on the next call (FAILED after
    `max_attempts`, or at once for a permanent 5xx refusal); a server that
    cannot be reached or logged into ends this delivery, and the rest waits.
    """
    report = DeliveryReport()
    smtp = smtp_settings(config, job)
    if smtp is None:
        return report
    with store.session() as session:
        ids = session.scalars(
            select(OutgoingMail.id)
            .where(OutgoingMail.job == job.name, OutgoingMail.status == OutboxStatus.PENDING)
            .order_by(OutgoingMail.id)
        ).all()
    if not ids:
        return report
    sender = sender_address(job, smtp)
    connection: SmtpSession | None = None
    try:
        for row_id in ids:
            claimed = _claim(store, row_id)
            if claimed is None:
                continue  # sent or given up meanwhile
            try:
                message = _message(claimed, smtp, sender)
                if connection is None:
                    connection = SmtpSession(
                        smtp,
                        _smtp_password(config, job, smtp),
                        _smtp_tokens(store, config, job, smtp),
                    )
                    connection.open()
                connection.send(message, [claimed.recipient])
            except SmtpError as exc:
                _failed(store, claimed, exc, max_attempts, report)
                if exc.refused:
                    continue
                break  # the server, not this mail: the rest waits for the next delivery
            # Sent. A crash before this commits re-sends this one mail, nothing else.
            _sent(store, claimed, sender, smtp)
            report.sent += 1
    finally:
        if connection is not None:
            connection.close()
    return report


# --- queueing ---------------------------------------------------------------------------


def _reference(ticket: Ticket | None) -> str | None:
    if ticket is None:
        return None
    try:
        return format_reference(ticket.kind.value, ticket.team.name, ticket.number, ticket.token)
    except ValueError as exc:  # a team name that cannot be written in a subject
        log.warning("ticket %s: no reference in the subject: %s", ticket.id, exc)
        return None


def _variables(
    kind: MailKind,
    job: JobConfig,
    smtp: SmtpConfig,
    sender: str,
    ticket: Ticket | None,
    reference: str | None,
    answering: ParsedMessage | None,
    context: Mapping[str, object] | None,
) -> dict[str, object]:
    """What templates see: plain values, never database objects."""
    variables: dict[str, object] = {
        "kind": kind.value,
        "job": job.name,
        "desk": {"name": smtp.from_name, "address": sender},
        "reference": reference,
        "ticket": None,
        "message": None,
    }
    if ticket is not None:
        variables["ticket"] = {
            "number": ticket.number,
            "subject": ticket.subject,
            "kind": ticket.kind.value,
            "team": ticket.team.name,
            "status": ticket.status.value,
            "reference": reference,
        }
    if answering is not None:
        variables["message"] = {
            "subject": answering.subject,
            "sender_name": answering.sender.name if answering.sender else "",
            "sender_address": answering.sender.address if answering.sender else "",
            "date": answering.date,
            "text": answering.text[:MAX_QUOTED_TEXT],
        }
    variables.update(context or {})
    return variables


def _stopped(
    session: Session,
    job: JobConfig,
    kind: MailKind,
    recipient: str,
    answering: ParsedMessage | None,
    own: set[str],
    own_domain: str | None,
) -> str | None:
    """Why this mail must not go out, or None. `own_domain` None: not an answer."""
    try:
        mail_address(recipient)
    except ValueError as exc:
        return str(exc)
    if recipient in own:
        return "the recipient is this desk's own address"
    if answering is not None:
        blocker = auto_reply_blocker(answering, own, own_domain)
        if blocker:
            return f"loop protection: {blocker}"
    if kind in ANSWERS:
        limit = job.auto_reply_limit_per_day
        if _sent_recently(session, job, recipient) >= limit:
            return f"daily limit reached: {limit} automatic mails to this recipient in 24 hours"
    return None


def _sent_recently(session: Session, job: JobConfig, recipient: str) -> int:
    counted = session.scalar(
        select(func.count())
        .select_from(OutgoingMail)
        .where(
            OutgoingMail.job == job.name,
            OutgoingMail.recipient == recipient,
            OutgoingMail.kind.in_([kind.value for kind in ANSWERS]),
            OutgoingMail.status.in_([OutboxStatus.SENT, OutboxStatus.PENDING]),
            OutgoingMail.created_at >= utcnow() - CAP_WINDOW,
        )
    )
    return int(counted or 0)


# --- delivering -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    ticket_id: int | None
    recipient: str
    subject: str
    body_text: str
    body_html: str | None
    message_id: str
    in_reply_to: str | None
    attempts: int


def _claim(store: Store, row_id: int) -> _Claimed | None:
    """Count the attempt before sending, so a mail that crashes us is not tried forever."""
    with store.transaction() as session:
        row = session.get(OutgoingMail, row_id, with_for_update=True)
        if row is None or row.status is not OutboxStatus.PENDING:
            return None
        row.attempts += 1
        return _Claimed(
            id=row.id,
            ticket_id=row.ticket_id,
            recipient=row.recipient,
            subject=row.subject,
            body_text=row.body_text,
            body_html=row.body_html,
            message_id=row.message_id,
            in_reply_to=row.in_reply_to,
            attempts=row.attempts,
        )


def _message(claimed: _Claimed, smtp: SmtpConfig, sender: str) -> EmailMessage:
    try:
        return build_message(
            from_name=smtp.from_name,
            from_address=sender,
            to=claimed.recipient,
            subject=claimed.subject,
            text=claimed.body_text,
            html=claimed.body_html,
            message_id=claimed.message_id,
            in_reply_to=claimed.in_reply_to,
        )
    except ValueError as exc:  # nothing to retry: the same row builds the same mail
        raise SmtpError(
            Step.PROTOCOL, f"cannot build the mail: {exc}", refused=True, permanent=True
        ) from exc


def _smtp_password(config: DeskmailConfig, job: JobConfig, smtp: SmtpConfig) -> str | None:
    if job.smtp is not None:
        where, key = job.origin_file, job.key("smtp")
    else:
        where, key = config.source_file, "smtp"
    try:
        return resolve_smtp_password(smtp, file=where, key=key)
    except ConfigError as exc:
        raise SmtpError(Step.SECRET, str(exc), server=smtp_endpoint(smtp)) from exc


def _smtp_tokens(
    store: Store, config: DeskmailConfig, job: JobConfig, smtp: SmtpConfig
) -> BearerTokens | None:
    """XOAUTH2 tokens for the job's own [smtp] table or the global one, None for a password."""
    if smtp.oauth2 is None:
        return None
    from deskmail.auth.tokens import smtp_tokens

    try:
        return smtp_tokens(config, job, store)
    except ConfigError as exc:
        raise SmtpError(Step.SECRET, str(exc), server=smtp_endpoint(smtp)) from exc
    except SourceError as exc:
        raise SmtpError(exc.step, exc.detail, server=smtp_endpoint(smtp)) from exc


def _sent(store: Store, claimed: _Claimed, sender: str, smtp: SmtpConfig) -> None:
    """Mark the row sent and record the mail on its ticket, so replies to it thread."""
    with store.transaction() as session:
        row = session.get(OutgoingMail, claimed.id)
        if row is None:
            return
        now = utcnow()
        row.status, row.sent_at, row.last_error = OutboxStatus.SENT, now, None
        ticket = session.get(Ticket, row.ticket_id) if row.ticket_id is not None else None
        if ticket is None:  # a denial answers a mail that made no ticket
            return
        activity = Activity(
            ticket_id=ticket.id,
            kind=ActivityKind.MAIL,
            from_address=sender,
            from_name=smtp.from_name,
            subject=row.subject,
            body=row.body_text,
            occurred_at=now,
        )
        session.add(activity)
        session.flush()
        row.activity_id = activity.id
        record_message(session, ticket, activity, row.message_id, "out")


def _failed(
    store: Store, claimed: _Claimed, exc: SmtpError, max_attempts: int, report: DeliveryReport
) -> None:
    give_up = (exc.refused and exc.permanent) or claimed.attempts >= max_attempts
    with store.transaction() as session:
        row = session.get(OutgoingMail, claimed.id)
        if row is not None:
            row.last_error = str(exc)
            if give_up:
                row.status = OutboxStatus.FAILED
    if give_up:
        report.failed += 1
    else:
        report.retrying += 1
    report.errors.append(f"{claimed.recipient}: {exc}")
    log.warning(
        "outgoing mail %s to %s %s: %s",
        claimed.id,
        claimed.recipient,
        "failed for good" if give_up else f"failed (attempt {claimed.attempts})",
        exc,
    )
