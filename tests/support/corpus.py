"""Deterministic support-mailbox mails for end-to-end tests.

`support_corpus(n)` returns n raw messages in delivery order: new requests
(some HTML-only, some with attachments, some non-ASCII, some with Windows
paths) and replies whose subject references a ticket an earlier mail of the
corpus creates, numbered from 1 on a fresh database.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

TOPICS = [
    "Printer on the 3rd floor jams",
    "Cannot connect to the VPN",
    "Password reset link expired",
    "Outlook keeps asking for my password",
    "Need access to the finance share",
    "Laptop battery drains in an hour",
    "Teams camera not detected",
    "Invoice export fails with error 500",
]
SENDERS = [
    ("Alice Martin", "alice@example.com"),
    ("Bob Chen", "bob.chen@example.org"),
    ("Chloé Dubois", "chloe.dubois@example.com"),
    ("Dieter Müller", "dieter@example.org"),
]


@dataclass(frozen=True)
class CorpusMail:
    raw: bytes
    message_id: str
    kind: str  # "new" or "reply"
    ticket: int  # the ticket number it creates or replies to (fresh database, team IT)


def support_corpus(n: int, seed: int = 7, team: str = "IT") -> list[CorpusMail]:
    rng = random.Random(seed)
    mails: list[CorpusMail] = []
    created = 0
    requesters: dict[int, tuple[str, str]] = {}  # ticket number -> who opened it
    when = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    for i in range(n):
        when += timedelta(minutes=rng.randint(1, 40))
        reply = created >= 2 and rng.random() < 0.3
        number = rng.randint(1, created) if reply else created + 1
        # A reply comes from the requester: only participants may post to a ticket.
        name, addr = requesters[number] if reply else SENDERS[i % len(SENDERS)]
        msg = EmailMessage()
        msg["From"] = f"{name} <{addr}>"
        msg["To"] = "Service Desk <support@example.com>"
        msg["Date"] = format_datetime(when)
        msg_id = make_msgid(idstring=f"c{i}", domain="client.example.com")
        msg["Message-ID"] = msg_id
        if reply:
            msg["Subject"] = f"RE: [Incident] [{team}] {number} {TOPICS[number % len(TOPICS)]}"
            msg.set_content(
                f"Any news on this one? Still broken for me (mail {i}).\n\n-- \n{name}\n"
            )
            mails.append(CorpusMail(msg.as_bytes(), msg_id[1:-1], "reply", number))
            continue
        created += 1
        requesters[created] = (name, addr)
        topic = TOPICS[i % len(TOPICS)]
        msg["Subject"] = f"{topic} ({i})"
        user = addr.split("@")[0]
        body = (
            f"Hello,\n\n{topic.lower()} since this morning.\n"
            f"My files are in C:\\Users\\{user}\\Documents.\n\nThanks,\n{name}\n"
        )
        if i % 5 == 3:
            msg.set_content(body)
            msg.add_alternative(
                f"<html><body><p>{body}</p><ul><li>step one</li></ul></body></html>", subtype="html"
            )
        else:
            msg.set_content(body)
        if i % 7 == 2:
            msg.add_attachment(
                rng.randbytes(2000 + i * 10),
                maintype="application",
                subtype="octet-stream",
                filename=f"log-{i}.bin",
            )
        mails.append(CorpusMail(msg.as_bytes(), msg_id[1:-1], "new", created))
    return mails
