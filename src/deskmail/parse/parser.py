"""Raw RFC 5322 bytes -> ParsedMessage, never raising.

The stdlib parser with policy compat32 splits the MIME structure. It keeps
header values raw and never raises on one (policy.default's header classes
raise IndexError and HeaderParseError on broken address headers in 3.11),
and it is about twice as fast (DESIGN.md section 8). What it leaves raw is
decoded here, once and leniently: the header block (headers.py), fields
(fields.py), parts and payloads (parts.py, mime.py), bodies (charsets.py).

Two fallbacks keep a bad mail from losing its ticket, and both say so in
`defects`: a MIME structure nested too deeply for the stdlib parser gives
the headers plus the whole mail attached as an .eml; any other failure (a
bug of ours) gives a minimal message whose body is the raw text, with the
raw mail attached.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from email import policy
from email.parser import BytesParser

from deskmail.parse import boundaries
from deskmail.parse.attachments import WHOLE_MAIL_NAME, eml_attachment
from deskmail.parse.charsets import decode_text
from deskmail.parse.elide import elide, restore
from deskmail.parse.fields import message_id, message_ids, parse_addresses, parse_date
from deskmail.parse.headers import HeaderBlock
from deskmail.parse.html import MAX_LAYOUT_CHARS, MAX_NESTING, html_to_text, limit_nesting
from deskmail.parse.message import Address, ParsedMessage
from deskmail.parse.mime import MAX_DEPTH, Collected, collect
from deskmail.parse.sanitize import sanitize_html
from deskmail.parse.spool import Spool

__all__ = ["MAX_DEPTH", "parse_message"]

log = logging.getLogger(__name__)

_PARSER = BytesParser(policy=policy.compat32)
boundaries.install()  # no regex compiled per multipart (boundaries.py)


def parse_message(raw: bytes, spool: Spool | None = None) -> ParsedMessage:
    """`spool`: large attachments are decoded into files there (parse/spool.py), not memory."""
    try:
        return _parse(raw, spool)
    except Exception as exc:  # a bug of ours must not cost a mail its ticket
        # The class only: a parser error's text may quote the mail; the traceback at debug.
        log.error(
            "parser failed on a %d-byte message (%s); keeping it as raw text",
            len(raw),
            type(exc).__name__,
        )
        log.debug("the parser's traceback", exc_info=exc)
        return _minimal(raw, exc)


def _parse(raw: bytes, spool: Spool | None) -> ParsedMessage:
    defects: list[str] = []
    if b"\n" not in raw and b"\r" in raw:
        # Old Mac mail. The stdlib splits lines on CR too, but quoted-printable
        # soft breaks ("=\r") and text attachments would keep the bare CRs.
        raw = raw.replace(b"\r", b"\r\n")
        defects.append("CR-only line ends; read as CRLF")
    try:
        elided = elide(raw)
        msg = _PARSER.parsebytes(elided.data)
        restore(msg, elided)
        del elided
        collected = collect(msg, spool)
    except RecursionError:  # the stdlib parser recurses once per nesting level
        msg = _PARSER.parsebytes(raw, headersonly=True)
        collected = Collected(attachments=[eml_attachment(raw, WHOLE_MAIL_NAME)])
        defects.append("MIME structure nested too deeply to read; the whole mail is attached")
    defects += collected.defects

    headers = HeaderBlock(msg)
    headers.report_duplicates()
    sender = _sender(headers, defects)
    date, date_problem = parse_date(headers.first("Date"))
    if date_problem:
        defects.append(f"Date: {date_problem}")
    found_id = message_id(headers.first("Message-ID"))
    for name, value in (("Message-ID", found_id), ("Date", headers.first("Date"))):
        if not value:
            defects.append(f"{name} missing")

    html = collected.html if collected.html is not None else collected.tnef_html
    shaped = _shape(html, defects) if html is not None else None
    text = _body_text(collected, shaped if collected.html is not None else None)
    attachments = tuple(collected.attachments)
    safe = sanitize_html(shaped, attachments) if shaped is not None else None
    if safe is not None and safe.shown:
        # Shown in the HTML through cid: inline, whatever Content-Disposition said.
        attachments = tuple(
            replace(a, inline=True) if a.sha256 in safe.shown else a for a in attachments
        )
    return ParsedMessage(
        message_id=found_id,
        subject=headers.first("Subject"),
        sender=sender,
        to=tuple(_addresses(headers, "To", defects)),
        cc=tuple(_addresses(headers, "Cc", defects)),
        date=date,
        in_reply_to=message_id(headers.first("In-Reply-To")),
        references=tuple(message_ids(" ".join(headers.raw_values("References")))),
        text=text,
        html=html,
        attachments=attachments,
        html_safe=safe.html if safe is not None else None,
        headers=headers.pairs(),
        defects=tuple(defects + headers.defects),
    )


def _shape(html: str, defects: list[str]) -> str:
    """The HTML that text conversion and sanitising see: nesting bounded (html.py says why)."""
    shaped, cut = limit_nesting(html)
    if cut:
        defects.append(f"HTML nested deeper than {MAX_NESTING} levels; deeper tags dropped")
    if len(shaped) > MAX_LAYOUT_CHARS:
        defects.append(f"HTML body of {len(shaped)} characters: text made without layout")
    return shaped


def _body_text(collected: Collected, html: str | None) -> str:
    """text/plain first, else the mail's HTML as text, else a winmail.dat body."""
    text = collected.text
    if (text is None or not text.strip()) and html is not None:
        text = html_to_text(html)
    if (text is None or not text.strip()) and collected.tnef_text is not None:
        text = collected.tnef_text
    return _newlines(text or "")


def _newlines(text: str) -> str:
    # Only line ends change; every other character stays as sent.
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def _sender(headers: HeaderBlock, defects: list[str]) -> Address | None:
    for name in ("From", "Sender"):
        found = _addresses(headers, name, defects, first_only=True)
        if found:
            if name != "From":
                defects.append(f"From missing or empty; {name} used")
            return found[0]
    defects.append("From missing or without an address")
    return None


def _addresses(
    headers: HeaderBlock, name: str, defects: list[str], first_only: bool = False
) -> list[Address]:
    """Addresses of a header; repeated To or Cc headers are merged."""
    values = headers.raw_values(name)
    found: list[Address] = []
    for raw in values[:1] if first_only else values:
        addresses, problem = parse_addresses(raw)
        if problem:
            defects.append(f"{name}: {problem}")
        found += addresses
    if len(values) > 1 and not first_only:
        defects.append(f"{len(values)} {name} headers; merged")
    return found


def _minimal(raw: bytes, exc: Exception) -> ParsedMessage:
    text, _problem = decode_text(raw, "utf-8")
    return ParsedMessage(
        message_id=None,
        subject="",
        sender=None,
        to=(),
        cc=(),
        date=None,
        in_reply_to=None,
        references=(),
        text=_newlines(text),
        html=None,
        attachments=(eml_attachment(raw, WHOLE_MAIL_NAME),),
        defects=(
            f"parser failed ({type(exc).__name__}: {str(exc)[:200]});"
            " the raw mail is the body and is attached",
        ),
    )
