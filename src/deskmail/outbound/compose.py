"""Building the mail deskmail sends: headers that thread, identify us, and stop loops.

Every header value that can come from received mail (subjects, names,
addresses, Message-IDs) goes through `header_text` or `mail_address` first:
CR, LF, NUL and other control characters never reach a header, whatever a
sender wrote (RFC 5322 header injection).
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from deskmail.classify.loops import MESSAGE_ID_PREFIX
from deskmail.classify.threading import normalize_message_id
from deskmail.parse.encoded_words import one_line

MAX_SUBJECT = 300  # characters; a hostile subject must not make a huge header
# Unquoted addr-spec characters we accept; non-ASCII is allowed (SMTPUTF8).
_UNSAFE_IN_ADDRESS = re.compile(r"[\x00-\x20\x7f<>()\[\],;:\"\\]")
_MESSAGE_ID = re.compile(r"[^\x00-\x20\x7f<>]{1,995}")


def header_text(value: str, limit: int = MAX_SUBJECT) -> str:
    """One clean header line: line breaks, tabs and NUL become spaces or U+FFFD; capped."""
    text = one_line(value)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def mail_address(value: str) -> str:
    """A plain address (local@domain) safe for a header and RCPT TO; ValueError otherwise."""
    address = value.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or _UNSAFE_IN_ADDRESS.search(address):
        raise ValueError(f"{header_text(value, 80)!r} is not a usable mail address")
    try:
        Address(addr_spec=address)  # the stdlib's own check of the syntax
    except Exception as exc:  # it raises ValueError, IndexError or header defects
        raise ValueError(f"{header_text(value, 80)!r} is not a usable mail address") from exc
    return address


def new_message_id(from_address: str) -> str:
    """Our own Message-ID, under the domain of our address (classify/loops.py knows the form)."""
    domain = mail_address(from_address).rpartition("@")[2].lower()
    return f"<{MESSAGE_ID_PREFIX}{secrets.token_hex(12)}@{domain}>"


def subject_line(reference: str | None, subject: str) -> str:
    """The subject with the ticket reference first: clients that shorten subjects cut the end."""
    subject = header_text(subject)
    return header_text(f"{reference} {subject}" if reference else subject, MAX_SUBJECT + 60)


def build_message(
    *,
    from_name: str,
    from_address: str,
    to: str,
    subject: str,
    text: str,
    html: str | None = None,
    message_id: str,
    in_reply_to: str | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """An automatic mail (RFC 3834): marked so that other systems do not answer it."""
    message = EmailMessage(policy=policy.SMTP)
    sender = mail_address(from_address)
    message["From"] = Address(display_name=header_text(from_name, 200), addr_spec=sender)
    message["To"] = Address(addr_spec=mail_address(to))
    message["Subject"] = header_text(subject, MAX_SUBJECT + 60)
    message["Date"] = format_datetime(date or datetime.now(UTC))
    message["Message-ID"] = _angle(message_id)
    if in_reply_to:
        parent = _angle(in_reply_to)
        message["In-Reply-To"] = parent
        message["References"] = parent  # the parent's own References are not kept
    message["Auto-Submitted"] = "auto-replied"
    message["X-Auto-Response-Suppress"] = "All"  # Exchange: no out-of-office back to us
    message["X-Loop"] = sender
    message.set_content(_body(text))
    if html is not None:
        message.add_alternative(_body(html), subtype="html")
    return message


def clean_message_id(value: str | None) -> str | None:
    """A received Message-ID without brackets, or None when it is unfit for a header."""
    normal = normalize_message_id(value or "")
    return normal if _MESSAGE_ID.fullmatch(normal) else None


def _angle(value: str) -> str:
    normal = clean_message_id(value)
    if normal is None:
        raise ValueError(f"{header_text(value, 80)!r} is not a usable Message-ID")
    return f"<{normal}>"


def _body(text: str) -> str:
    # NUL is refused by many SMTP servers and means nothing in mail text.
    return text.replace("\x00", "")
