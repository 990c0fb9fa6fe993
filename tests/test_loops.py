"""Loop, bounce and out-of-office checks, on mail run through the real parser."""

from __future__ import annotations

import pytest

from deskmail.classify.loops import (
    Bounce,
    FailedRecipient,
    auto_reply_blocker,
    is_bounce,
    is_out_of_office,
    is_own_message_id,
)
from deskmail.parse.message import ParsedMessage
from deskmail.parse.parser import parse_message

OWN = ("support@desk.example.com", "helpdesk@desk.example.com")
DOMAIN = "desk.example.com"


def mail(
    *headers: str,
    sender: str = "Alice Example <alice@example.com>",
    subject: str = "Printer on fire",
    body: str = "Please help.",
    message_id: str = "<1234@example.com>",
) -> ParsedMessage:
    """A plain mail with extra header lines ("Name: value")."""
    lines = [
        f"From: {sender}",
        "To: support@desk.example.com",
        f"Subject: {subject}",
        f"Message-ID: {message_id}",
        "Date: Mon, 24 Nov 2025 10:00:00 +0000",
        *headers,
        "",
        body,
        "",
    ]
    return parse_message("\r\n".join(lines).encode())


def blocker(message: ParsedMessage) -> str | None:
    return auto_reply_blocker(message, OWN, DOMAIN)


def test_a_normal_mail_may_be_answered() -> None:
    message = mail("Auto-Submitted: no", "Precedence: first-class", "X-Loop: other@example.org")
    assert blocker(message) is None
    assert is_bounce(message) is None
    assert not is_out_of_office(message)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Auto-Submitted: auto-generated", "Auto-Submitted: auto-generated"),
        ("Auto-Submitted: auto-replied; owner-email=bob@example.com", "auto-replied"),
        ("Auto-Submitted: Auto-Notified", "Auto-Submitted: auto-notified"),
        ("Precedence: bulk", "Precedence: bulk"),
        ("Precedence: JUNK", "Precedence: junk"),
        ("Precedence: list", "Precedence: list"),
        ("List-Id: Announcements <announce.lists.example.org>", "List-Id"),
        ("List-Unsubscribe: <mailto:leave@lists.example.org>", "List-Unsubscribe"),
        ("X-Auto-Response-Suppress: All", "X-Auto-Response-Suppress: all"),
        ("X-Auto-Response-Suppress: DR, AutoReply", "X-Auto-Response-Suppress: autoreply"),
        ("X-Auto-Response-Suppress: oof, NRN", "X-Auto-Response-Suppress: oof"),
        ("X-Loop: Support@Desk.Example.com", "X-Loop: Support@Desk.Example.com"),
        ("X-Loop: Service Desk <helpdesk@desk.example.com>", "our own address"),
        ("Return-Path: <>", "empty Return-Path"),
        ("Return-Path:", "empty Return-Path"),
        ('Content-Type: multipart/report; report-type=disposition-notification; boundary="b"',
         "multipart/report"),
        ("In-Reply-To: <deskmail.0123abcd@DESK.example.com>", "an answer to our own"),
        ("X-Autoreply: yes", "out-of-office"),
    ],
)  # fmt: skip
def test_each_loop_header_suppresses_automatic_mail(header: str, reason: str) -> None:
    found = blocker(mail(header))
    assert found is not None
    assert reason in found


@pytest.mark.parametrize(
    "sender",
    [
        "MAILER-DAEMON@mx.example.org",
        "Mail Delivery System <Mailer-Daemon@mx.example.org>",
        "postmaster@example.org",
        "Support <support@DESK.example.com>",  # our own mail coming back
    ],
)
def test_daemon_and_own_senders_are_never_answered(sender: str) -> None:
    assert blocker(mail(sender=sender)) is not None


def test_our_own_message_id_coming_back_is_never_answered() -> None:
    found = blocker(mail(message_id="<deskmail.0123abcd@desk.example.com>"))
    assert found == "our own outgoing mail (Message-ID)"


def test_mail_without_a_sender_is_never_answered() -> None:
    assert blocker(mail(sender="undisclosed-recipients:;")) == "no sender address"


@pytest.mark.parametrize(
    "header",
    [
        "X-Auto-Response-Suppress: DR, RN, NRN",  # read and delivery receipts only
        "X-Loop: someone@example.org",
        "In-Reply-To: <1234.5678@desk.example.com>",  # our domain, not our form
        "In-Reply-To: <deskmail.0123@elsewhere.example.org>",  # our form, not our domain
        "Auto-Submitted: NO",
        "Precedence: normal",
    ],
)
def test_near_misses_do_not_suppress(header: str) -> None:
    assert blocker(mail(header)) is None


