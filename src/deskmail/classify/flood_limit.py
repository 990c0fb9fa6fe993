"""The per-sender limit on new tickets: past it, further mail joins the sender's last ticket.

A mail loop with a system that answers each mail with a fresh one, or a
script gone wrong, would otherwise open a ticket per mail. The count is the
store's (apply/recent_tickets.py): only tickets this job created from mail count.
"""

from __future__ import annotations

from dataclasses import replace

from deskmail.classify.lookups import Lookups
from deskmail.classify.mail import Mail
from deskmail.classify.plan import Plan
from deskmail.config.fate import Fate


def decide(mail: Mail, plan: Plan, lookups: Lookups) -> tuple[Plan, str]:
    sender = mail.message.sender
    if plan.fate is not Fate.CREATED or sender is None:
        return plan, ""
    limit = mail.job.new_tickets_per_sender_per_hour
    recent = lookups.recent_ticket(sender.normalized, limit)
    if recent is None:
        return plan, ""
    reason = (
        f"{sender.normalized} opened {limit} tickets in the last hour -> grouped on its"
        f" last ticket {recent.team}-{recent.number}"
    )
    grouped = replace(plan, fate=Fate.UPDATED, ticket_id=recent.id, reasons=(*plan.reasons, reason))
    return grouped, reason
