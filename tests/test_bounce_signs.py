"""Bounce signs and their verdict: the labelled corpus (tests/corpus/bounces/), then the
weighing of signs one rule at a time."""

from __future__ import annotations

import pytest
from bench import bounce_accuracy

from deskmail.classify.bounce_signs import BounceKind, Sign, Signs, read_signs, verdict
from deskmail.classify.loops import is_bounce, is_out_of_office
from deskmail.parse.parser import parse_message

CASES = {case.name: case for case in bounce_accuracy.load_cases(malformed=None)}
# A bounce written as a reply ("RE: ... : non remis") from an address that looks like a
# person's, with no status code and no returned mail: nothing tells it from a person.
KNOWN_MISSES = {"flufl-simple-20.eml"}
KINDS = {"bounce": BounceKind.DELIVERY, "feedback-report": BounceKind.FEEDBACK}


def test_the_corpus_is_labelled_and_split_by_the_seeded_hash() -> None:
    labels = {case.label for case in CASES.values()}
    assert labels == {"bounce", "feedback-report", "auto-reply", "ordinary"}
    split = [case for case in CASES.values() if case.half not in ("fresh", "fresh-2")]
    assert all(case.half == bounce_accuracy.split_half(case.name) for case in split)
    assert all(name.startswith("fresh-") for name, c in CASES.items() if c.half == "fresh")
    assert all(name.startswith("fresh2-") for name, c in CASES.items() if c.half == "fresh-2")
    halves = [case.half for case in split]
    assert 0.4 < halves.count("tuning") / len(halves) < 0.6


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_corpus_mail_gets_its_label(name: str) -> None:
    case = CASES[name]
    message = parse_message(case.raw)
    bounce = is_bounce(message)
    if name in KNOWN_MISSES:
        assert bounce is None  # still missed: when this fails, take it off the list
        return
    if case.label in KINDS:
        assert bounce is not None, sorted(read_signs(message).found)
        assert bounce.kind is KINDS[case.label]
        if case.original_message_id:
            assert bounce.original_message_id == case.original_message_id
    elif case.label == "auto-reply":
        assert bounce is None and is_out_of_office(message)
    else:
        assert bounce is None, bounce.signs
        assert not is_out_of_office(message)


def test_the_benchmark_reports_both_halves_beside_the_naive_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bounce_accuracy.main([]) == 0
    rows = [line.split(" | ")[:2] for line in capsys.readouterr().out.splitlines()[2:]]
    assert rows == [
        [f"| {half}", checker]
        for half in bounce_accuracy.HALVES
        for checker in ("deskmail", "naive")
    ]


# --- the verdict, one rule at a time ------------------------------------------------------------


def signs(*found: Sign) -> Signs:
    return Signs(frozenset(found))


@pytest.mark.parametrize(
    ("found", "expected"),
    [
        ((Sign.DELIVERY_REPORT,), BounceKind.DELIVERY),
        ((Sign.STATUS_PART, Sign.ANSWER_SUBJECT), BounceKind.DELIVERY),
        ((Sign.NDR_HEADER,), BounceKind.DELIVERY),
        ((Sign.FEEDBACK_REPORT, Sign.DELIVERY_REPORT), BounceKind.FEEDBACK),
        ((Sign.COMPLAINT_SUBJECT, Sign.RETURNED_MAIL), BounceKind.FEEDBACK),
        ((Sign.COMPLAINT_SUBJECT,), None),
        # A mailer daemon needs one piece of evidence, even under "Re:".
        ((Sign.DAEMON_SENDER, Sign.RETURNED_MAIL), BounceKind.DELIVERY),
        ((Sign.DAEMON_SENDER, Sign.ANSWER_SUBJECT, Sign.BOUNCE_TEXT), BounceKind.DELIVERY),
        ((Sign.DAEMON_SENDER, Sign.AUTOMATIC), None),
        # A postmaster or mail system: the failure said, and one more piece.
        ((Sign.POSTMASTER_SENDER, Sign.BOUNCE_SUBJECT, Sign.BOUNCE_TEXT), BounceKind.DELIVERY),
        ((Sign.POSTMASTER_SENDER, Sign.STATUS_CODE, Sign.RETURNED_MAIL), None),
        ((Sign.POSTMASTER_SENDER, Sign.BOUNCE_SUBJECT), None),
        ((Sign.POSTMASTER_SENDER, Sign.ANSWER_SUBJECT, Sign.BOUNCE_TEXT, Sign.STATUS_CODE), None),
        # Only the envelope looks automatic: the failure said, and proof of it.
        ((Sign.AUTOMATIC, Sign.BOUNCE_SUBJECT, Sign.BOUNCE_TEXT), None),
        ((Sign.AUTOMATIC, Sign.BOUNCE_SUBJECT, Sign.RECIPIENT_LIST), BounceKind.DELIVERY),
        # Someone who looks like a person: subject, wording and the shape of a report;
        # people paste the status code they got.
        ((Sign.BOUNCE_SUBJECT, Sign.BOUNCE_TEXT, Sign.RETURNED_MAIL), BounceKind.DELIVERY),
        ((Sign.BOUNCE_SUBJECT, Sign.BOUNCE_TEXT, Sign.STATUS_CODE), None),
        ((Sign.BOUNCE_SUBJECT, Sign.BOUNCE_TEXT), None),
        ((Sign.BOUNCE_TEXT, Sign.STATUS_CODE, Sign.RETURNED_MAIL, Sign.RECIPIENT_LIST), None),
        ((Sign.ANSWER_SUBJECT, Sign.BOUNCE_TEXT, Sign.STATUS_CODE, Sign.RETURNED_MAIL), None),
    ],
)
def test_verdict_weighs_the_sender_against_the_evidence(
    found: tuple[Sign, ...], expected: BounceKind | None
) -> None:
    assert verdict(signs(*found)) is expected