def test_without_our_domain_replies_to_our_mail_are_not_suppressed() -> None:
    # Group notices: a customer's reply to our acknowledgement must reach the group.
    reply = mail("In-Reply-To: <deskmail.0123abcd@desk.example.com>")
    assert auto_reply_blocker(reply, OWN, None) is None
    assert auto_reply_blocker(mail(sender="support@desk.example.com"), OWN, None) is not None


def test_own_message_id_form() -> None:
    assert is_own_message_id("<deskmail.ab12@desk.example.com>", "Desk.Example.com")
    assert is_own_message_id("deskmail.ab12@desk.example.com", DOMAIN)
    assert not is_own_message_id("<ab12@desk.example.com>", DOMAIN)
    assert not is_own_message_id("<deskmail.ab12@desk.example.com.evil.org>", DOMAIN)
    assert not is_own_message_id("", DOMAIN)


# --- bounces ------------------------------------------------------------------------------

DSN = """\
Return-Path: <>
From: Mail Delivery System <MAILER-DAEMON@mx.example.org>
To: support@desk.example.com
Subject: Undelivered Mail Returned to Sender
Message-ID: <20251124100000.7F3A2@mx.example.org>
Date: Mon, 24 Nov 2025 10:00:00 +0000
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
    boundary="7F3A2.1764000000/mx.example.org"

--7F3A2.1764000000/mx.example.org
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--7F3A2.1764000000/mx.example.org
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org
X-Postfix-Queue-ID: 7F3A2
Arrival-Date: Mon, 24 Nov 2025 09:59:58 +0000

Final-Recipient: rfc822; nobody@example.org
Original-Recipient: rfc822;nobody@example.org
Action: failed
Status: 5.1.1
Remote-MTA: dns; mail.example.org
Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.org>: Recipient address
    rejected: User unknown in virtual mailbox table

Final-Recipient: rfc822; later@example.org
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Postfix; connect to mail.example.org[192.0.2.1]:25: Connection
    timed out

--7F3A2.1764000000/mx.example.org
Content-Description: Undelivered Message
Content-Type: {returned}

From: Service Desk <support@desk.example.com>
To: nobody@example.org
Subject: [Incident] [IT] 12-abcdefgh Printer on fire
Message-ID: <deskmail.0123abcd@desk.example.com>
Auto-Submitted: auto-replied

We have registered your request.

--7F3A2.1764000000/mx.example.org--
"""


def dsn(returned: str = "message/rfc822") -> ParsedMessage:
    return parse_message(DSN.format(returned=returned).replace("\n", "\r\n").encode())


@pytest.mark.parametrize("returned", ["message/rfc822", "text/rfc822-headers"])
def test_rfc3464_report_gives_recipients_and_the_original_message_id(returned: str) -> None:
    bounce = is_bounce(dsn(returned))
    assert bounce == Bounce(
        original_message_id="deskmail.0123abcd@desk.example.com",
        recipients=(
            FailedRecipient(
                address="nobody@example.org",
                action="failed",
                status="5.1.1",
                diagnostic="550 5.1.1 <nobody@example.org>: Recipient address rejected:"
                " User unknown in virtual mailbox table",
            ),
            FailedRecipient(
                address="later@example.org",
                action="delayed",
                status="4.4.1",
                diagnostic="connect to mail.example.org[192.0.2.1]:25: Connection timed out",
            ),
        ),
        standard=True,
    )
    assert bounce.failed


def test_a_report_of_delay_only_is_not_a_failure() -> None:
    text = DSN.format(returned="message/rfc822")
    head, _, rest = text.partition("Final-Recipient: rfc822; nobody@example.org")
    rest = rest.split("\n\n", 1)[1]  # drop the failed recipient's block
    bounce = is_bounce(parse_message((head + rest).replace("\n", "\r\n").encode()))
    assert bounce is not None
    assert [r.action for r in bounce.recipients] == ["delayed"]
    assert not bounce.failed


def test_a_bounce_is_never_answered() -> None:
    assert blocker(dsn()) is not None


