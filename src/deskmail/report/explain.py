"""`deskmail explain`: what deskmail would do with one mail, changing nothing.

`explanation()` gives the structured result (the web's rule simulator renders
it as HTML); `explain()` prints it as the command shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from deskmail.apply.batch import Batch
from deskmail.apply.context import JobContext, find_named, peek_context
from deskmail.apply.draft import TicketDraft, draft_ticket, next_number_preview
from deskmail.apply.lookups import StoreLookups
from deskmail.apply.people import find_person
from deskmail.classify.mail import Mail
from deskmail.classify.plan import Plan
from deskmail.classify.steps import classify
from deskmail.config.fate import Fate
from deskmail.config.models import JobConfig
from deskmail.parse.filenames import safe_display_name
from deskmail.parse.message import ParsedAttachment, ParsedMessage
from deskmail.parse.parser import parse_message
from deskmail.preprocess import preprocess
from deskmail.store.models import Group, Site, Ticket

_WIDTH = 76
TEXT_LINES = 40  # of the text after preprocessing


@dataclass(frozen=True, slots=True)
class KnownPerson:
    name: str
    logon: str | None
    site: str | None


@dataclass(frozen=True, slots=True)
class StepDecision:
    step: str
    decided: str  # "" when the step let the mail pass unchanged


@dataclass(frozen=True, slots=True)
class AttachmentDecision:
    keep: bool
    text: str  # "report.pdf (application/pdf, 1,234 bytes)" or "x.exe: ignored extension"


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result: what the run would write (a ticket, an activity, nothing)."""

    fate: Fate
    headline: str  # "add a mail activity to IT-3", "create incident IT-4:", ...
    fields: list[tuple[str, str]] = field(default_factory=list)  # of a ticket to create
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Explanation:
    job: str
    no_database: bool
    sender: str | None
    person: KnownPerson | None
    subject: str
    message_id: str | None
    defects: list[str]
    preprocessing_fired: list[str]
    text_after: list[str]  # the first TEXT_LINES lines
    threading: str  # how the mail threads, one line
    rules_matched: list[str]
    rule_reasons: list[str]
    extracted: list[str]  # what the rules' named groups set, a line each ("!" when left empty)
    steps: list[StepDecision]
    outcome: Outcome
    attachments: list[AttachmentDecision]


def explanation(
    session: Session, job: JobConfig, raw: bytes, *, no_database: bool = False
) -> Explanation:
    """What the steps make of `raw` for `job`; nothing is written (the session is not committed).

    `no_database`: the session is an empty stand-in for a database not created yet.
    """
    message = parse_message(raw)
    # What the run resolves at its start (resolve_context), without creating anything.
    context = peek_context(session, job)
    pre = preprocess(message.text, job.preprocessing)
    # No journal is asked: explain tells what the steps make of the mail, even one taken in.
    plan = classify(Mail(job, message, pre.text), StoreLookups(session, Batch(), job))
    found = find_person(session, message.sender)
    person = None
    if found is not None:
        person = KnownPerson(found.name, found.logon, found.site.name if found.site else None)
    if plan.match is None:
        threading = "no existing ticket matches (In-Reply-To, References, subject reference)"
    else:
        m = plan.match
        threading = (
            f"{m.label} by {m.matched_by.value}; token {'ok' if m.token_ok else 'absent/wrong'}; "
            f"sender {'may' if m.sender_allowed else 'may NOT'} post"
        )
    attachments = [AttachmentDecision(True, _describe(a)) for a in plan.attachments.kept]
    if job.include_raw_message:
        attachments.append(
            AttachmentDecision(True, "the original message as .eml (include_raw_message)")
        )
    attachments += [
        AttachmentDecision(False, f"{safe_display_name(d.filename)}: {d.reason}")
        for d in plan.attachments.dropped
    ]
    return Explanation(
        job=job.name,
        no_database=no_database,
        sender=str(message.sender) if message.sender else None,
        person=person,
        subject=message.subject,
        message_id=message.message_id,
        defects=list(message.defects[:8]),
        preprocessing_fired=list(pre.fired),
        text_after=pre.text.splitlines()[:TEXT_LINES],
        threading=threading,
        rules_matched=list(plan.rules_fired),
        rule_reasons=list(plan.reasons),
        extracted=_extraction(plan),
        steps=[StepDecision(traced.step, traced.decided or "") for traced in plan.trace],
        outcome=_outcome(session, job, plan, context, message),
        attachments=attachments,
    )


