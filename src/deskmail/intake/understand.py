"""From a parsed message to a plan: preprocess, thread, run the rules, pick attachments.

Shared by intake (inside the write transaction) and `deskmail explain`
(read-only), so the simulator can never disagree with what a run does.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from deskmail.apply.attachment_policy import AttachmentSelection, select_attachments
from deskmail.apply.attachments import inline_seen_from
from deskmail.apply.threads import StoreLookup
from deskmail.classify.loops import Bounce, is_bounce, is_out_of_office
from deskmail.classify.plan import Action, Plan, ThreadMatch
from deskmail.classify.references import find_reference
from deskmail.classify.rules import evaluate
from deskmail.classify.threading import TicketRef, find_thread, token_matches
from deskmail.config.models import JobConfig
from deskmail.outbound.flood import recent_ticket_for_sender
from deskmail.parse.message import ParsedMessage
from deskmail.preprocess import PreprocessResult, preprocess


@dataclass(frozen=True, slots=True)
class Understanding:
    preprocessed: PreprocessResult
    match: ThreadMatch | None
    plan: Plan
    attachments: AttachmentSelection


def understand(session: Session, job: JobConfig, message: ParsedMessage) -> Understanding:
    preprocessed = preprocess(message.text, job.preprocessing)
    lookup = StoreLookup(session)
    match = find_thread(message, lookup, job.team, job.reference_pattern)
    plan = _automatic_mail(message, lookup, job) or evaluate(job, message, preprocessed.text, match)
    plan = _limit_flood(session, job, message, plan)
    sender = message.sender.address if message.sender else None
    selection = select_attachments(
        message, job, lambda sha256: inline_seen_from(session, sender, sha256)
    )
    return Understanding(preprocessed, match, plan, selection)


def _automatic_mail(message: ParsedMessage, lookup: StoreLookup, job: JobConfig) -> Plan | None:
    """Bounces, feedback reports and out-of-office replies never open a ticket (nor reopen one)."""
    bounce = is_bounce(message)
    if bounce is not None:
        why = f"{bounce.kind} ({', '.join(bounce.signs)})"
        ticket, found_by = _returned_ticket(bounce, lookup, job)
        if ticket is not None:
            return Plan(
                Action.ADD_TO_TICKET,
                ticket_id=ticket.id,
                reasons=(
                    f"{why} for our mail {found_by} -> added to {ticket.team}-{ticket.number}",
                ),
            )
        return Plan(Action.IGNORE, reasons=(f"{why} for no mail of ours: recorded",))
    if is_out_of_office(message):
        return Plan(Action.IGNORE, reasons=("out-of-office reply: recorded, not ticketed",))
    return None


def _returned_ticket(
    bounce: Bounce, lookup: StoreLookup, job: JobConfig
) -> tuple[TicketRef | None, str]:
    """Our ticket the returned mail belongs to: by its Message-ID, or by the reference in its
    subject when that carries the ticket's token (a report comes from a stranger)."""
    original = bounce.original_message_id
    ticket = lookup.ticket_for_message_ids([original], job.team) if original else None
    if ticket is not None:
        return ticket, f"<{original}>"
    reference = (
        find_reference(bounce.original_subject, job.reference_pattern)
        if bounce.original_subject
        else None
    )
    if reference is None or reference.token is None:
        return None, ""
    ticket = lookup.ticket_by_number(reference.team or job.team, reference.number)
    if ticket is None or not token_matches(reference.token, ticket.token):
        return None, ""
    return ticket, f"(its reference {ticket.team}-{ticket.number} with the token)"


def _limit_flood(session: Session, job: JobConfig, message: ParsedMessage, plan: Plan) -> Plan:
    """Past new_tickets_per_sender_per_hour, new mail joins the sender's last ticket."""
    if plan.action not in (Action.CREATE_INCIDENT, Action.CREATE_EVENT) or message.sender is None:
        return plan
    recent = recent_ticket_for_sender(session, job, message.sender.normalized)
    if recent is None:
        return plan
    reason = (
        f"{message.sender.normalized} opened {job.new_tickets_per_sender_per_hour} tickets in"
        f" the last hour -> grouped on its last ticket {recent.team.name}-{recent.number}"
    )
    return replace(
        plan, action=Action.ADD_TO_TICKET, ticket_id=recent.id, reasons=(*plan.reasons, reason)
    )
