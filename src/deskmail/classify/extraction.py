"""Fields from the mail's text: what the rules' named groups set on a new ticket.

The processing rules step captured the named groups of the rules that fired
(Plan.captures, in rule order). Here each capture becomes a field value:

  * a group named in the rule's `map` is looked up in its table (keys ignore
    case); the table's value, or its default, sets the map's target (priority,
    group, category or site). A value in no row, without a default, sets nothing.
  * a group named priority, group, category or site sets that field of the
    ticket, overriding what `set` tables and the job gave it; a group or site
    only when one of that name exists (apply/draft.py): a mail creates none;
  * a group named as a custom field sets it, checked against its declaration
    (config/custom_fields.py): "abc" for a number leaves the field empty, and
    Plan.field_problems says which field and why (never the value, mail text),
    for explain, the log and a note on the ticket. A field that the record's
    type does not have is left out the same way.

A later rule's value wins over an earlier one's, and a captured value that
fits wins over the fixed value a rule's `set.custom` gives the same field
(classify/rules.py put those in Plan.extracted before): `set` is the default,
the mail's own value the more precise one, as for the built-in fields. Only a
new ticket takes fields: a mail added to a ticket changes none of its fields.
"""

from __future__ import annotations

import unicodedata
from dataclasses import replace

from deskmail.classify.lookups import Lookups
from deskmail.classify.mail import Mail
from deskmail.classify.plan import Capture, Extracted, Plan
from deskmail.config.custom_fields import BUILTIN_FIELDS
from deskmail.config.fate import Fate
from deskmail.config.object_types import Records
from deskmail.config.rules import RuleConfig

# The widths of the ticket's columns (store/models.py): longer values are refused, not cut,
# since a cut group or site name would name another one.
_WIDTHS = {"priority": 100, "category": 200, "group": 200, "site": 200}
NAMES = ("group", "site")  # fields that name a row: taken only when the row exists


def decide(mail: Mail, plan: Plan, lookups: Lookups) -> tuple[Plan, str]:
    """The step: the captures of the rules step turned into the new ticket's fields."""
    if not plan.captures:
        return plan, ""
    if plan.fate is not Fate.CREATED:
        return plan, "nothing: fields are set on new tickets only"
    records = mail.job.records
    extracted: list[Extracted] = []
    for capture in plan.captures:
        rule = mail.job.rules[capture.position]
        extracted += _extract(capture, rule, records, plan.object_type)
    # A group or site named by the mail itself is taken by apply/draft.py, and only when
    # one of that name exists: a mail does not create groups. Until then the plan keeps
    # the name the configuration gives, which stays when the mail's names none.
    settings = plan.settings.model_copy(
        update={
            e.field: e.value
            for e in extracted
            if not e.custom and e.value is not None and (e.mapped or e.field not in NAMES)
        }
    )
    # After the values of the rules' set tables (classify/rules.py): a capture that fits wins.
    plan = replace(plan, extracted=(*plan.extracted, *extracted), settings=settings)
    taken = sorted({e.field for e in extracted if e.value is not None})
    said = "set " + ", ".join(taken) if taken else "set nothing"
    problems = sum(1 for e in extracted if e.problem)
    if problems:
        said += f"; {problems} value{'s' if problems > 1 else ''} left out (see the fields)"
    return plan, said


def _extract(
    capture: Capture, rule: RuleConfig, records: Records, object_type: str | None
) -> list[Extracted]:
    found: list[Extracted] = []
    table = rule.map.get(capture.group)
    if table is not None:
        mapped = table.lookup(capture.text)
        problem = (
            ""
            if mapped is not None
            else (f"the captured value is in no row of map.{capture.group}, which has no default")
        )
        found.append(
            Extracted(rule.name, capture.group, table.to, False, mapped, problem, mapped=True)
        )
    if capture.group in BUILTIN_FIELDS:
        value, problem = _builtin(capture.group, capture.text)
        found.append(Extracted(rule.name, capture.group, capture.group, False, value, problem))
    elif records.custom_field(capture.group) is not None:
        found.append(_custom(capture, records, object_type))
    return found


def _builtin(field: str, text: str) -> tuple[str | None, str]:
    value = text.strip()
    if not value:
        return None, "the captured value is empty"
    if any(unicodedata.category(char) == "Cc" for char in value):
        return None, "the captured value has control characters"
    if len(value) > _WIDTHS[field]:
        return None, f"the captured value is longer than {_WIDTHS[field]} characters"
    return value, ""


def _custom(capture: Capture, records: Records, object_type: str | None) -> Extracted:
    value, problem = records.value_of(object_type, capture.group, capture.text)
    return Extracted(capture.rule, capture.group, capture.group, True, value, problem)
