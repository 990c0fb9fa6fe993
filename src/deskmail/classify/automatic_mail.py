"""Bounces, feedback reports and out-of-office replies never open a ticket (nor reopen one);
a bounce of our own mail joins that mail's ticket. The signs are read in classify/loops.py
and classify/bounce_signs.py."""

from __future__ import annotations

from dataclasses import replace

from deskmail.classify.lookups import Lookups
from deskmail.classify.loops import Bounce, is_bounce, is_out_of_office
from deskmail.classify.mail import Mail
from deskmail.classify.plan import Plan
from deskmail.classify.references import find_reference
from deskmail.classify.threading import TicketRef, token_matches
from deskmail.config.fate import Fate


def decide(mail: Mail, plan: Plan, lookups: Lookups) -> tuple[Plan, str]:
    if plan.settled:
        return plan, ""
    decided = _automatic(mail, lookups)
    if decided is None:
        return plan, ""
    fate, ticket_id, reason = decided
    return replace(plan, fate=fate, ticket_id=ticket_id, reasons=(reason,)), reason


def _automatic(mail: Mail, lookups: Lookups) -> tuple[Fate, int | None, str] | None:
    bounce = is_bounce(mail.message)
    if bounce is not None:
        why = f"{bounce.kind} ({', '.join(bounce.signs)})"
        ticket, found_by = _returned_ticket(bounce, lookups, mail)
        if ticket is not None:
            reason = f"{why} for our mail {found_by} -> added to {ticket.team}-{ticket.number}"
            return Fate.UPDATED, ticket.id, reason
        return Fate.IGNORED, None, f"{why} for no mail of ours: recorded"
    if is_out_of_office(mail.message):
        return Fate.IGNORED, None, "out-of-office reply: recorded, not ticketed"
    return None


def _returned_ticket(bounce: Bounce, lookups: Lookups, mail: Mail) -> tuple[TicketRef | None, str]:
    """Our ticket the returned mail belongs to: by its Message-ID, or by the reference in its
    subject when that carries the ticket's token (a report comes from a stranger)."""
    job = mail.job
    original = bounce.original_message_id
    ticket = lookups.ticket_for_message_ids([original], job.team) if original else None
    if ticket is not None:
        return ticket, f"<{original}>"
    reference = (
        find_reference(bounce.original_subject, job.reference_pattern)
        if bounce.original_subject
        else None
    )
    if reference is None or reference.token is None:
        return None, ""
    ticket = lookups.ticket_by_number(reference.team or job.team, reference.number)
    if ticket is None or not token_matches(reference.token, ticket.token):
        return None, ""
    return ticket, f"(its reference {ticket.team}-{ticket.number} with the token)"
