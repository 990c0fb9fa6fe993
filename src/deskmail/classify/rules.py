"""Processing rules: what one parsed, preprocessed mail becomes (a Plan).

Pure: no database, no I/O. Runs once per message; conditions are compiled
once per rule (cached, keyed by the frozen rule config).

Rules (job.rules, in order)
  * A disabled rule is skipped. A rule matches when all (match = "all") or any
    (match = "any") of its conditions hold; a rule without conditions always
    matches.
  * A matching rule's `set` values override the job's defaults and earlier
    rules' values field by field (later matching rules win). Its set.custom
    values (checked at load against their fields' declarations) become the new
    record's custom fields (Plan.extracted, given), unless the record's type
    does not have the field; a captured value of the same field overrides them
    (classify/extraction.py).
  * The first matching rule with an action decides the action; a later
    matching rule's action is ignored (its settings still apply).
  * `stop` on a matching rule ends the evaluation after that rule.

Conditions
  * contains / equals: case-insensitive (Unicode case folding, NFC); equals
    compares whole values, ignoring surrounding white space.
  * regex: RE2 search, case-insensitive (config/user_patterns.py: linear time,
    so no pattern can hang a run). Its named groups, when the rule matches,
    are captured (Plan.captures) for the next step, classify/extraction.py.
  * domain (from, to, cc only): the address's domain is the value or a
    sub-domain of it: example.com matches a@mail.example.com, not
    a@badexample.com. Internationalised domains compare in their IDNA form.
  * exists: the field has a value that is not blank.
  * from, to and cc give, per address, the address and the display name as
    separate values; attachment gives every attachment's file name (inline
    ones too); header:<Name> gives every occurrence of that header; body is
    the preprocessed text. A multi-valued field matches when any value does.
    `negate` inverts the whole condition ("no recipient is in example.com").

The action, when no rule decided one (Octopus's behaviour)
  * The mail answers a ticket (match, by In-Reply-To / References or a subject
    reference) and its sender may post to it (ThreadMatch.may_post: a
    participant, or the reference carries the ticket's token): add to it.
  * The mail quotes a ticket it may not post to (a stranger with a bare
    number): stranger_replies = "new_ticket" (default) opens a new ticket
    linked to the quoted one; "add_activity" adds to it anyway.
  * Otherwise a new ticket: an incident, or an event with processor = "event".
  A rule's add_to_ticket follows the same threading result (a stranger is
  still not let in); without a match it falls back to a new ticket. A rule's
  create_incident / create_event on a mail that answers a ticket opens a new
  ticket linked to it. create (with object_type) does the same for a record of
  a configured object type, made as its kind (incident or event).
  ignore records the mail without a ticket.

create_new_requests = false is the next step (classify/create_new_requests.py);
Plan.by_rule tells it whether a rule asked for the new ticket.

Settings
  The job's group, source and team, its assignee for events only (the
  Octopus event processor's <group> and <assignee>), site None (the apply
  stage takes the sender's site or the fallback site), then the matching
  rules' values.

Every decision step adds one line to Plan.reasons, for `deskmail explain`
and the log.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from deskmail.classify.lookups import Lookups
from deskmail.classify.mail import Mail
from deskmail.classify.plan import Capture, Extracted, MatchedBy, Plan, ThreadMatch
from deskmail.config.fate import Fate, TicketKind
from deskmail.config.models import JobConfig, Processor, StrangerReplies
from deskmail.config.rules import (
    Condition,
    MatchMode,
    Operator,
    RuleAction,
    RuleConfig,
    TicketSettings,
)
from deskmail.config.user_patterns import compile_user_pattern
from deskmail.parse.message import Address, ParsedMessage

# The values a condition looks at, from the message and the preprocessed body.
Values = Callable[[ParsedMessage, str], Sequence[str]]

_ADDRESSES: dict[str, Callable[[ParsedMessage], Sequence[Address]]] = {
    "from": lambda message: (message.sender,) if message.sender else (),
    "to": lambda message: message.to,
    "cc": lambda message: message.cc,
}
_OTHER_FIELDS: dict[str, Values] = {
    "subject": lambda message, body: (message.subject,),
    "body": lambda message, body: (body,),
    "attachment": lambda message, body: tuple(part.filename for part in message.attachments),
}


def decide(mail: Mail, plan: Plan, lookups: Lookups) -> tuple[Plan, str]:
    """The step: the rules and the threading result decide, unless a step before did."""
    if plan.settled:
        return plan, ""
    decided = evaluate(mail.job, mail.message, mail.text, plan.match)
    # What the steps before found stays: the rules set the rest.
    return replace(decided, match=plan.match, trace=plan.trace), decided.reasons[-1]


def evaluate(job: JobConfig, message: ParsedMessage, body: str, match: ThreadMatch | None) -> Plan:
    """What the rules make of `message` for `job`; `match` is the threading result."""
    reasons: list[str] = []
    fired: list[str] = []
    captures: list[Capture] = []
    decider: RuleConfig | None = None
    chosen: dict[str, str] = {}
    given: list[tuple[str, str, str]] = []  # (rule, custom field, value as configured)
    for position, rule in enumerate(job.rules):
        if not rule.enabled:
            continue
        held = _compile(rule).holds(message, body)
        if held is None:
            continue
        fired.append(rule.name)
        captures += _captures(rule, position, held, message, body)
        effects: list[str] = []
        if rule.action is not None:
            if decider is None:
                decider = rule
                effects.append(_action(rule))
            else:
                effects.append(
                    f"{rule.action.value} ignored (rule {_quote(decider.name)} decided first)"
                )
        fields = rule.set.fields
        chosen.update(fields)
        given += [(rule.name, name, value) for name, value in rule.set.custom.items()]
        said = [f"{k} = {_quote(v)}" for k, v in fields.items()]
        said += [f"custom.{k} = {_quote(v)}" for k, v in rule.set.custom.items()]
        if said:
            effects.append("set " + ", ".join(said))
        if rule.captures:
            effects.append("capture " + ", ".join(rule.captures))
        if rule.stop:
            effects.append("stop")
        reasons.append(f"rule {_quote(rule.name)}: {_describe(rule, held)} -> {'; '.join(effects)}")
        if rule.stop:
            break

    outcome = _decide(job, decider, match)
    reasons.append(outcome.reason)
    return Plan(
        fate=outcome.fate,
        kind=outcome.kind,
        object_type=outcome.object_type,
        captures=tuple(captures),
        ticket_id=outcome.ticket_id,
        settings=_settings(job, outcome, chosen),
        link_to=outcome.link_to,
        rules_fired=tuple(fired),
        reasons=tuple(reasons),
        by_rule=outcome.by_rule,
        extracted=_given(job, outcome, given),
    )


def _given(
    job: JobConfig, outcome: _Outcome, given: list[tuple[str, str, str]]
) -> tuple[Extracted, ...]:
    """The rules' set.custom values for a new record, in its type's stored form."""
    if outcome.fate is not Fate.CREATED:
        return ()
    found = []
    for rule, name, text in given:
        value, problem = job.records.value_of(outcome.object_type, name, text)
        found.append(Extracted(rule, "", name, True, value, problem, given=True))
    return tuple(found)


# --- the action ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Outcome:
    fate: Fate  # CREATED, UPDATED or IGNORED: create_new_requests is the next step
    reason: str
    kind: TicketKind = TicketKind.INCIDENT  # of a new ticket
    ticket_id: int | None = None  # add to this ticket
    link_to: int | None = None  # the new ticket links to this one
    by_rule: bool = False  # a rule's create_*: create_new_requests = false allows it (next step)
    object_type: str | None = None  # a rule's create: a record of this type


_ASKED_KIND = {
    RuleAction.CREATE_INCIDENT: TicketKind.INCIDENT,
    RuleAction.CREATE_EVENT: TicketKind.EVENT,
}


def _decide(job: JobConfig, decider: RuleConfig | None, match: ThreadMatch | None) -> _Outcome:
    """The outcome before create_new_requests is applied."""
    ruled = decider.action if decider is not None else None
    by = f"as rule {_quote(decider.name)} decided" if decider is not None else ""
    if ruled is RuleAction.IGNORE:
        return _Outcome(Fate.IGNORED, f"ignore {by}: recorded, no ticket")
    kind = _ASKED_KIND.get(ruled) if ruled is not None else None
    made = kind.value if kind is not None else ""
    object_type = None
    if ruled is RuleAction.CREATE and decider is not None and decider.object_type:
        # The loader checked the name against the file's [[object_types]].
        declared = job.records.object_type(decider.object_type)
        if declared is None:
            raise LookupError(
                f"rule {decider.name!r}: object type {decider.object_type!r} is not declared"
            )
        kind, object_type = declared.kind, declared.name
        made = f"{declared.shown} ({declared.name}, made as {kind.value})"
    if kind is not None:
        if match is None:
            return _Outcome(
                Fate.CREATED, f"new {made} {by}", kind, by_rule=True, object_type=object_type
            )
        return _Outcome(
            Fate.CREATED,
            f"new {made} {by}, linked to {match.label} which the mail answers",
            kind,
            link_to=match.ticket_id,
            by_rule=True,
            object_type=object_type,
        )
    # No action decided, or add_to_ticket: both follow threading.
    default = TicketKind.EVENT if job.processor is Processor.EVENT else TicketKind.INCIDENT
    new = f"new {default.value} (processor = {job.processor.value})"
    if match is None:
        lead = f"add_to_ticket {by}, but the mail" if ruled is not None else "the mail"
        return _Outcome(Fate.CREATED, f"{lead} answers no ticket -> {new}", default)
    found = f"{_found_by(match)} -> {match.label}"
    if match.may_post:
        reason = f"{found}, {_why(match)} -> add to ticket"
        return _Outcome(Fate.UPDATED, reason, ticket_id=match.ticket_id)
    stranger = f"{found}, but the sender is not on it and the reference has no token"
    if job.stranger_replies is StrangerReplies.ADD_ACTIVITY:
        reason = f"{stranger} -> add to ticket anyway (stranger_replies = add_activity)"
        return _Outcome(Fate.UPDATED, reason, ticket_id=match.ticket_id)
    reason = f"{stranger} -> {new} linked to {match.label} (stranger_replies = new_ticket)"
    return _Outcome(Fate.CREATED, reason, default, link_to=match.ticket_id)


def _found_by(match: ThreadMatch) -> str:
    if match.matched_by is MatchedBy.MESSAGE_ID:
        return "In-Reply-To/References"
    return "subject reference"


def _why(match: ThreadMatch) -> str:
    if match.sender_allowed:
        return "sender is a participant"
    return "the reference carries the ticket's token"


def _settings(job: JobConfig, outcome: _Outcome, chosen: dict[str, str]) -> TicketSettings:
    event = outcome.fate is Fate.CREATED and outcome.kind is TicketKind.EVENT
    defaults = TicketSettings(
        group=job.group,
        assignee=job.assignee if event else None,
        source=job.source,
        team=job.team,
    )
    return defaults.model_copy(update=chosen)


# --- conditions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Compiled:
    values: Values
    test: Callable[[str], bool]  # on one value
    negate: bool

    def __call__(self, message: ParsedMessage, body: str) -> bool:
        return any(self.test(value) for value in self.values(message, body)) != self.negate


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    rule: RuleConfig
    conditions: tuple[_Compiled, ...]

    def holds(self, message: ParsedMessage, body: str) -> list[Condition] | None:
        """The conditions that made the rule match (for the reason), or None."""
        pairs = zip(self.rule.conditions, self.conditions, strict=True)
        if self.rule.match is MatchMode.ANY and self.conditions:
            return next(([c] for c, test in pairs if test(message, body)), None)
        if all(test(message, body) for _, test in pairs):
            return list(self.rule.conditions)
        return None


@functools.lru_cache(maxsize=1024)
def _compile(rule: RuleConfig) -> _CompiledRule:
    return _CompiledRule(rule, tuple(_compile_condition(c) for c in rule.conditions))


def _compile_condition(condition: Condition) -> _Compiled:
    return _Compiled(_values(condition), _test(condition), condition.negate)


def _values(condition: Condition) -> Values:
    header = condition.header
    if header is not None:
        return lambda message, body: message.header(header)
    addresses = _ADDRESSES.get(condition.field)
    if addresses is None:
        return _OTHER_FIELDS[condition.field]
    if condition.op is Operator.DOMAIN:
        return lambda message, body: [_address_domain(a) for a in addresses(message)]
    return lambda message, body: [text for a in addresses(message) for text in (a.address, a.name)]


def _test(condition: Condition) -> Callable[[str], bool]:
    value = condition.value
    match condition.op:
        case Operator.CONTAINS:
            needle = _fold(value)
            return lambda text: needle in _fold(text)
        case Operator.EQUALS:
            whole = _fold(value.strip())
            return lambda text: _fold(text.strip()) == whole
        case Operator.REGEX:
            search = compile_user_pattern(value).search
            return lambda text: search(text) is not None
        case Operator.DOMAIN:
            domain = _domain(value)
            return lambda text: text == domain or text.endswith("." + domain)
        case Operator.EXISTS:
            return lambda text: bool(text.strip())


# Cached: every contains / equals condition folds the same subject and body again
# (a string's hash is computed once, so a hit on a long body is cheap).
@functools.lru_cache(maxsize=32)
def _fold(text: str) -> str:
    # NFC first: "é" may arrive as e + combining accent from one client and as one
    # character from the config file.
    return unicodedata.normalize("NFC", text).casefold()


def _address_domain(address: Address) -> str:
    _, at, domain = address.normalized.rpartition("@")
    return _domain(domain) if at else ""  # no "@": no domain, matches nothing


@functools.lru_cache(maxsize=256)
def _domain(text: str) -> str:
    text = text.strip().rstrip(".").lower()
    try:
        return text.encode("idna").decode("ascii")
    except UnicodeError:  # not a valid IDNA name: compare as written
        return text


def _captures(
    rule: RuleConfig, position: int, held: list[Condition], message: ParsedMessage, body: str
) -> list[Capture]:
    """The named groups of the conditions that made the rule match: for each condition
    the first of its values (an address, a header occurrence) the pattern matches."""
    found: list[Capture] = []
    for condition in held:
        if not condition.groups:
            continue
        search = compile_user_pattern(condition.value).search
        for value in _values(condition)(message, body):
            hit = search(value)
            if hit is not None:
                groups: dict[str, str | None] = hit.groupdict()
                found += [
                    Capture(rule.name, position, g, t) for g, t in groups.items() if t is not None
                ]
                break
    return found


def _action(rule: RuleConfig) -> str:
    assert rule.action is not None
    if rule.action is RuleAction.CREATE:
        return f"create {rule.object_type}"
    return rule.action.value


def _describe(rule: RuleConfig, held: list[Condition]) -> str:
    if not rule.conditions:
        return "no conditions, always matches"
    # held is every condition for "all", the first that held for "any".
    return " and ".join(map(_condition, held)) + " matched"


def _condition(condition: Condition) -> str:
    op = f"not {condition.op.value}" if condition.negate else condition.op.value
    if condition.op is Operator.EXISTS:
        return f"{condition.field} {op}"
    return f"{condition.field} {op} {_quote(condition.value)}"


def _quote(text: str) -> str:
    # One reason is one line: control characters are shown escaped.
    return f"'{text}'" if text.isprintable() else repr(text)
