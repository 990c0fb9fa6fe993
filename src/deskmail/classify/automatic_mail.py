"""Bounces and out-of-office replies never open a ticket (nor reopen one); a bounce of our
own mail joins that mail's ticket. The signs are read in classify/loops.py."""

from __future__ import annotations

from dataclasses import replace

from deskmail.classify.lookups import Lookups
from deskmail.classify.loops import is_bounce, is_out_of_office
from deskmail.classify.mail import Mail
from deskmail.classify.plan import Action, Plan


def decide(mail: Mail, plan: Plan, lookups: Lookups) -> tuple[Plan, str]:
    if plan.settled:
        return plan, ""
    decided = _automatic(mail, lookups)
    if decided is None:
        return plan, ""
    action, ticket_id, reason = decided
    return replace(plan, action=action, ticket_id=ticket_id, reasons=(reason,)), reason


def _automatic(mail: Mail, lookups: Lookups) -> tuple[Action, int | None, str] | None:
    bounce = is_bounce(mail.message)
    if bounce is not None:
        original = bounce.original_message_id
        ticket = lookups.ticket_for_message_ids([original], mail.job.team) if original else None
        if ticket is not None:
            reason = (
                f"delivery report for our mail <{original}> -> added to {ticket.team}-"
                f"{ticket.number}"
            )
            return Action.ADD_TO_TICKET, ticket.id, reason
        return Action.IGNORE, None, "delivery report for no mail of ours: recorded"
    if is_out_of_office(mail.message):
        return Action.IGNORE, None, "out-of-office reply: recorded, not ticketed"
    return None