def _outcome(
    session: Session, job: JobConfig, plan: Plan, context: JobContext, message: ParsedMessage
) -> Outcome:
    if plan.fate is Fate.UPDATED and plan.ticket_id is not None:
        ticket = session.get(Ticket, plan.ticket_id)
        label = f"{ticket.team.name}-{ticket.number}" if ticket else f"#{plan.ticket_id}"
        return Outcome(plan.fate, f"add a mail activity to {label}")
    if plan.fate is Fate.IGNORED:
        return Outcome(plan.fate, "ignore: recorded in the journal, no ticket")
    if plan.fate is Fate.DENIED:
        return Outcome(
            plan.fate, "no ticket (create_new_requests = false); an automatic reply is due"
        )
    draft = draft_ticket(session, context, message, plan)
    number = next_number_preview(session, draft.team)
    declared = job.records.object_type(draft.object_type) if draft.object_type else None
    if declared is not None:
        headline = (
            f"create {declared.shown} ({declared.name}, made as {draft.kind.value})"
            f" {draft.team}-{number}, {declared.prefix}-{number}:"
        )
    else:
        headline = f"create {draft.kind.value} {draft.team}-{number}:"
    fields = {
        "requester": _requester(draft),
        "site": draft.site,
        "group": draft.group,
        "assignee": draft.assignee,
        "source": draft.source,
        "priority": draft.priority,
        "category": draft.category,
        "links to": _label(session, draft.link_to),
    }
    fields |= {
        f.shown: draft.custom_fields[f.name]
        for f in job.records.fields_of(draft.object_type)
        if f.name in draft.custom_fields
    }
    problems = [*draft.problems, *draft.field_problems]
    # The run creates them (at its start for the job's, noted on the ticket for a rule's).
    if draft.group and find_named(session, Group, draft.group) is None:
        problems.append(f"group {draft.group!r} matches no group; the run creates it")
    if draft.site and find_named(session, Site, draft.site) is None:
        problems.append(f"site {draft.site!r} matches no site; the run creates it")
    return Outcome(
        Fate.CREATED,  # what a plan without another fate becomes
        headline,
        [(name, str(value)) for name, value in fields.items() if value],
        problems,
    )


def explain(session: Session, job: JobConfig, raw: bytes, *, no_database: bool = False) -> str:
    """`no_database`: the session is an empty stand-in for a database not created yet."""
    return render_text(explanation(session, job, raw, no_database=no_database))


def render_text(found: Explanation) -> str:
    out = [f"Job {found.job!r}"]
    if found.no_database:
        out.append("No database yet: what the first run would do, on an empty store.")

    out += _section("Message")
    out.append(f"  From:       {found.sender or '(none)'}")
    if found.person is not None:
        site = f", site {found.person.site}" if found.person.site else ""
        out.append(
            f"              known person: {found.person.name}"
            f" (logon {found.person.logon or '-'}{site})"
        )
    else:
        out.append("              unknown sender: no person has this address")
    out.append(f"  Subject:    {found.subject}")
    out.append(f"  Message-ID: {found.message_id or '(none)'}")
    if found.defects:
        out.append(f"  Parser worked around: {'; '.join(found.defects)}")

    out += _section("Preprocessing")
    out.append("  rules fired: " + (", ".join(found.preprocessing_fired) or "none"))
    out.append("  text after preprocessing:")
    out += [f"    | {line}" for line in found.text_after]

    out += _section("Threading")
    out.append(f"  {found.threading}")

    out += _section("Processing rules")
    out.append("  matched: " + (", ".join(found.rules_matched) or "none"))
    out += [f"  - {reason}" for reason in found.rule_reasons]

    if found.extracted:
        out += _section("Fields from the rules and the text")
        out += [f"  {line}" for line in found.extracted]

    out += _section("Steps, in order")
    for number, step in enumerate(found.steps, 1):
        out.append(f"  {number}. {step.step}: {step.decided or '-'}")

    out += _section("Result")
    out.append(f"  {found.outcome.headline}")
    out += [f"    {name + ':':<11}{value}" for name, value in found.outcome.fields]
    out += [f"    ! {problem}" for problem in found.outcome.problems]

    out += _section("Attachments")
    for each in found.attachments:
        out.append(f"  {'keep' if each.keep else 'drop'}  {each.text}")
    if not found.attachments:
        out.append("  none")
    out += ["", "Nothing was changed."]
    return "\n".join(out)


def _extraction(plan: Plan) -> list[str]:
    """Each rule's set.custom values and named groups, and what they set, in the order they
    apply (a later line wins); a value left out is said without it."""
    if not plan.captures and not plan.extracted:
        return []
    if plan.fate is not Fate.CREATED:
        out = [f"rule {c.rule!r}: {c.group} = {c.text.strip()!r}" for c in plan.captures]
        return [*out, "nothing is set: fields are set on new tickets only"]
    out = []
    for e in plan.extracted:
        via = f"map.{e.group} -> " if e.mapped else ""
        if e.given:
            if e.value is None:
                out.append(f"! rule {e.rule!r}: set custom field {e.field} left out: {e.problem}")
            else:
                out.append(f"rule {e.rule!r}: set custom field {e.field} = {e.value!r}")
            continue
        kind = "custom field" if e.custom else "field"
        if e.value is None:
            out.append(
                f"! rule {e.rule!r}: {e.group} -> {via}{kind} {e.field} left empty: {e.problem}"
            )
        else:
            out.append(f"rule {e.rule!r}: {e.group} -> {via}{kind} {e.field} = {e.value!r}")
    return out


def _requester(draft: TicketDraft) -> str:
    if draft.matched_person:
        return draft.requester
    if draft.fallback_requester:
        created = "" if draft.requester_id is not None else ", a person the run creates"
        return f"{draft.requester} (fallback user{created})"
    return f"none (unknown sender {draft.requester})"


def _section(title: str) -> list[str]:
    return ["", f"{title} " + "-" * (_WIDTH - len(title) - 1)]


def _describe(attachment: ParsedAttachment) -> str:
    inline = ", inline" if attachment.inline else ""
    return f"{attachment.filename} ({attachment.media_type}, {attachment.size:,} bytes{inline})"


def _label(session: Session, ticket_id: int | None) -> str | None:
    if ticket_id is None:
        return None
    ticket = session.get(Ticket, ticket_id)
    return f"{ticket.team.name}-{ticket.number}" if ticket else None