def test_a_report_without_its_parts_is_still_a_bounce() -> None:
    message = mail(
        'Content-Type: multipart/report; report-type=delivery-status; boundary="x"',
        sender="MAILER-DAEMON@mx.example.org",
        body="--x\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--x--",
    )
    assert is_bounce(message) == Bounce(original_message_id=None, recipients=(), standard=True)


def test_qmail_failure_notice_quoting_the_message_in_the_body() -> None:
    body = (
        "Hi. This is the qmail-send program at mx.example.org.\r\n"
        "I'm afraid I wasn't able to deliver your message to the following addresses.\r\n\r\n"
        "<nobody@example.org>:\r\nSorry, no mailbox here by that name. (#5.1.1)\r\n\r\n"
        "--- Below this line is a copy of the message.\r\n\r\n"
        "Return-Path: <>\r\nMessage-ID: <deskmail.feed@desk.example.com>\r\n"
        "Subject: [Incident] [IT] 12-abcdefgh Printer\r\n\r\nWe have registered it.\r\n"
    )
    message = mail(sender="MAILER-DAEMON@mx.example.org", subject="failure notice", body=body)
    assert is_bounce(message) == Bounce(
        original_message_id="deskmail.feed@desk.example.com",
        recipients=(FailedRecipient(address="nobody@example.org", action="failed", status=""),),
        standard=False,
    )


def test_exim_names_failed_recipients_in_a_header() -> None:
    message = mail(
        "X-Failed-Recipients: nobody@example.org, gone@example.org",
        sender="Mail Delivery System <Mailer-Daemon@mx.example.org>",
        subject="Mail delivery failed: returning message to sender",
    )
    bounce = is_bounce(message)
    assert bounce is not None
    assert [r.address for r in bounce.recipients] == ["nobody@example.org", "gone@example.org"]
    assert not bounce.standard
    assert bounce.failed


def test_a_person_quoting_a_bounce_subject_is_not_a_bounce() -> None:
    assert is_bounce(mail(subject="Undelivered Mail Returned to Sender - why?")) is None
    assert is_bounce(mail(sender="MAILER-DAEMON@mx.example.org", subject="Hello")) is None


# --- out of office ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        ("Auto-Submitted: auto-replied",),
        ("Auto-Submitted: auto-replied; owner-email=bob@example.com",),
        ("Auto-Submitted: vacation",),  # Zimbra
        ("Auto-Submitted: auto-replied (zimbra; vacation)",),  # an RFC 3834 comment
        ("X-Autoreply: yes",),
        ("X-Autorespond: Out of office",),
        ("Precedence: auto_reply",),
        ("X-MS-Exchange-Inbox-Rules-Loop: bob@example.com", "X-Auto-Response-Suppress: All"),
    ],
)
def test_out_of_office_by_headers(headers: tuple[str, ...]) -> None:
    message = mail(*headers, subject="Re: Printer on fire")
    assert is_out_of_office(message)
    assert blocker(message) is not None


@pytest.mark.parametrize(
    "subject",
    [
        "Automatic reply: Printer on fire",
        "Autoreply: Printer on fire",
        "AW: Automatische Antwort: Drucker",
        "Réponse automatique : Imprimante",
        "Respuesta automática: Impresora",
        "Risposta automatica: Stampante",
        "Automatisch antwoord: Printer",
        "Autosvar: Skrivare",
        "自动回复: 打印机",
    ],
)
def test_out_of_office_by_subject(subject: str) -> None:
    message = mail(subject=subject)
    assert is_out_of_office(message)
    assert blocker(message) is not None


@pytest.mark.parametrize(
    "subject", ["Out of Office: back on Monday", "Abwesenheitsnotiz: Drucker", "Absence: Printer"]
)
def test_absence_subjects_need_another_sign(subject: str) -> None:
    assert not is_out_of_office(mail(subject=subject))  # a person may write this
    assert is_out_of_office(mail("X-Auto-Response-Suppress: All", subject=subject))
    assert is_out_of_office(mail("Auto-Submitted: auto-generated", subject=subject))


@pytest.mark.parametrize(
    "headers",
    [
        ("Auto-Submitted: auto-generated",),  # monitoring: becomes an event, not an OOO
        ("X-MS-Exchange-Inbox-Rules-Loop: bob@example.com",),  # a rule-forwarded mail
        ("Precedence: bulk",),
    ],
)
def test_other_automatic_mail_is_not_out_of_office(headers: tuple[str, ...]) -> None:
    assert not is_out_of_office(mail(*headers))
