"""What can become of a mail, in order: one step per decision, each refining the Plan.

Shared by intake (inside the write transaction) and `deskmail explain`
(read-only), so the simulator can never disagree with what a run does.
Like Zammad's mail filters (app/models/channel/filter/), one module per
decision in one ordered list, but the steps pass a typed Plan, not a hash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from deskmail.classify import (
    attachment_policy,
    automatic_mail,
    create_new_requests,
    duplicate,
    extraction,
    flood_limit,
    rules,
    threading,
)
from deskmail.classify.lookups import Lookups
from deskmail.classify.mail import Mail
from deskmail.classify.plan import Plan, Traced


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    # The plan so far -> the plan refined, and one line on what was decided ("" for nothing).
    decide: Callable[[Mail, Plan, Lookups], tuple[Plan, str]]


STEPS: tuple[Step, ...] = (
    Step("duplicate", duplicate.decide),
    Step("thread and references", threading.decide),
    Step("automatic mail and bounces", automatic_mail.decide),
    Step("processing rules", rules.decide),
    Step("fields from the text", extraction.decide),
    Step("create new requests", create_new_requests.decide),
    Step("flood limit", flood_limit.decide),
    Step("attachment policy", attachment_policy.decide),
)


def classify(mail: Mail, lookups: Lookups) -> Plan:
    """Every step in order; the plan records what each decided (Plan.trace)."""
    plan = Plan()
    trace = []  # set once at the end: a replace() per step cost as much as some steps
    for step in STEPS:
        plan, said = step.decide(mail, plan, lookups)
        trace.append(Traced(step.name, said))
    return replace(plan, trace=tuple(trace))
