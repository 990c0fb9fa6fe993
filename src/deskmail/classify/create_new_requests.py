"""create_new_requests = false (Octopus CreateNewRequests): a mailbox that takes no new requests.

A new ticket that no rule asked for (the default new ticket, a stranger's
linked ticket, add_to_ticket without a match) becomes DENY: no ticket, an
automatic reply is due. Adding to a ticket is unchanged, and so is a rule's
explicit create_incident / create_event: such rules are the exceptions
(monitoring events, a partner's domain) to a mailbox that takes no new
requests.
"""

from __future__ import annotations

from dataclasses import replace

from deskmail.classify.lookups import Lookups
from deskmail.classify.mail import Mail
from deskmail.classify.plan import Plan
from deskmail.config.fate import Fate


def decide(mail: Mail, plan: Plan, lookups: Lookups) -> tuple[Plan, str]:
    if plan.fate is not Fate.CREATED or mail.job.create_new_requests:
        return plan, ""
    if plan.by_rule:
        reason = "create_new_requests = false does not apply: a rule asked for it"
        return replace(plan, reasons=(*plan.reasons, reason)), reason
    reason = (
        f"create_new_requests = false -> no {plan.kind.value} is created; an automatic reply is due"
    )
    denied = replace(
        plan,
        fate=Fate.DENIED,
        ticket_id=None,
        link_to=None,
        reasons=(*plan.reasons, reason),
        auto_reply_due=True,
    )
    return denied, reason