def _mail(body: str, *headers: str, subject: str = "AWS Notification Message") -> bytes:
    lines = [
        "From: AWS Notifications <no-reply@sns.amazonaws.com>",
        "To: support@desk.example.com",
        f"Subject: {subject}",
        *headers,
        "Content-Type: text/plain; charset=utf-8",
        "",
        body,
    ]
    return "\r\n".join(lines).encode()


@pytest.mark.parametrize(
    "body",
    [
        '{"notificationType": "Bounce", "bounce": [1, 2], "mail": "x"}',
        '{"notificationType": "Bounce", "bounce": {"bouncedRecipients": [7, {"x": 1}]}}',
        '{"notificationType": "Bounce", "bounce": {"bouncedRecipients": [{"emailAddress": "a@b"',
        '{"notificationType": "Delivery", "delivery": {}}',
        '["notificationType"]',
    ],
)
def test_a_broken_or_other_ses_notification_never_raises(body: str) -> None:
    message = parse_message(_mail(body))
    bounce = is_bounce(message)
    if "Bounce" in body and body.endswith("}"):
        assert bounce is not None and Sign.SES_BOUNCE in bounce.signs
    else:
        assert bounce is None


def test_ses_bounce_gives_the_recipients_and_our_message_id() -> None:
    body = (
        '{"notificationType":"Bounce","bounce":{"bouncedRecipients":[{"emailAddress":'
        '"gone@example.org","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550"}]},'
        '"mail":{"commonHeaders":{"messageId":"<deskmail.abc@desk.example.com>"}}}\n\n--\nfooter'
    )
    bounce = is_bounce(parse_message(_mail(body)))
    assert bounce is not None
    assert bounce.original_message_id == "deskmail.abc@desk.example.com"
    assert [(r.address, r.action, r.status) for r in bounce.recipients] == [
        ("gone@example.org", "failed", "5.1.1")
    ]


def test_a_text_bounce_names_the_returned_subject_and_the_failed_recipient() -> None:
    body = (
        "Your message\r\n\r\n  Subject: [Incident] [IT] 7-abcdefgh Printer\r\n\r\n"
        "did not reach the following recipient(s):\r\n\r\ngone@example.org\r\n"
    )
    raw = _mail(body, subject="Undeliverable: [Incident] [IT] 7-abcdefgh Printer")
    raw = raw.replace(
        b"AWS Notifications <no-reply@sns.amazonaws.com>", b"System Administrator <ops@x.example>"
    )
    bounce = is_bounce(parse_message(raw))
    assert bounce is not None and not bounce.standard
    assert bounce.original_subject == "[Incident] [IT] 7-abcdefgh Printer"
    assert bounce.original_message_id is None
    assert [r.address for r in bounce.recipients] == ["gone@example.org"]


def _mdn(disposition: str) -> bytes:
    """A disposition notification as Dovecot's LDA writes it for a Sieve `reject`."""
    return (
        "From: Postmaster <postmaster@mx.example.org>\r\n"
        "To: <support@desk.example.com>\r\n"
        "Subject: Rejected: Re: [Incident] [IT] 7-abcdefgh Printer\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"\r\n'
        "\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Your message to <gone@example.org> was automatically rejected:\r\n"
        "This mailbox is no longer read; write to info@example.org.\r\n"
        "--b\r\nContent-Type: message/disposition-notification\r\n\r\n"
        "Reporting-UA: mx.example.org; Dovecot Mail Delivery Agent\r\n"
        "Final-Recipient: rfc822; gone@example.org\r\n"
        "Original-Message-ID: <deskmail.abc@desk.example.com>\r\n"
        f"Disposition: {disposition}\r\n"
        "\r\n--b--\r\n"
    ).encode()


