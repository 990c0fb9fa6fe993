"""Is this mail a report about a mail sent earlier? Typed signs read from it, then a verdict.

Delivery reports come in every shape: RFC 3464 multipart/report, Exchange
and gateway NDRs in multipart/mixed, plain text from qmail, Sendmail, Yahoo or
a Japanese carrier, JSON from Amazon SES through SNS, and feedback reports
(RFC 5965 ARF, Microsoft JMRP). `read_signs` notes what a mail shows (its
structure, who sent it, its subject, the opening of its text); `verdict`
weighs them. A structural sign is enough alone; otherwise the more a sender
looks like a person, the more evidence it takes, and a subject that answers
or forwards ("Re:", "Fwd:") is a person's unless a mailer daemon sent it.
loops.is_bounce turns the verdict into a Bounce with the returned mail's
Message-ID and the failed recipients.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from deskmail.parse.message import ParsedMessage
from deskmail.parse.mime_params import parse_params


class Sign(StrEnum):
    """What a mail shows; the values read as the reasons `explain` prints."""

    DELIVERY_REPORT = "multipart/report of delivery status"
    FEEDBACK_REPORT = "multipart/report of feedback (ARF)"
    STATUS_PART = "a message/delivery-status part"
    FEEDBACK_PART = "a message/feedback-report part"
    NDR_HEADER = "a header only delivery reports carry"
    REJECTION_REPORT = "a disposition notification that the mail was refused (Sieve reject)"
    SES_BOUNCE = "an Amazon SES bounce notification"
    SES_COMPLAINT = "an Amazon SES complaint notification"
    COMPLAINT_SUBJECT = "a feedback-loop complaint subject"
    DAEMON_SENDER = "sent by a mailer daemon"
    POSTMASTER_SENDER = "sent by a postmaster or mail system"
    AUTOMATIC = "marked automatic (Auto-Submitted, Precedence, empty Return-Path)"
    BOUNCE_SUBJECT = "a delivery-failure subject"
    ANSWER_SUBJECT = "a subject that replies or forwards"
    BOUNCE_TEXT = "delivery-failure wording in the text"
    STATUS_CODE = "an SMTP status code in the text"
    RECIPIENT_LIST = "a list of the recipients it failed for"
    RETURNED_MAIL = "the returned mail, attached or quoted"


class BounceKind(StrEnum):
    DELIVERY = "delivery report"
    FEEDBACK = "feedback report"


@dataclass(frozen=True, slots=True)
class SesRecipient:
    address: str
    action: str
    status: str
    diagnostic: str


@dataclass(frozen=True, slots=True)
class SesNotification:
    """The parts of an Amazon SES notification (JSON through SNS) deskmail uses."""

    kind: BounceKind
    recipients: tuple[SesRecipient, ...]
    message_id: str | None  # the returned mail's, as its Message-ID header had it


@dataclass(frozen=True, slots=True)
class Signs:
    found: frozenset[Sign]
    ses: SesNotification | None = None

    def __contains__(self, sign: object) -> bool:
        return sign in self.found


# Alone enough: only reports have these.
_DELIVERY_STRUCTURE = frozenset(
    {Sign.DELIVERY_REPORT, Sign.STATUS_PART, Sign.NDR_HEADER, Sign.REJECTION_REPORT}
)
_FEEDBACK_STRUCTURE = frozenset({Sign.FEEDBACK_REPORT, Sign.FEEDBACK_PART, Sign.SES_COMPLAINT})
_EVIDENCE = frozenset(
    {
        Sign.BOUNCE_SUBJECT,
        Sign.BOUNCE_TEXT,
        Sign.STATUS_CODE,
        Sign.RECIPIENT_LIST,
        Sign.RETURNED_MAIL,
    }
)
# The shape of a report, which a person writing about a failed delivery rarely copies (a
# status code they do: they paste the error they got).
_PROOF = frozenset({Sign.RECIPIENT_LIST, Sign.RETURNED_MAIL})


def verdict(signs: Signs) -> BounceKind | None:
    """The kind of report the signs add up to, or None for any other mail."""
    found = signs.found
    if found & _FEEDBACK_STRUCTURE:
        return BounceKind.FEEDBACK
    if found & _DELIVERY_STRUCTURE or Sign.SES_BOUNCE in found:
        return BounceKind.DELIVERY
    if Sign.COMPLAINT_SUBJECT in found and Sign.RETURNED_MAIL in found:
        return BounceKind.FEEDBACK  # Microsoft JMRP: the complained-of mail attached
    says_failure = bool(found & {Sign.BOUNCE_SUBJECT, Sign.BOUNCE_TEXT})
    if Sign.DAEMON_SENDER in found:
        return BounceKind.DELIVERY if found & _EVIDENCE else None
    if Sign.ANSWER_SUBJECT in found:
        return None  # a person answering or forwarding a bounce
    evidence = len(found & _EVIDENCE)
    if Sign.POSTMASTER_SENDER in found:
        return BounceKind.DELIVERY if says_failure and evidence >= 2 else None
    if Sign.AUTOMATIC in found:
        # Forms and shops send with an empty Return-Path too: wording alone is not proof.
        return BounceKind.DELIVERY if says_failure and found & _PROOF else None
    # From what looks like a person: the subject, the wording and the proof, all three.
    if Sign.BOUNCE_SUBJECT in found and Sign.BOUNCE_TEXT in found and found & _PROOF:
        return BounceKind.DELIVERY
    return None


def read_signs(message: ParsedMessage) -> Signs:
    found: set[Sign] = set()
    media_type, params = _content_type(message)
    if media_type == "multipart/report":
        report_type = params.get("report-type", "").lower()
        if report_type == "feedback-report":
            found.add(Sign.FEEDBACK_REPORT)
        elif report_type in ("delivery-status", "global-delivery-status", ""):
            # Some MTAs leave the report-type out; a report of anything else says so.
            found.add(Sign.DELIVERY_REPORT)
    for attachment in message.attachments:
        declared = {attachment.media_type, attachment.declared_type}
        if declared & STATUS_TYPES:
            found.add(Sign.STATUS_PART)
        if "message/feedback-report" in declared:
            found.add(Sign.FEEDBACK_PART)
        if declared & DISPOSITION_TYPES and rejected_disposition(attachment.data):
            found.add(Sign.REJECTION_REPORT)
        if declared & ORIGINAL_TYPES:
            found.add(Sign.RETURNED_MAIL)
    if any(message.header(name) for name in _NDR_HEADERS):
        found.add(Sign.NDR_HEADER)
    found |= _sender_signs(message)
    subject = message.subject.strip()
    if _ANSWER_SUBJECT.match(subject):
        found.add(Sign.ANSWER_SUBJECT)
    elif _BOUNCE_SUBJECT.match(subject):
        found.add(Sign.BOUNCE_SUBJECT)
    if _COMPLAINT_SUBJECT.match(subject):
        found.add(Sign.COMPLAINT_SUBJECT)
    ses = _ses_notification(message)
    if ses is not None:
        found.add(Sign.SES_BOUNCE if ses.kind is BounceKind.DELIVERY else Sign.SES_COMPLAINT)
    # The text is read only beside another sign: with none (or only a reply's subject),
    # verdict() finds no report whatever the text says, and searching it was most of
    # the time every mail spent here.
    if found - {Sign.ANSWER_SUBJECT}:
        found |= _text_signs(message.text)
    return Signs(frozenset(found), ses)


def _text_signs(text: str) -> set[Sign]:
    # Lower-cased once: IGNORECASE over many alternatives costs three times as much.
    opening = text[:_OPENING].lower()
    found = {sign for pattern, sign in _TEXT_SIGNS if pattern.search(opening)}
    if returned_marker(text[:_MARKER_REACH].lower()) is not None:
        found.add(Sign.RETURNED_MAIL)
    return found


# --- what the signs are read from -------------------------------------------------------

STATUS_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
ORIGINAL_TYPES = frozenset(
    {"message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers"}
)
DISPOSITION_TYPES = frozenset(
    {"message/disposition-notification", "message/global-disposition-notification"}
)
# A Sieve `reject` (RFC 5429 2.2) answers with an MDN whose disposition is "deleted" by an
# automatic action; a read receipt says "displayed", a person's client "manual-action".
_REJECTED_DISPOSITION = re.compile(
    rb"^disposition:[ \t]*automatic-action/[^;\r\n]*;[ \t]*(?:deleted|denied|failed)\b",
    re.IGNORECASE | re.MULTILINE,
)


def rejected_disposition(data: bytes) -> bool:
    """Whether a message/disposition-notification part says the mail was refused unread."""
    return _REJECTED_DISPOSITION.search(data[:4000]) is not None


# Exchange marks its NDRs (2003: X-MS-Embedded-Report; 2007 on: X-MS-Exchange-Message-Is-Ndr);
# Exim and Gmail name the failed recipients.
_NDR_HEADERS = ("X-MS-Exchange-Message-Is-Ndr", "X-MS-Embedded-Report", "X-Failed-Recipients")

_DAEMON_LOCAL_PARTS = frozenset(
    {"mailer-daemon", "mailer_daemon", "mailerdaemon", "mail-daemon", "mdaemon", "<>", ""}
)
_POSTMASTER_LOCAL_PARTS = frozenset({"postmaster", "mail.delivery.system", "mailadmin"})
# Gateways that sign with their product's name: "Symantec_AntiVirus_for_SMTP_Gateways@",
# "E500_SMTP_Mail_Service@".
_SYSTEM_LOCAL_PART = re.compile(r"(?:^|[._-])smtp(?:$|[._-])")
# Exchange 2007 and later send NDRs from MicrosoftExchange followed by 32 hex digits.
_EXCHANGE_SENDER = re.compile(r"^microsoftexchange[0-9a-f]{32}$")
_DAEMON_NAME = re.compile(r"^(?:mail delivery (?:sub)?system|mailer[- ]daemon)$", re.IGNORECASE)
_SYSTEM_NAME = re.compile(
    r"(?:^(?:system administrator|mail administrator|mail delivery service|mail router"
    r"|postmaster)$|mail ?server$|postmaster$|email security gateway$)",
    re.IGNORECASE,
)
_AUTOMATIC_PRECEDENCE = frozenset({"bulk", "junk", "auto_reply"})

# "Re:", "Fwd:", "FW:", "AW:", "WG:", "TR:", "RV:", "SV:", "VS:", "Antw:", "回复:", "転送:".
_ANSWER_SUBJECT = re.compile(
    r"^(?:re|fwd?|aw|wg|tr|rv|sv|vs|antw|enc|res|odp|ynt|回复|回覆|転送|返信)\s*(?:\[\d+\])?\s*[:：]",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"^(?:undelivered mail returned to sender|undeliver(?:able|ed)\b|returned mail\b"
    r"|mail delivery (?:failed|failure|problem|warning)|delivery status notification"
    r"|delivery (?:status )?report|delivery (?:failure|notification|warning|delayed)"
    r"|failure (?:notice|delivery)|failed mail\b|non[- ]?delivery|nondeliverable"
    r"|(?:message|mail) (?:not delivered|could not be delivered|delivery has failed)"
    r"|mail system error|delivery has failed|permanent delivery failure|mail failed\b"
    r"|mail error\b|warning: (?:could not send|message delayed)|delayed mail\b"
    r"|notice: mail delivery status|\[bounce\]|rejected post\b"
    r"|your message to \S+ could not be delivered"
    r"|unzustellbar|nicht zustellbar|non remis|onbestelbaar|no entregado"
    r"|no se puede entregar|non recapitabile|recapito non riuscito"
    r"|não (?:é possível entregar|entregue)"
    r"|(?:メール)?(?:配信|送信|配送)(?:エラー|不能|失敗)|不達|退信|邮件(?:发送)?失败)",
    re.IGNORECASE,
)
_COMPLAINT_SUBJECT = re.compile(r"^complaint about message from\b", re.IGNORECASE)

# Read in the opening of the text, where a report says what happened; a quoted returned
# mail starts after the notification, well within the first screens.
_OPENING = 4000
_MARKER_REACH = 12000
_BOUNCE_TEXT = re.compile(
    r"(?:could ?n[o']t be delivered|can ?n[o']t be delivered|could ?n[o']t deliver"
    r"|unable to deliver|was ?n[o']t able to deliver"
    r"|(?:was|were|has|have) not (?:yet )?been delivered"
    r"|(?:was|were|is) ?n[o']t delivered|did not reach|delivery (?:has )?failed"
    r"|delivery to the following recipients? (?:failed|was aborted)"
    r"|failed permanently|permanent(?:ly)? fatal|fatal delivery errors?|delivery problems"
    r"|failed recipients?\b"
    r"|undeliverable|could not be sent|did not receive this message|delivery of email to"
    r"|message was created automatically by mail delivery software|address(?:\(es\)|es)? failed"
    r"|delivery status notification|non-delivery report"
    r"|not listed in (?:domino|the public name and address book)"
    r"|not a member of this mailing list"
    r"|konnte nicht zugestellt werden|zustellung .{0,60}fehlgeschlagen"
    r"|n'a pas pu (?:être|etre) (?:remis|délivré|delivre)|no (?:pudo|ha podido) ser entregado"
    r"|no se (?:pudo|ha podido) entregar|la remise .{0,60}a échoué"
    r"|não foi possível entregar|impossibile recapitare"
    r"|non (?:è|e') stato (?:possibile )?(?:consegnat|recapitat)|kon niet worden afgeleverd"
    r"|não (?:pôde|foi possível) ser entregue"
    r"|配信できませんでした|送信できませんでした|配送できませんでした|届けることができませんでした"
    r"|无法发送|无法送达|无法投递|не может быть доставлено)",
)
# An enhanced status code (RFC 3463: 5.1.1) or an SMTP reply with its code (550 ...).
_STATUS_CODE = re.compile(
    r"\b[45]\.[0-7]\.\d{1,3}\b|\b(?:55[0-4]|45[0-2]|421)[ -]\S"
    r"|\b(?:smtp|error) (?:error )?code:? (?:55[0-4]|45[0-2]|421)\b",
)
# "... to the following recipient(s):", "these recipients or groups", "Failed Recipients".
_RECIPIENT_LIST = re.compile(
    r"(?:following|these) (?:e-?mail )?(?:recipients?|users?|address(?:es)?|destinations?)"
    r"(?:\(s\)|\(es\))?(?: or groups)?\s*:|failed recipients?(?:\(s\))?\s*(?::|-{3,})"
    # Exchange's NDR in Spanish, Portuguese, French, Italian and German.
    r"|(?:siguientes|seguintes) destinatarios(?: o grupos| ou grupos)?\s*:"
    r"|destinataires ou groupes suivants\s*:|destinatari o gruppi seguenti\s*:"
    r"|folgende empfänger oder gruppen\s*:",
)
_TEXT_SIGNS = (
    (_BOUNCE_TEXT, Sign.BOUNCE_TEXT),
    (_STATUS_CODE, Sign.STATUS_CODE),
    (_RECIPIENT_LIST, Sign.RECIPIENT_LIST),
)
# Where a text report begins the copy of the returned mail.
_RETURNED_MARKER = re.compile(
    r"(?:below this line is a copy of the message|original message follows"
    r"|(?:this is )?a copy of the (?:original )?message|original message headers"
    r"|returned (?:mail|message) follows|start of returned message|original mail as follows"
    r"|^-+ ?returned (?:mail|message) ?-+$"
    r"|header of the (?:source|original) mail|enclosed are the original headers"
    r"|original message (?:details|is attached|as received)|the original message headers"
    r"|^-+ original message headers? -+$|以下は送信されたメール|原信件|原邮件"
    r"|kopie der nachricht|encabezados del mensaje original|en-têtes du message d'origine"
    r"|cabeçalhos da mensagem original|intestazioni (?:del )?messaggio originale"
    r"|ursprüngliche nachrichtenkopfzeilen|oorspronkelijke berichtkoppen)",
    re.MULTILINE,
)


def returned_marker(text: str) -> int | None:
    """Where a text report starts quoting the returned mail, or None (`text` lower-cased)."""
    match = _RETURNED_MARKER.search(text)
    return match.start() if match else None


def _content_type(message: ParsedMessage) -> tuple[str, dict[str, str]]:
    values = message.header("Content-Type")
    if not values or "report" not in values[0].lower():
        return ("", {})  # parsing every mail's parameters cost 1% of the benchmark's run
    return parse_params(values[0])


def _sender_signs(message: ParsedMessage) -> set[Sign]:
    found: set[Sign] = set()
    sender = message.sender
    address = sender.normalized if sender else ""
    local = address.partition("@")[0]
    name = (sender.name or "").strip().strip('"') if sender else ""
    if (
        not address
        or "@" not in address
        or local in _DAEMON_LOCAL_PARTS
        or _EXCHANGE_SENDER.match(local)
        or _DAEMON_NAME.match(name)
    ):
        found.add(Sign.DAEMON_SENDER)
    elif (
        local in _POSTMASTER_LOCAL_PARTS
        or _SYSTEM_LOCAL_PART.search(local)
        or _SYSTEM_NAME.search(name)
    ):
        found.add(Sign.POSTMASTER_SENDER)
    for value in message.header("Return-Path"):
        path = value.strip().strip("<>").lower()
        if not path or path.partition("@")[0] in _DAEMON_LOCAL_PARTS:
            found.add(Sign.AUTOMATIC)
    auto_submitted = message.header("Auto-Submitted")
    if any(value.strip().lower().startswith("auto-") for value in auto_submitted):
        found.add(Sign.AUTOMATIC)
    precedence = message.header("Precedence")
    if precedence and precedence[0].strip().lower() in _AUTOMATIC_PRECEDENCE:
        found.add(Sign.AUTOMATIC)
    return found


def _ses_notification(message: ParsedMessage) -> SesNotification | None:
    """An Amazon SES bounce or complaint notification delivered by SNS as mail (JSON)."""
    text = message.text
    start = len(text[:200]) - len(text[:200].lstrip())
    if not text.startswith("{", start) or '"notificationType"' not in text[start : start + 200]:
        return None
    try:
        data = json.JSONDecoder().raw_decode(text, start)[0]  # the SNS footer follows
    except ValueError:
        return None
    notification_type = _field(data, "notificationType")
    if notification_type == "Bounce":
        kind, detail, listed = BounceKind.DELIVERY, "bounce", "bouncedRecipients"
    elif notification_type == "Complaint":
        kind, detail, listed = BounceKind.FEEDBACK, "complaint", "complainedRecipients"
    else:
        return None  # deliveries and other notifications report no failure
    items = _field(_field(data, detail), listed)
    recipients = tuple(
        SesRecipient(
            address=str(_field(item, "emailAddress")),
            action=str(_field(item, "action") or ("failed" if kind is BounceKind.DELIVERY else "")),
            status=str(_field(item, "status") or ""),
            diagnostic=str(_field(item, "diagnosticCode") or ""),
        )
        for item in (items if isinstance(items, list) else [])
        if _field(item, "emailAddress")
    )
    message_id = _field(_field(_field(data, "mail"), "commonHeaders"), "messageId")
    return SesNotification(kind, recipients, str(message_id) if message_id else None)


def _field(value: Any, key: str) -> Any:
    """value[key] when value is a JSON object, else None: the notification is not trusted."""
    return value.get(key) if isinstance(value, dict) else None
