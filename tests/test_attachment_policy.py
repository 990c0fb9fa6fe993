"""Which attachments a job keeps: ignored names, repeated signature images, size limits."""

from __future__ import annotations

from typing import Any

import pytest

from deskmail.apply.attachments import raw_message_attachment
from deskmail.classify.attachment_policy import (
    SIGNATURE_IMAGE_MAX,
    human_size,
    ignored_patterns,
    select_attachments,
)
from deskmail.config.models import JobConfig
from deskmail.parse.attachments import make_attachment
from deskmail.parse.message import ParsedAttachment, ParsedMessage
from deskmail.parse.parser import parse_message

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def _job(**settings: Any) -> JobConfig:
    return JobConfig(name="Support", protocol="maildir", path="/tmp/mail", **settings)


def _message(*attachments: ParsedAttachment) -> ParsedMessage:
    return ParsedMessage(
        message_id="m@x",
        subject="s",
        sender=None,
        to=(),
        cc=(),
        date=None,
        in_reply_to=None,
        references=(),
        text="",
        html=None,
        attachments=attachments,
    )


def _file(
    name: str, data: bytes = b"data", media_type: str = "application/pdf"
) -> ParsedAttachment:
    return make_attachment(name, media_type, data)


def _never(sha256: str) -> bool:
    raise AssertionError("the database must not be asked")


def _kept(message: ParsedMessage, job: JobConfig) -> list[str]:
    return [a.filename for a in select_attachments(message, job, _never).kept]


@pytest.mark.parametrize(
    ("spec", "name", "ignored"),
    [
        ("*.vcf", "alice.VCF", True),
        ("logo*.png, *.VCF", "Logo-Small.PNG", True),
        (" image0*.jpg ,winmail.dat", "image001.jpg", True),
        ("image0*.jpg", "image001.jpg.exe", False),
        ("*.p7s", "smime.p7s", True),
        ("report?.pdf", "report1.pdf", False),  # only * is a wildcard
        ("report?.pdf", "report?.pdf", True),
        ("[abc].txt", "a.txt", False),
        ("*", "anything", True),
        ("", "anything", False),
        (",,", "anything", False),
    ],
)
def test_ignored_names(spec: str, name: str, ignored: bool) -> None:
    assert (_kept(_message(_file(name)), _job(ignored_attachments=spec)) == []) is ignored


def test_ignored_names_match_the_display_name_too() -> None:
    job = _job(ignored_attachments="passwd")
    selection = select_attachments(_message(_file("../../etc/passwd")), job, _never)
    (dropped,) = selection.dropped
    assert dropped.reason == '"passwd" matches the ignored attachment name "passwd".'
    assert not dropped.notify


def test_patterns_are_compiled_once_per_spec() -> None:
    assert ignored_patterns("a*, b") is ignored_patterns("a*, b")
    assert [p for p, _ in ignored_patterns(" a* ,, b ")] == ["a*", "b"]


def test_repeated_small_inline_images_are_dropped_when_enabled() -> None:
    logo = make_attachment("image001.png", "image/png", PNG, inline=True, content_id="i1")
    big = make_attachment("photo.png", "image/png", PNG + b"x" * SIGNATURE_IMAGE_MAX, inline=True)
    attached = make_attachment("shot.png", "image/png", PNG + b"y")
    asked: list[str] = []

    def seen(sha256: str) -> bool:
        asked.append(sha256)
        return True

    message = _message(logo, big, attached)
    selection = select_attachments(message, _job(drop_signature_images=True), seen)
    assert [a.filename for a in selection.kept] == ["photo.png", "shot.png"]
    assert asked == [logo.sha256]  # only small inline images cost a query
    (dropped,) = selection.dropped
    assert dropped.filename == "image001.png" and "signature image" in dropped.reason
    assert select_attachments(message, _job(), _never).dropped == ()


def test_first_time_inline_image_is_kept() -> None:
    logo = make_attachment("image001.png", "image/png", PNG, inline=True)
    selection = select_attachments(
        _message(logo), _job(drop_signature_images=True), lambda sha256: False
    )
    assert selection.kept == (logo,)


def test_size_limit_drops_with_a_reason_for_the_ticket() -> None:
    small, big = _file("small.pdf", b"x" * 1000), _file("dump.bin", b"x" * 60_000)
    selection = select_attachments(_message(small, big), _job(max_attachment_size=50_000), _never)
    assert selection.kept == (small,)
    (dropped,) = selection.dropped
    assert (dropped.filename, dropped.size, dropped.notify) == ("dump.bin", 60_000, True)
    assert dropped.reason == (
        '"dump.bin" was not kept: at 58.6 KB (60,000 bytes) it is larger than the limit of'
        ' 48.8 KB (50,000 bytes) per file set for mailbox "Support".'
    )


def test_reasons_never_carry_line_breaks_from_names() -> None:
    selection = select_attachments(
        _message(_file("a\r\nInjected: yes\u202e.pdf", b"x" * 10)),
        _job(max_attachment_size=1),
        _never,
    )
    (dropped,) = selection.dropped
    assert (
        "\r" not in dropped.reason and "\n" not in dropped.reason and "\u202e" not in dropped.reason
    )


def test_human_size() -> None:
    assert human_size(999) == "999 bytes"
    assert human_size(1536) == "1.5 KB (1,536 bytes)"
    assert human_size(10 * 1024**2) == "10.0 MB (10,485,760 bytes)"


def test_raw_message_attachment() -> None:
    raw = b"From: a@example.com\r\nSubject: Printer / toner\r\n\r\nbody\r\n"
    attachment = raw_message_attachment(raw, parse_message(raw).subject)
    assert attachment.filename == "original-message - Printer - toner.eml"
    assert attachment.media_type == "message/rfc822" and attachment.data == raw
    assert raw_message_attachment(b"\x89PNG", "").filename == "original-message.eml"
    assert raw_message_attachment(b"\x89PNG\r\n\x1a\n", "").media_type == "message/rfc822"
