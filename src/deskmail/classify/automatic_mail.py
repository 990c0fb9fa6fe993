"""Bounces and out-of-office replies never open a ticket (nor reopen one); a bounce of our
own mail joins that mail's ticket. The signs are read in classify/loops.py."""

from __future__ import annotations

from dataclasses import replace

from deskmail.classify.lookups import Lookups
from deskmail.classify.loops import is_bounce, is_out_of_office
from deskmail.classify.mail import Mail
from deskmail.classify.plan import Plan
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
        original = bounce.original_message_id
        ticket = lookups.ticket_for_message_ids([original], mail.job.team) if original else None
        if ticket is not None:
            reason = (
                f"delivery report for our mail <{original}> -> added to {ticket.team}-"
                f"{ticket.number}"
            )
            return Fate.UPDATED, ticket.id, reason
        return Fate.IGNORED, None, "delivery report for no mail of ours: recorded"
    if is_out_of_office(mail.message):
        return Fate.IGNORED, None, "out-of-office reply: recorded, not ticketed"
    return None
