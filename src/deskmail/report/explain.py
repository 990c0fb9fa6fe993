"""`deskmail explain`: what deskmail would do with one mail, changing nothing."""

from __future__ import annotations

from sqlalchemy.orm import Session

from deskmail.apply.batch import Batch
from deskmail.apply.context import find_named, peek_context
from deskmail.apply.draft import TicketDraft, draft_ticket, next_number_preview
from deskmail.apply.lookups import StoreLookups
from deskmail.apply.people import find_person
from deskmail.classify.mail import Mail
from deskmail.classify.plan import Plan
from deskmail.classify.steps import classify
from deskmail.config.fate import Fate
from deskmail.config.models import JobConfig
from deskmail.parse.filenames import safe_display_name
from deskmail.parse.message import ParsedAttachment
from deskmail.parse.parser import parse_message
from deskmail.preprocess import preprocess
from deskmail.store.models import Group, Site, Ticket

_WIDTH = 76


def explain(session: Session, job: JobConfig, raw: bytes, *, no_database: bool = False) -> str:
    """`no_database`: the session is an empty stand-in for a database not created yet."""
    message = parse_message(raw)
    # What the run resolves at its start (resolve_context), without creating anything.
    context = peek_context(session, job)
    pre = preprocess(message.text, job.preprocessing)
    # No journal is asked: explain tells what the steps make of the mail, even one taken in.
    plan = classify(Mail(job, message, pre.text), StoreLookups(session, Batch(), job))
    out = [f"Job {job.name!r}"]
    if no_database:
        out.append("No database yet: what the first run would do, on an empty store.")

    out += _section("Message")
    out.append(f"  From:       {message.sender or '(none)'}")
    person = find_person(session, message.sender)
    if person is not None:
        site = f", site {person.site.name}" if person.site else ""
        out.append(f"              known person: {person.name} (logon {person.logon or '-'}{site})")
    else:
        out.append("              unknown sender: no person has this address")
    out.append(f"  Subject:    {message.subject}")
    out.append(f"  Message-ID: {message.message_id or '(none)'}")
    if message.defects:
        out.append(f"  Parser worked around: {'; '.join(message.defects[:8])}")

    out += _section("Preprocessing")
    out.append("  rules fired: " + (", ".join(pre.fired) or "none"))
    out.append("  text after preprocessing:")
    out += [f"    | {line}" for line in pre.text.splitlines()[:40]]

    out += _section("Threading")
    if plan.match is None:
        out.append("  no existing ticket matches (In-Reply-To, References, subject reference)")
    else:
        m = plan.match
        out.append(
            f"  {m.label} by {m.matched_by.value}; token {'ok' if m.token_ok else 'absent/wrong'}; "
            f"sender {'may' if m.sender_allowed else 'may NOT'} post"
        )

    out += _section("Processing rules")
    out.append("  matched: " + (", ".join(plan.rules_fired) or "none"))
    out += [f"  - {reason}" for reason in plan.reasons]

    if plan.captures:
        out += _section("Fields from the text")
        out += _extraction(plan)

    out += _section("Steps, in order")
    for number, traced in enumerate(plan.trace, 1):
        out.append(f"  {number}. {traced.step}: {traced.decided or '-'}")

    out += _section("Result")
    if plan.fate is Fate.UPDATED and plan.ticket_id is not None:
        ticket = session.get(Ticket, plan.ticket_id)
        label = f"{ticket.team.name}-{ticket.number}" if ticket else f"#{plan.ticket_id}"
        out.append(f"  add a mail activity to {label}")
    elif plan.fate is Fate.IGNORED:
        out.append("  ignore: recorded in the journal, no ticket")
    elif plan.fate is Fate.DENIED:
        out.append("  no ticket (create_new_requests = false); an automatic reply is due")
    else:
        draft = draft_ticket(session, context, message, plan)
        number = next_number_preview(session, draft.team)
        declared = job.records.object_type(draft.object_type) if draft.object_type else None
        if declared is not None:
            out.append(
                f"  create {declared.shown} ({declared.name}, made as {draft.kind.value})"
                f" {draft.team}-{number}, {declared.prefix}-{number}:"
            )
        else:
            out.append(f"  create {draft.kind.value} {draft.team}-{number}:")
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
        out += [f"    {name + ':':<11}{value}" for name, value in fields.items() if value]
        out += [f"    ! {problem}" for problem in draft.problems]
        out += [f"    ! {problem}" for problem in draft.field_problems]
        # The run creates them (at its start for the job's, noted on the ticket for a rule's).
        if draft.group and find_named(session, Group, draft.group) is None:
            out.append(f"    ! group {draft.group!r} matches no group; the run creates it")
        if draft.site and find_named(session, Site, draft.site) is None:
            out.append(f"    ! site {draft.site!r} matches no site; the run creates it")

    out += _section("Attachments")
    selection = plan.attachments
    out += [f"  keep  {_describe(a)}" for a in selection.kept]
    if job.include_raw_message:
        out.append("  keep  the original message as .eml (include_raw_message)")
    out += [f"  drop  {safe_display_name(d.filename)}: {d.reason}" for d in selection.dropped]
    if not (selection.kept or selection.dropped or job.include_raw_message):
        out.append("  none")
    out += ["", "Nothing was changed."]
    return "\n".join(out)


def _extraction(plan: Plan) -> list[str]:
    """Each rule's named groups and what they set; a value left out is said without it."""
    if plan.fate is not Fate.CREATED:
        out = [f"  rule {c.rule!r}: {c.group} = {c.text.strip()!r}" for c in plan.captures]
        return [*out, "  nothing is set: fields are set on new tickets only"]
    out = []
    for e in plan.extracted:
        via = f"map.{e.group} -> " if e.mapped else ""
        kind = "custom field" if e.custom else "field"
        if e.value is None:
            out.append(
                f"  ! rule {e.rule!r}: {e.group} -> {via}{kind} {e.field} left empty: {e.problem}"
            )
        else:
            out.append(f"  rule {e.rule!r}: {e.group} -> {via}{kind} {e.field} = {e.value!r}")
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
