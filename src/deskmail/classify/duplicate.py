"""A copy of a mail already taken in (the same bytes under another key: a UIDVALIDITY
reset, a changed UIDL) is recorded against the first copy's ticket, not ticketed again."""

from __future__ import annotations

from dataclasses import replace

from deskmail.classify.lookups import Lookups
from deskmail.classify.mail import Mail
from deskmail.classify.plan import Plan
from deskmail.config.fate import Fate


def decide(mail: Mail, plan: Plan, lookups: Lookups) -> tuple[Plan, str]:
    if mail.sha256 is None:
        return plan, ""
    earlier = lookups.same_bytes(mail.sha256)
    if earlier is None:
        return plan, ""
    return replace(plan, fate=Fate.DUPLICATE, duplicate_of=earlier), "taken in before: recorded"
