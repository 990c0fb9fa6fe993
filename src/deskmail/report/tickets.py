"""Tickets as text: the `tickets list` table and the `tickets show` page."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from deskmail.config.object_types import Records
from deskmail.parse.filenames import safe_display_name
from deskmail.report.text import cut
from deskmail.store.models import (
    Activity,
    ActivityKind,
    Attachment,
    Person,
    Team,
    Ticket,
    TicketField,
)


def _who(person: Person | None, address: str | None) -> str:
    if person is not None:
        return person.name
    return address or "-"


def list_tickets(session: Session, team: str | None = None, limit: int = 50) -> str:
    activities = (
        select(func.count(Activity.id)).where(Activity.ticket_id == Ticket.id).scalar_subquery()
    )
    files = (
        select(func.count(Attachment.id)).where(Attachment.ticket_id == Ticket.id).scalar_subquery()
    )
    query = (
        select(Ticket, activities, files)
        .join(Team)
        .options(selectinload(Ticket.requester), selectinload(Ticket.team))
        .order_by(Ticket.id.desc())
        .limit(limit)
    )
    if team:
        query = query.where(Team.name == team)
    rows = list(session.execute(query))
    if not rows:
        return "no tickets yet"
    header = f"{'ticket':<10} {'type':<14} {'status':<7} {'requester':<22} {'acts':>4} {'files':>5}"
    lines = [f"{header}  subject"]
    for ticket, n_activities, n_files in reversed(rows):
        ref = f"{ticket.team.name}-{ticket.number}"
        lines.append(
            f"{ref:<10} {cut(_type(ticket), 14):<14} {ticket.status.value:<7} "
            f"{cut(_who(ticket.requester, ticket.sender_address), 22):<22} "
            f"{n_activities:>4} {n_files:>5}  {cut(ticket.subject, 70)}"
        )
    return "\n".join(lines)


def _type(ticket: Ticket) -> str:
    """The object type's name, else incident or event."""
    return ticket.object_type or ticket.kind.value


def show_ticket(
    session: Session, number: int, team: str, records: Records | None = None
) -> str | None:
    """`records`: the configuration's object types and custom fields, for their labels,
    prefixes and order; a type or field no longer declared is shown by its name."""
    ticket = session.scalars(
        select(Ticket)
        .join(Team)
        .where(Team.name == team, Ticket.number == number)
        .options(
            selectinload(Ticket.activities),
            selectinload(Ticket.attachments),
            selectinload(Ticket.fields),
        )
    ).first()
    if ticket is None:
        return None
    sender = ticket.sender_address or "-"
    if ticket.sender_name:
        sender = f"{ticket.sender_name} <{sender}>"
    records = records or Records()
    fields = []
    if ticket.object_type is not None:
        fields.append(("type", object_type_label(ticket, records)))
    fields += [
        # The reference without the ticket's token: the token lets anyone post to it.
        ("reference", f"[{ticket.kind.value.capitalize()}] [{ticket.team.name}] {ticket.number}"),
        ("status", ticket.status.value),
        ("from", sender),
        ("requester", _who(ticket.requester, None)),
    ]
    if ticket.user_id != ticket.requester_id:  # apply sets both alike; shown when they differ
        fields.append(("user", _who(ticket.user, None)))
    fields += [
        ("assignee", _who(ticket.assignee, None)),
        ("group", ticket.group.name if ticket.group else "-"),
        ("site", ticket.site.name if ticket.site else "-"),
        ("priority", ticket.priority or "-"),
        ("category", ticket.category or "-"),
        *custom_field_values(ticket.fields, ticket.object_type, records),
        ("source", ticket.source.name if ticket.source else "-"),
        ("created", f"{ticket.created_at:%Y-%m-%d %H:%M:%S} UTC"),
        ("updated", f"{ticket.updated_at:%Y-%m-%d %H:%M:%S} UTC"),
    ]
    if ticket.linked_ticket is not None:
        fields.append(("linked to", _line(ticket.linked_ticket)))
    fields += [("linked from", _line(other)) for other in _linked_from(session, ticket)]
    lines = [f"{ticket.team.name}-{ticket.number}  [{_type(ticket)}] {ticket.subject}"]
    width = max(13, *(len(name) + 2 for name, _ in fields))
    lines += [f"  {name + ':':<{width}}{value}" for name, value in fields]
    lines += ["", _indent(ticket.description)]
    own = [a for a in ticket.attachments if a.activity_id is None]
    lines += _attachment_lines(own)
    for activity in ticket.activities:
        author = _who(activity.author, activity.from_address)
        # deskmail's own notes (files not kept, names that matched nothing) have no author.
        by = "" if activity.kind is ActivityKind.SYSTEM else f" from {author}"
        lines += [
            "",
            f"-- {activity.kind.value}{by}, {activity.occurred_at:%Y-%m-%d %H:%M} UTC",
            _indent(activity.body),
        ]
        lines += _attachment_lines(activity.attachments)
    return "\n".join(lines)


def object_type_label(ticket: Ticket, records: Records) -> str:
    """The record's type as people read it: "Purchase order (purchase_order, made as
    incident), PO-12"."""
    declared = records.object_type(ticket.object_type or "")
    if declared is None:
        return f"{ticket.object_type} (made as {ticket.kind.value}; no longer declared)"
    return (
        f"{declared.shown} ({declared.name}, made as {ticket.kind.value}),"
        f" {declared.prefix}-{ticket.number}"
    )


def custom_field_values(
    values: list[TicketField], object_type: str | None, records: Records
) -> list[tuple[str, str]]:
    """The record's custom fields in their declared order, "-" for an empty one; then
    values of fields no longer declared, by name."""
    stored = {field.name: field.value for field in values}
    shown = [
        (declared.shown, stored.pop(declared.name, "-"))
        for declared in records.fields_of(object_type)
    ]
    return shown + sorted(stored.items())


def _linked_from(session: Session, ticket: Ticket) -> list[Ticket]:
    """The tickets that point at this one (a stranger's reply opens one linked to it)."""
    query = select(Ticket).where(Ticket.linked_ticket_id == ticket.id).order_by(Ticket.id)
    return list(session.scalars(query.options(selectinload(Ticket.team))))


def _line(ticket: Ticket) -> str:
    return f"{ticket.team.name}-{ticket.number}  [{ticket.kind.value}] {cut(ticket.subject, 60)}"


def _attachment_lines(attachments: list[Attachment]) -> list[str]:
    return [
        f"  [attachment] {safe_display_name(a.filename)} ({a.media_type}, {a.size:,} bytes"
        f"{', inline' if a.inline else ''})"
        for a in attachments
    ]


def _indent(text: str) -> str:
    return "\n".join("    " + line if line else "" for line in text.strip("\n").splitlines())
