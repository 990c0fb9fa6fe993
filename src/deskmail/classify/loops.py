"""Mail that must not be answered automatically: loops, bounces, out-of-office replies.

Pure functions of a ParsedMessage. `auto_reply_blocker` is the one the
outbox asks before every automatic mail; `is_bounce` and `is_out_of_office`
let intake record such mail instead of opening tickets. The rules follow
RFC 3834 (automatic responses), RFC 3464 (delivery status notifications)
and what Exchange, Gmail, Zimbra and the usual MTAs send in practice.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesHeaderParser

from deskmail.classify.bounce_signs import (
    DISPOSITION_TYPES,
    ORIGINAL_TYPES,
    STATUS_TYPES,
    BounceKind,
    Sign,
    Signs,
    read_signs,
    returned_marker,
    verdict,
)
from deskmail.classify.references import strip_reply_prefixes
from deskmail.classify.threading import normalize_message_id
from deskmail.parse.encoded_words import decode_header_text
from deskmail.parse.fields import message_id
from deskmail.parse.message import ParsedAttachment, ParsedMessage
from deskmail.parse.mime_params import parse_params
from deskmail.parse.parts import raw_header

# The local part of every Message-ID deskmail writes starts so (outbound/compose.py):
# mail carrying one, or answering one, is our own automatic mail coming back.
MESSAGE_ID_PREFIX = "deskmail."

_DAEMONS = frozenset({"mailer-daemon", "postmaster", "mailer_daemon", "mail-daemon"})
_BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_SUPPRESS_REPLIES = frozenset({"all", "autoreply", "oof"})
_KEYWORD = re.compile(r"[^\s(]*")
# The local part at most 64 characters (RFC 5321): unbounded, findall() went over a
# long word without an address from each of its characters, in quadratic time.
_ADDRESS = re.compile(r"[^\s<>,;:\"()\[\]]{1,64}@[^\s<>,;:\"()\[\]]+")
# Reads the header blocks of report parts and returned mail; compat32 never raises on junk.
_HEADERS_PARSER = BytesHeaderParser(policy=policy.compat32)

_BODY_SUBJECT = re.compile(r"^[ \t>]*subject:[ \t]*(\S.*)$", re.IGNORECASE | re.MULTILINE)
# A returned mail quoted in the text ("Message-ID: <...>", maybe indented or quoted with ">").
_BODY_MESSAGE_ID = re.compile(
    r"^[ \t>]*message-id:[ \t]*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE
)

# Subjects that mean "automatic reply" in the usual client languages: enough alone.
_AUTO_REPLY_SUBJECT = re.compile(
    r"^(?:automatic reply|auto[- ]?reply|autoresponse|automatische antwort"
    r"|réponse automatique|respuesta automática|risposta automatica|automatisch antwoord"
    r"|resposta automática|autosvar|automatisk svar|automaattinen vastaus"
    r"|odpowiedź automatyczna|automatická odpověď|automatikus válasz|otomatik yanıt"
    r"|αυτόματη απάντηση|автоматический ответ|自动回复|自動回覆|自動応答|자동 회신)\s*[:：]",
    re.IGNORECASE,
)
# Lotus Notes and Domino name the person first: "Hans Keller is out of the office." Only
# with another sign, as below.
_ABSENCE_NOTICE_SUBJECT = re.compile(
    r"\b(?:is out of (?:the )?office|ist außer haus|ist nicht im büro|est absente?"
    r"|è fuori (?:ufficio|sede)|está fuera de la oficina)\s*\.?\s*$",
    re.IGNORECASE,
)
# Another help desk's acknowledgement of our mail ("INC0012345 has been opened on your
# behalf", "Ticket Received - ...", "Request received: ..."), when Auto-Submitted marks it.
_ACKNOWLEDGEMENT_SUBJECT = re.compile(
    r"\bhas been (?:received|opened|logged|registered)\b|^(?:ticket|request) received\b"
    r"|[-–:]\s*received\s*$",
    re.IGNORECASE,
)
# Subjects a person might also write ("Out of office setup broken"): only with another sign.
_ABSENCE_SUBJECT = re.compile(
    r"^(?:out of (?:the )?office|abwesenheitsnotiz|abwesend|absence|absent|vacation"
    r"|on vacation|im urlaub|fuera de la oficina|fuori ufficio|afwezig|ausente|frånvaro)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class FailedRecipient:
    address: str
    action: str  # failed | delayed | delivered | relayed | expanded (RFC 3464 2.3.3)
    status: str  # "5.1.1"
    diagnostic: str = ""


@dataclass(frozen=True, slots=True)
class Bounce:
    """A delivery report about a mail sent earlier."""

    original_message_id: str | None  # without angle brackets, as ticket_message stores it
    recipients: tuple[FailedRecipient, ...]
    standard: bool  # an RFC 3464 report; False: recognised by other signs
    kind: BounceKind = BounceKind.DELIVERY
    signs: tuple[Sign, ...] = field(default=(), compare=False)  # why: for explain and the log
    # The returned mail's subject, whose ticket reference (with its token) finds our ticket
    # when no Message-ID was returned.
    original_subject: str | None = field(default=None, compare=False)

    @property
    def failed(self) -> bool:
        """Whether delivery failed (a "delayed" report only says it is still being tried)."""
        if not self.recipients:
            return True  # non-standard bounces report failures only
        return any(r.action == "failed" or r.status.startswith("5") for r in self.recipients)


def auto_reply_blocker(
    message: ParsedMessage, own_addresses: Collection[str], own_message_id_domain: str | None
) -> str | None:
    """Why an automatic mail must NOT be sent in answer to this message, or None.

    `own_addresses`: this desk's addresses (compared case-insensitively).
    `own_message_id_domain`: the domain of our Message-IDs; None skips the
    Message-ID and In-Reply-To checks (group notices are not answers: a
    customer's reply to our acknowledgement must still reach the group).
    """
    own = {address.strip().lower() for address in own_addresses if address.strip()}
    for check in (_auto_submitted, _precedence, _mailing_list, _suppressed, _daemon_sender):
        reason = check(message)
        if reason:
            return reason
    looped = _x_loop(message, own)
    if looped:
        return looped
    if _is_report(message):
        return "a delivery status notification (multipart/report)"
    bounce = is_bounce(message)
    if bounce is not None:
        return f"a {bounce.kind} ({', '.join(bounce.signs)})"
    own_mail = _own_mail(message, own, own_message_id_domain)
    if own_mail:
        return own_mail
    if is_out_of_office(message):
        return "an out-of-office or automatic reply"
    return None


def is_own_message_id(value: str, domain: str) -> bool:
    """Whether a Message-ID has the form deskmail writes, under our domain."""
    local, at, host = normalize_message_id(value).lower().rpartition("@")
    return bool(at) and local.startswith(MESSAGE_ID_PREFIX) and host == domain.strip().lower()


def is_bounce(message: ParsedMessage) -> Bounce | None:
    """The delivery or feedback report this message is, or None.

    classify/bounce_signs.py decides; this reads what the report says: the
    failed recipients (RFC 3464 status part, Amazon SES, Exim's header) and the
    Message-ID of the returned mail (attached, quoted in the text, or named by
    the report's own References).
    """
    signs = read_signs(message)
    kind = verdict(signs)
    if kind is None:
        return None
    return Bounce(
        original_message_id=_original_message_id(message, signs),
        recipients=_failed_recipients(message, signs),
        standard=Sign.DELIVERY_REPORT in signs,
        kind=kind,
        signs=tuple(sorted(signs.found)),
        original_subject=_original_subject(message),
    )


def is_out_of_office(message: ParsedMessage) -> bool:
    """Whether this is an out-of-office or other automatic reply to a person's mail."""
    auto_submitted = _first_token(message.header("Auto-Submitted"))
    if auto_submitted == "auto-replied" or "vacation" in auto_submitted:
        return True
    if any(message.header(name) for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder")):
        return True
    if _first_token(message.header("Precedence")) == "auto_reply":
        return True
    # Exchange marks its OOF replies with both; either alone also occurs on rule-forwarded mail.
    if message.header("X-MS-Exchange-Inbox-Rules-Loop") and _suppress_tokens(message):
        return True
    subject = strip_reply_prefixes(message.subject)
    if _AUTO_REPLY_SUBJECT.search(subject):
        return True
    if _ACKNOWLEDGEMENT_SUBJECT.search(subject) and _auto_submitted(message):
        return True
    absent = _ABSENCE_SUBJECT.search(subject) or _ABSENCE_NOTICE_SUBJECT.search(subject)
    return bool(absent) and _looks_automatic(message)


# --- the individual checks --------------------------------------------------------------


def _auto_submitted(message: ParsedMessage) -> str | None:
    for value in message.header("Auto-Submitted"):
        token = _first_token([value])
        if token and token != "no":
            return f"Auto-Submitted: {token}"
    return None


def _precedence(message: ParsedMessage) -> str | None:
    token = _first_token(message.header("Precedence"))
    return f"Precedence: {token}" if token in _BULK_PRECEDENCE else None


def _mailing_list(message: ParsedMessage) -> str | None:
    for name in ("List-Id", "List-Unsubscribe"):
        if any(value.strip() for value in message.header(name)):
            return f"{name} (mailing-list mail)"
    return None


def _suppressed(message: ParsedMessage) -> str | None:
    tokens = _suppress_tokens(message) & _SUPPRESS_REPLIES
    return f"X-Auto-Response-Suppress: {', '.join(sorted(tokens))}" if tokens else None


def _daemon_sender(message: ParsedMessage) -> str | None:
    sender = message.sender.normalized if message.sender else ""
    if not sender:
        return "no sender address"
    if sender.partition("@")[0] in _DAEMONS:
        return f"sent by {sender}"
    for value in message.header("Return-Path"):
        if value.strip() in ("", "<>"):
            return "empty Return-Path (a bounce or other automatic mail)"
    return None


def _x_loop(message: ParsedMessage, own: set[str]) -> str | None:
    for value in message.header("X-Loop"):
        for address in _ADDRESS.findall(value):
            if address.lower() in own:
                return f"X-Loop: {address} (our own address)"
    return None


def _own_mail(message: ParsedMessage, own: set[str], domain: str | None) -> str | None:
    if message.sender and message.sender.normalized in own:
        return f"sent from our own address {message.sender.normalized}"
    if domain is None:
        return None
    if message.message_id and is_own_message_id(message.message_id, domain):
        return "our own outgoing mail (Message-ID)"
    if message.in_reply_to and is_own_message_id(message.in_reply_to, domain):
        return "an answer to our own automatic mail (In-Reply-To)"
    return None


def _looks_automatic(message: ParsedMessage) -> bool:
    return bool(
        _auto_submitted(message)
        or _precedence(message)
        or _suppress_tokens(message)
        or _daemon_sender(message)
    )


# --- reading headers and parts ----------------------------------------------------------


def _first_token(values: Iterable[str]) -> str:
    """The first value's keyword, lower-cased: "auto-replied; owner-email=..." -> "auto-replied",
    "auto-replied (zimbra; vacation)" -> "auto-replied" (RFC 3834 allows comments)."""
    for value in values:
        keyword = _KEYWORD.match(value.split(";", 1)[0].strip().lower())
        return keyword.group() if keyword else ""
    return ""


def _suppress_tokens(message: ParsedMessage) -> set[str]:
    return {
        token.strip().lower()
        for value in message.header("X-Auto-Response-Suppress")
        for token in value.split(",")
        if token.strip()
    }


def _report_content_type(message: ParsedMessage) -> tuple[str, dict[str, str]]:
    """The Content-Type's media type and parameters if it could name a report, else
    ("", {}): parsing every mail's parameters (twice) was 1% of the benchmark's run."""
    values = message.header("Content-Type")
    if not values or "report" not in values[0].lower():
        return ("", {})
    return parse_params(values[0])


def _is_report(message: ParsedMessage) -> bool:
    return _report_content_type(message)[0] == "multipart/report"


def _attachment(message: ParsedMessage, types: frozenset[str]) -> ParsedAttachment | None:
    # The parser may correct a media type it sniffed; the declared one still says "report".
    for attachment in message.attachments:
        if attachment.media_type in types or attachment.declared_type in types:
            return attachment
    return None


def _original_message_id(message: ParsedMessage, signs: Signs) -> str | None:
    returned = _attachment(message, ORIGINAL_TYPES)
    if returned is not None:
        headers = _HEADERS_PARSER.parsebytes(returned.data)
        found = message_id(decode_header_text(raw_header(headers, "Message-ID") or ""))
        if found:
            return normalize_message_id(found)
    disposition = _attachment(message, DISPOSITION_TYPES)
    if disposition is not None:
        fields = _HEADERS_PARSER.parsebytes(disposition.data)
        named_id = message_id(decode_header_text(raw_header(fields, "Original-Message-ID") or ""))
        if named_id:
            return normalize_message_id(named_id)
    # qmail, Sendmail, KDDI and others quote the returned mail in the text.
    quoted = _BODY_MESSAGE_ID.search(message.text)
    if quoted:
        return normalize_message_id(quoted.group(1))
    if signs.ses is not None and signs.ses.message_id:
        return normalize_message_id(signs.ses.message_id)
    # Gmail and Exim name the returned mail in References when they do not return it.
    named = [*message.references, *([message.in_reply_to] if message.in_reply_to else [])]
    return normalize_message_id(named[-1]) if named else None


def _original_subject(message: ParsedMessage) -> str | None:
    returned = _attachment(message, ORIGINAL_TYPES)
    if returned is not None:
        fields = _HEADERS_PARSER.parsebytes(returned.data)
        subject = decode_header_text(raw_header(fields, "Subject") or "")
        if subject.strip():
            return subject.strip()
    quoted = _BODY_SUBJECT.search(message.text)
    return quoted.group(1).strip() if quoted else None


def _failed_recipients(message: ParsedMessage, signs: Signs) -> tuple[FailedRecipient, ...]:
    status = _attachment(message, STATUS_TYPES)
    if status is not None:
        return _recipients(status.data)
    disposition = _attachment(message, DISPOSITION_TYPES)
    if disposition is not None and Sign.REJECTION_REPORT in signs:
        # An MDN has no Action: the refusal is the report.
        return tuple(
            FailedRecipient(r.address, "failed", r.status, r.diagnostic)
            for r in _recipients(disposition.data)
        )
    if signs.ses is not None:
        return tuple(
            FailedRecipient(r.address, r.action, r.status, r.diagnostic)
            for r in signs.ses.recipients
        )
    named = [a for value in message.header("X-Failed-Recipients") for a in _ADDRESS.findall(value)]
    return tuple(
        FailedRecipient(address=address, action="failed", status="")
        for address in named or _addresses_in_report(message)
    )


def _addresses_in_report(message: ParsedMessage) -> list[str]:
    """The addresses a text report names before the returned mail, but its own parties."""
    end = returned_marker(message.text[:4000].lower())
    text = message.text[: min(end if end is not None else len(message.text), 4000)]
    parties = {a.normalized for a in (*message.to, *message.cc)}
    if message.sender:
        parties.add(message.sender.normalized)
    found: dict[str, None] = {}
    for candidate in _ADDRESS.findall(text):
        address = candidate.strip(".'\"`").lower()
        if address not in parties and address.partition("@")[0] not in _DAEMONS:
            found.setdefault(address)
    return list(found)


def _recipients(data: bytes) -> tuple[FailedRecipient, ...]:
    """The per-recipient blocks of a message/delivery-status part (RFC 3464 2.3)."""
    found = []
    for block in re.split(rb"\r?\n[ \t]*\r?\n", data):  # the per-message block has none
        fields = _HEADERS_PARSER.parsebytes(block)
        # raw_header, not fields.get(): compat32 gives a Header object, not a str,
        # for a value with 8-bit bytes (found by fuzzing).
        recipient = raw_header(fields, "Final-Recipient") or raw_header(
            fields, "Original-Recipient"
        )
        if not recipient:
            continue
        found.append(
            FailedRecipient(
                address=_typed_value(recipient),
                action=_typed_value(raw_header(fields, "Action") or "").lower(),
                status=_typed_value(raw_header(fields, "Status") or ""),
                diagnostic=_typed_value(raw_header(fields, "Diagnostic-Code") or ""),
            )
        )
    return tuple(found)


def _typed_value(value: str) -> str:
    """ "rfc822; alice@example.org" -> "alice@example.org", on one clean line."""
    value = decode_header_text(str(value))
    kind, semicolon, rest = value.partition(";")
    return rest.strip() if semicolon and " " not in kind.strip() else value
