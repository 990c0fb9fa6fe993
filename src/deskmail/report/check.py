"""`deskmail check`'s line for a mailbox that opened: what it holds, said per protocol.

The messages waiting are set against the intake journal, so that a Maildir
or a mailbox whose mail is kept (mark_seen, keep) does not look like a
backlog: "14 messages (none new, 14 already taken in)".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from deskmail.config.models import DeskmailConfig, JobConfig
from deskmail.intake.journal import lookup
from deskmail.report.text import count
from deskmail.sources.base import MailboxInfo
from deskmail.store.engine import SchemaVersionError
from deskmail.store.readonly import read_only


@dataclass(frozen=True, slots=True)
class Waiting:
    """The mailbox's messages, by what the journal knows of them."""

    new: int  # never seen: the next run takes them in
    taken_in: int  # already made a ticket, an activity, or were ignored or denied
    quarantined: int  # seen and failed: they stay until retried or discarded


def waiting(config: DeskmailConfig, job: JobConfig, keys: Sequence[str]) -> Waiting | None:
    """Count the keys by the journal, changing nothing on disk: without a database yet,
    every one is new. None for a database this deskmail cannot read (another schema)."""
    try:
        with read_only(config) as reading:
            return _count(reading.session, job, keys)
    except SchemaVersionError:  # said once by the names check that follows
        return None


def _count(session: Session, job: JobConfig, keys: Sequence[str]) -> Waiting:
    known = lookup(session, job.name, keys)
    taken_in = sum(1 for entry in known.values() if entry.done)
    return Waiting(len(keys) - len(known), taken_in, len(known) - taken_in)


def mailbox_line(job: JobConfig, info: MailboxInfo, counts: Waiting | None) -> str:
    """'Support: OK - imap host:993, TLSv1.3, folder 'INBOX': 3 messages (1 new, ...)'."""
    if info.protocol == "maildir":
        # No connection, no TLS, no folder to choose: the path and its permissions matter.
        where = f"Maildir {info.server}, readable and " + (
            "writable" if not info.read_only else f"read-only ({', '.join(info.read_only)})"
        )
    else:
        security = info.tls or "no TLS"
        folder = f", folder {info.folder!r}" if info.protocol in ("imap", "ews", "graph") else ""
        where = f"{info.protocol} {info.server}, {security}{folder}"
    return f"{job.name}: OK - {where}: {_contents(info.message_count, counts)}"


def _contents(total: int, counts: Waiting | None) -> str:
    if total == 0:
        return "no messages"
    if counts is None:
        return count(total, "message")
    parts = [f"{counts.new} new" if counts.new else "none new"]
    if counts.taken_in:
        parts.append(f"{counts.taken_in} already taken in")
    if counts.quarantined:
        parts.append(f"{counts.quarantined} quarantined")
    return f"{count(total, 'message')} ({', '.join(parts)})"