def test_a_sieve_rejection_is_a_failed_delivery_of_the_named_mail() -> None:
    bounce = is_bounce(parse_message(_mdn("automatic-action/MDN-sent-automatically; deleted")))
    assert bounce is not None and bounce.kind is BounceKind.DELIVERY and bounce.failed
    assert Sign.REJECTION_REPORT in bounce.signs
    assert bounce.original_message_id == "deskmail.abc@desk.example.com"
    # The MDN's recipient, not the address the refusal text mentions.
    assert [(r.address, r.action) for r in bounce.recipients] == [("gone@example.org", "failed")]


@pytest.mark.parametrize(
    "disposition",
    [
        "automatic-action/MDN-sent-automatically; displayed",  # an automatic read receipt
        "manual-action/MDN-sent-manually; deleted",  # a person deleted it unread
    ],
)
def test_a_read_receipt_or_a_persons_deletion_is_no_rejection(disposition: str) -> None:
    message = parse_message(_mdn(disposition))
    assert Sign.REJECTION_REPORT not in read_signs(message)
    assert is_bounce(message) is None


def _text(sender: str, subject: str, body: str, *headers: str) -> bytes:
    lines = [
        f"From: {sender}",
        "To: support@desk.example.com",
        f"Subject: {subject}",
        *headers,
        "Content-Type: text/plain; charset=utf-8",
        "",
        body,
    ]
    return "\r\n".join(lines).encode()


def test_exchange_ndr_in_spanish_is_read_as_its_english_form() -> None:
    body = (
        "No se pudo entregar el mensaje a los siguientes destinatarios o grupos:\r\n\r\n"
        "gone@example.org\r\nRemote Server returned '550 5.1.1 RESOLVER.ADR.RecipNotFound'\r\n\r\n"
        "Encabezados del mensaje original:\r\n\r\n"
        "Message-ID: <deskmail.abc@desk.example.com>\r\nSubject: [Incident] [IT] 7-abcdefgh\r\n"
    )
    raw = _text("Administrador <postmaster@example.org>", "No se puede entregar: Impresora", body)
    message = parse_message(raw)
    assert {Sign.BOUNCE_SUBJECT, Sign.BOUNCE_TEXT, Sign.RECIPIENT_LIST, Sign.RETURNED_MAIL} <= set(
        read_signs(message).found
    )
    bounce = is_bounce(message)
    assert bounce is not None and bounce.original_message_id == "deskmail.abc@desk.example.com"


def test_a_person_writing_the_spanish_words_is_not_a_bounce() -> None:
    body = "Hola, no se puede entregar el paquete hoy: la oficina está cerrada.\r\nLucía\r\n"
    message = parse_message(_text("Lucía <lucia@example.es>", "No se puede entregar hoy", body))
    assert is_bounce(message) is None


@pytest.mark.parametrize(
    ("subject", "headers", "automatic"),
    [
        ("Hans Keller ist außer Haus.", ("Auto-Submitted: auto-generated",), True),
        ("Anna Berg is out of the office.", ("Precedence: bulk",), True),
        ("Anna Berg is out of the office.", (), False),  # a colleague telling us
        ("INC0012345 has been opened on your behalf", ("Auto-Submitted: auto-generated",), True),
        ("Ticket Received - Printer", ("Auto-Submitted: auto-generated",), True),
        ("[SD-991] Mail problem - received", ("Auto-Submitted: auto-generated",), True),
        ("Your parcel has been received", (), False),  # a person, nothing automatic
        ("Ticket received? Nothing happened since", ("Precedence: bulk",), False),
    ],
)
def test_absence_notices_and_help_desk_acknowledgements_need_an_automatic_mark(
    subject: str, headers: tuple[str, ...], automatic: bool
) -> None:
    message = parse_message(_text("Someone <someone@example.org>", subject, "text", *headers))
    assert is_out_of_office(message) is automatic


def test_the_text_is_read_only_beside_another_sign() -> None:
    # A person pasting the error they got, under a subject of their own: no other sign,
    # so the text cannot make a report of it and is not searched.
    body = (
        "Hello, my mail could not be delivered to the following recipients:\r\n"
        "boss@example.org 550 5.1.1 user unknown\r\n"
    )
    pasted = parse_message(_text("Ann <ann@example.org>", "Mail problem", body))
    assert read_signs(pasted).found == frozenset()
    assert is_bounce(pasted) is None
    answer = parse_message(_text("Ann <ann@example.org>", "Re: Mail problem", body))
    assert read_signs(answer).found == {Sign.ANSWER_SUBJECT}
    # The same text under a delivery-failure subject is read, and weighed.
    reported = parse_message(_text("Ann <ann@example.org>", "Undeliverable: Mail problem", body))
    assert {Sign.BOUNCE_SUBJECT, Sign.BOUNCE_TEXT, Sign.STATUS_CODE, Sign.RECIPIENT_LIST} <= (
        read_signs(reported).found
    )
