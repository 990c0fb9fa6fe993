"""The first-pipeline parser: bodies, headers and attachments, never a crash."""

from __future__ import annotations

from email.message import EmailMessage

from deskmail.parse.parser import parse_message


def _mail(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    return msg


def test_plain_text_keeps_backslashes_exactly() -> None:
    msg = _mail(From="Alice <alice@example.com>", Subject="Share", Message_ID="<m1@example.com>")
    msg.set_content(
        "Path: C:\\Users\\alice\\new\\bin and \\\\fileserver01\\finance\n",
        charset="utf-8",
        cte="8bit",
    )
    parsed = parse_message(msg.as_bytes())
    assert "C:\\Users\\alice\\new\\bin and \\\\fileserver01\\finance" in parsed.text
    assert parsed.message_id == "m1@example.com"
    assert parsed.sender is not None and parsed.sender.normalized == "alice@example.com"


def test_encoded_words_and_latin1_body() -> None:
    raw = (
        b"From: =?iso-8859-1?q?Chlo=E9_Dubois?= <Chloe@Example.COM>\r\n"
        b"Subject: =?utf-8?b?UHJvYmzDqG1lIGQnaW1wcmltYW50ZQ==?=\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"L'imprimante du 3=E8me =E9tage est bloqu=E9e.\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.subject == "Problème d'imprimante"
    assert parsed.sender is not None
    assert parsed.sender.name == "Chloé Dubois"
    assert parsed.sender.normalized == "chloe@example.com"
    assert "3ème étage est bloquée" in parsed.text


def test_html_only_mail_becomes_readable_text_with_lists_and_links() -> None:
    msg = _mail(From="bob@example.org", Subject="HTML")
    msg.set_content(
        "<html><body><p>Steps:</p><ul><li>open Outlook</li><li>click Send</li></ul>"
        '<p>See <a href="https://status.example.com">status</a></p></body></html>',
        subtype="html",
    )
    parsed = parse_message(msg.as_bytes())
    assert parsed.html is not None and "<ul>" in parsed.html
    assert "* open Outlook" in parsed.text
    assert "* click Send" in parsed.text
    assert "https://status.example.com" in parsed.text
    assert "<p>" not in parsed.text


def test_alternative_prefers_plain_text() -> None:
    msg = _mail(From="bob@example.org", Subject="alt")
    msg.set_content("plain version\n")
    msg.add_alternative("<p>html version</p>", subtype="html")
    parsed = parse_message(msg.as_bytes())
    assert parsed.text.strip() == "plain version"
    assert parsed.html is not None and "html version" in parsed.html
    assert parsed.attachments == ()


def test_attachments_inline_and_attached() -> None:
    msg = _mail(From="bob@example.org", Subject="files")
    msg.set_content("see attached\n")
    msg.add_attachment(
        b"%PDF-1.4 tiny", maintype="application", subtype="pdf", filename="report.pdf"
    )
    msg.add_attachment(
        b"\x89PNG\r\n\x1a\n",
        maintype="image",
        subtype="png",
        filename="shot.png",
        disposition="inline",
        cid="<img1@example>",
    )
    parsed = parse_message(msg.as_bytes())
    names = {a.filename: a for a in parsed.attachments}
    assert names["report.pdf"].data == b"%PDF-1.4 tiny"
    assert names["report.pdf"].inline is False
    assert names["shot.png"].inline is True
    assert names["shot.png"].content_id == "img1@example"


def test_unknown_charset_and_broken_headers_do_not_raise() -> None:
    raw = (
        b'From: "broken <<@>> \r\n'
        b"To: undisclosed-recipients:;\r\n"
        b"Date: not a date\r\n"
        b"Subject: =?x-unknown?q?caf=E9?=\r\n"
        b"Content-Type: text/plain; charset=x-made-up\r\n\r\n"
        b"caf\xc3\xa9 ok\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.text.startswith("café ok")
    assert parsed.date is None
    assert parsed.defects  # the workarounds are reported


def test_bad_base64_attachment_is_kept_not_fatal() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: b64\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
        b"--XX\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
        b"--XX\r\nContent-Type: application/octet-stream; name=x.bin\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not*base64===\r\n--XX--\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.text.strip() == "body"
    assert [a.filename for a in parsed.attachments] == ["x.bin"]


def test_deep_nesting_is_bounded() -> None:
    inner = b"Content-Type: text/plain\r\n\r\ndeep body\r\n"
    for level in range(60):
        b = f"b{level}".encode()
        inner = (
            b'Content-Type: multipart/mixed; boundary="'
            + b
            + b'"\r\n\r\n--'
            + b
            + b"\r\n"
            + inner
            + b"\r\n--"
            + b
            + b"--\r\n"
        )
    parsed = parse_message(b"From: a@example.com\r\nSubject: deep\r\nMIME-Version: 1.0\r\n" + inner)
    assert any("nesting" in d for d in parsed.defects)
    assert parsed.subject == "deep"


def test_message_rfc822_kept_as_eml() -> None:
    inner = _mail(From="x@example.com", Subject="inner")
    inner.set_content("inner body\n")
    outer = _mail(From="y@example.com", Subject="outer")
    outer.set_content("outer body\n")
    outer.add_attachment(inner)
    parsed = parse_message(outer.as_bytes())
    assert parsed.text.strip() == "outer body"
    assert len(parsed.attachments) == 1
    assert parsed.attachments[0].media_type == "message/rfc822"
    assert b"Subject: inner" in parsed.attachments[0].data
