"""The first-pipeline parser: bodies, headers and attachments, never a crash."""

from __future__ import annotations

import base64
import email.utils
import pickle
import random
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import pytest

from deskmail.parse import parser
from deskmail.parse.attachments import make_attachment
from deskmail.parse.charsets import decode_text
from deskmail.parse.encoded_words import decode_header_text
from deskmail.parse.fields import (
    MAX_REFERENCES,
    _simple_address,
    message_id,
    message_ids,
    parse_addresses,
    parse_date,
)
from deskmail.parse.filenames import MAX_NAME_BYTES, safe_display_name
from deskmail.parse.headers import MAX_HEADERS, MAX_VALUE_CHARS
from deskmail.parse.mime_params import parse_params
from deskmail.parse.parser import parse_message
from deskmail.parse.transfer import decode_base64, decode_payload

CORPUS = Path(__file__).parent / "corpus" / "malformed"


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


def test_html_layout_libraries_load_with_the_first_html_only_mail() -> None:
    # lxml and inscriptis cost ~6 MiB: a run whose mail all has a text part never loads them.
    probe = textwrap.dedent(
        """
        import sys
        from email.message import EmailMessage
        import deskmail.cli, deskmail.intake.run
        from deskmail.parse.parser import parse_message

        both = EmailMessage()
        both["From"] = "bob@example.org"
        both.set_content("plain version")
        both.add_alternative("<p>html <b>version</b></p>", subtype="html")
        parse_message(both.as_bytes())
        print("lxml" in sys.modules, "inscriptis" in sys.modules)
        only = EmailMessage()
        only["From"] = "bob@example.org"
        only.set_content("<ul><li>first</li><li>second</li></ul>", subtype="html")
        print(parse_message(only.as_bytes()).text.split())
        print("lxml" in sys.modules, "inscriptis" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [
        "False False",
        "['*', 'first', '*', 'second']",
        "True True",
    ]


def test_the_tnef_libraries_load_with_the_first_winmail_dat() -> None:
    # tnefparse and striprtf cost ~3 MiB and 10 ms: a run without winmail.dat never loads them.
    winmail = Path(__file__).parent / "corpus" / "malformed" / "42-tnef-winmail.eml"
    probe = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        import deskmail.cli, deskmail.intake.run
        from deskmail.parse.parser import parse_message

        parse_message(b"From: bob@example.org\\r\\nSubject: hi\\r\\n\\r\\nhello\\r\\n")
        print("tnefparse" in sys.modules, "striprtf" in sys.modules)
        parsed = parse_message(Path({str(winmail)!r}).read_bytes())
        print([a.filename for a in parsed.attachments], "tnefparse" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["False False", "['notes.txt', 'logo.png'] True"]


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


# ---- headers: decoded once, capped, duplicates told ----------------------------------


def test_headers_are_listed_decoded_and_readable_by_name() -> None:
    raw = (
        b"From: a@example.com\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n"
        b"X-Ticket: =?iso-8859-1?q?=E9t=E9?=\r\nX-Ticket: two\r\nReceived: from x\r\n"
        b"\tby y\r\n\r\nbody\r\n"
    )
    parsed = parse_message(raw)
    assert parsed.headers[1] == ("Subject", "café")
    assert parsed.header("x-ticket") == ["été", "two"]
    assert parsed.header("Received") == ["from x by y"]
    # Looked up in an index made on first use: what a caller does with a list it got,
    # or a copy with other headers, changes no later answer.
    parsed.header("X-TICKET").append("three")
    assert parsed.header("X-Ticket") == ["été", "two"]
    assert parsed.header("X-Missing") == []
    other = replace(parsed, headers=(("X-Ticket", "new"),))
    assert other.header("x-ticket") == ["new"]
    assert other != parsed and replace(other, headers=parsed.headers) == parsed
    assert pickle.loads(pickle.dumps(parsed)).header("x-ticket") == ["été", "two"]


def test_one_megabyte_header_and_ten_thousand_lines_cost_bounded_time() -> None:
    huge = b"X-Big: " + b"=?utf-8?q?a?= " * 80_000 + b"\r\n"
    many = b"".join(b"X-Hop-%d: =?utf-8?b?w6k=?=\r\n" % i for i in range(10_000))
    raw = b"From: a@example.com\r\n" + huge + many + b"Subject: last\r\n\r\nbody\r\n"
    started = time.perf_counter()
    parsed = parse_message(raw)
    assert time.perf_counter() - started < 2.0
    assert parsed.subject == "last" and len(parsed.headers) == MAX_HEADERS
    assert len(parsed.header("X-Big")[0]) <= MAX_VALUE_CHARS


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("=?utf-8?q?Gr=C3?= =?utf-8?q?=BC=C3=9Fe?=", "Grüße"),  # a character split in two words
        ("=?utf-8?b?w6k=?= =?utf-8?b?w6k=?=", "éé"),  # space between words dropped
        ("a =?utf-8?q?b?= c", "a b c"),
        ("x=?utf-8?q?y?=z", "xyz"),  # glued to text (not RFC, but sent)
        ("=?utf-8?b?w6k?=", "é"),  # missing padding
        ("=?utf-8?b?w6k*=?=", "é"),  # junk in base64
        ("=?utf-8?q?100=?=", "100="),  # a stray = in Q
        ("=?x-unknown?q?caf=E9?=", "café"),
        ("=?utf-8*en?q?hi?=", "hi"),  # RFC 2231 language in a word
        ("=?utf-8?q?a=0D=0Ab=00c?=", "a b\ufffdc"),  # no line break, no NUL
        ("caf\udcc3\udca9", "café"),  # raw UTF-8 bytes as the parser gives them
        ("caf\udce9", "café"),  # raw Latin-1 byte
        ("=?utf-8?q?unterminated", "=?utf-8?q?unterminated"),
    ],
)
def test_encoded_words(raw: str, decoded: str) -> None:
    assert decode_header_text(raw) == decoded


# ---- charsets: lenient, safe, never losing a byte ---------------------------------------


@pytest.mark.parametrize(
    ("data", "declared", "text"),
    [
        ("café".encode(), "iso-8859-1", "café"),  # labelled Latin-1, really UTF-8
        (b"\x80 10", "iso-8859-1", "€ 10"),  # Latin-1 read as its superset Windows-1252
        ("Grüße".encode("cp1252"), "utf-8", "Grüße"),  # labelled UTF-8, really Windows-1252
        ("ok é".encode(), '"UTF-8" (comment)', "ok é"),
        (b"C:\\Users\\new", "unicode_escape", "C:\\Users\\new"),  # never an escape codec
        (b"C:\\Users\\new", "raw-unicode-escape", "C:\\Users\\new"),
        (b"x\x81y", "cp1252", "x\x81y"),  # a byte Windows-1252 leaves undefined
        ("Grüße".encode("utf-16"), "utf-16", "Grüße"),
        ("中文".encode("gbk"), "gb2312", "中文"),
        (b"+AOk-", "utf-7", "é"),
        (b"a\x00b", "utf-8", "a\ufffdb"),
    ],
)
def test_decode_text(data: bytes, declared: str, text: str) -> None:
    assert decode_text(data, declared)[0] == text


def test_a_few_bad_bytes_in_a_known_charset_keep_the_rest() -> None:
    text, problem = decode_text("日本語".encode("shift_jis") + b"\x82", "shift_jis")
    assert text == "日本語\u201a" and problem is not None  # the lone lead byte as a character


def test_lone_surrogates_never_come_out() -> None:
    text, problem = decode_text(b"+2D0-", "utf-7")
    assert "\ud834" not in text and problem


# ---- MIME parameters, transfer encodings, names, media types ----------------------------


def test_params_comments_quotes_and_rfc2231() -> None:
    assert parse_params('Text/Plain (note); charset="utf-8" (comment)') == (
        "text/plain",
        {"charset": "utf-8"},
    )
    _, params = parse_params(
        "attachment; filename*0*=iso-8859-1'fr'%E9t; filename*1=\"e 1\"; filename*2*=%E9.txt"
    )
    assert params == {"filename": "éte 1é.txt"}  # continuations joined, %-escapes as Latin-1
    _, params = parse_params('attachment; filename="C:\\Temp\\a \\"b\\".txt"')
    assert params["filename"] == 'C:\\Temp\\a "b".txt'


def test_rfc2231_in_an_unknown_charset_keeps_its_bytes() -> None:
    _, params = parse_params("attachment; filename*=x-bogus''r%E9sum%C3%A9.pdf")
    assert params["filename"] == "résumé.pdf"


def test_base64_pieces_each_with_padding_are_all_decoded() -> None:
    assert decode_base64(b"aGVsbG8=\r\nIHdvcmxk\r\n") == (b"hello world", None)
    data, problem = decode_base64(b"aGVsbG8=d29ybGQ=")
    assert data == b"helloworld" and problem is None


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Windows\\system32\\evil.dll", "evil.dll"),
        ("/etc/shadow", "shadow"),
        ("CON.txt", "_CON.txt"),
        ("nul", "_nul"),
        ("com1.tar.gz", "_com1.tar.gz"),
        ("LPT9", "_LPT9"),
        ("console.txt", "console.txt"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("a\u2066b\u200fc.txt", "abc.txt"),
        ("evil\x00.txt", "evil_.txt"),
        ("tab\there.txt", "tab_here.txt"),
        ("report. . .", "report"),
        ("..", "attachment"),
        ("", "attachment"),
        ("...hidden", "hidden"),
        ('a<b>c:"d"|e?f*.txt', "a_b_c__d__e_f_.txt"),
        ("spaced    out  .pdf", "spaced out .pdf"),
    ],
)
def test_safe_display_name(name: str, shown: str) -> None:
    assert safe_display_name(name) == shown


def test_safe_display_name_shortens_but_keeps_the_extension() -> None:
    shown = safe_display_name("ü" * 300 + ".docx")
    assert shown.endswith("ü.docx") and len(shown.encode()) <= MAX_NAME_BYTES


EXE = b"MZ" + b"\0" * 58 + (64).to_bytes(4, "little") + b"PE\0\0" + b"\0" * 64


@pytest.mark.parametrize(
    ("data", "declared", "media_type", "declared_type"),
    [
        (EXE, "image/png", "application/x-msdownload", "image/png"),
        (EXE, "text/plain", "application/x-msdownload", "text/plain"),
        (b"MZ is just two letters", "text/plain", "text/plain", ""),
        (
            b"%PDF-1.7 ...",
            "application/octet-stream",
            "application/pdf",
            "application/octet-stream",
        ),
        (b"\xff\xd8\xff\xe0" + b"\0" * 16, "image/jpg", "image/jpeg", ""),
        (b"BMW service report", "text/plain", "text/plain", ""),  # "BM" is no evidence
        (b"PK\x03\x04" + b"\0" * 40, "application/java-archive", "application/java-archive", ""),
        (b"plain words", "application/octet-stream", "application/octet-stream", ""),
    ],
)
def test_media_type_from_content_and_header(
    data: bytes, declared: str, media_type: str, declared_type: str
) -> None:
    attachment = make_attachment("f", declared, data)
    assert (attachment.media_type, attachment.declared_type) == (media_type, declared_type)


# ---- addresses, dates, ids -----------------------------------------------------------------


def test_addresses_keep_encoded_specials_inside_the_name() -> None:
    found, problem = parse_addresses(
        "=?utf-8?q?Doe,_John?= <john@example.com>, =?utf-8?q?Evil:_x@y.z?= <bob@example.com>"
    )
    assert [(a.name, a.address) for a in found] == [
        ("Doe, John", "john@example.com"),
        ("Evil: x@y.z", "bob@example.com"),
    ]
    assert problem is None


@pytest.mark.parametrize(
    ("value", "addresses"),
    [
        ("undisclosed-recipients:;", []),
        ("Team: a@example.com, b@example.com;", ["a@example.com", "b@example.com"]),
        ('"Alice" <', []),
        ("mailer-daemon@[, bob@example.com", ["bob@example.com"]),
        ("root (Cron Daemon)", ["root"]),
        ("<>", []),
    ],
)
def test_addresses_from_broken_headers(value: str, addresses: list[str]) -> None:
    assert [a.address for a in parse_addresses(value)[0]] == addresses


@pytest.mark.parametrize(
    ("value", "fast"),
    [
        ("Alice Smith <alice@example.com>", True),
        ("  Alice \t Smith<alice@example.com> ", True),
        ('"Smith, Alice" <alice@example.com>', True),
        ("J. O'Brien <jo+tag@mail.example.ie>", True),
        ("alice@example.com", True),
        ("<alice@example.com>", True),
        ("Zo\u00eb \u00c5ngstr\u00f6m <zoe@example.se>", True),
        ("a@example.com, b@example.com", False),  # two addresses
        ("alice@example.com (Alice)", False),  # a comment names her
        ('"A \\"q\\" B" <a@example.com>', False),  # quoted pair
        ("=?utf-8?q?Alice?= <alice@example.com>", False),  # encoded word
        ("Alice\x0bSmith <alice@example.com>", True),  # \v is no white space to compat32
        (".Alice <alice@example.com>", False),
    ],
)
def test_one_plain_address_is_read_without_the_compat32_parser(value: str, fast: bool) -> None:
    assert (_simple_address(value) is not None) is fast
    expected = [
        (decode_header_text(name), address)
        for name, address in email.utils.getaddresses([value])
        if address
    ]
    assert [(a.name, a.address) for a in parse_addresses(value)[0]] == expected


def test_the_plain_address_reading_agrees_with_compat32_on_random_headers() -> None:
    # Names and addresses from white space, specials and atext, shaped like the usual
    # forms: whatever the short way accepts, the compat32 parser reads the same.
    rnd = random.Random(20261125)
    alphabet = "abcAZ09 ._-'\"<>()[]\\,;:@!#$%&*+/=?^`{|}~\t\r\n\u00eb\x00\x0b\x0c\xa0"
    accepted = 0
    for _ in range(30_000):
        name = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 8)))
        local = "".join(rnd.choice("ab.+_-'\"") for _ in range(rnd.randint(1, 4)))
        domain = rnd.choice(["x.org", "x", "a-b.c.d", "x..y", ".x", "x.", "X.COM"])
        value = rnd.choice(
            [f"{name} <{local}@{domain}>", f'"{name}" <{local}@{domain}>', f"{local}@{domain}"]
        )
        simple = _simple_address(value)
        if simple is None:
            continue
        accepted += 1
        assert [simple] == email.utils.getaddresses([value]), value
    assert accepted > 5_000  # the comparison covered many accepted forms


@pytest.mark.parametrize(
    ("value", "year"),
    [
        ("Mon, 02 Nov 2026 09:00:00 +0100", 2026),
        ("Sat, 01 Jan 0000 00:00:00 +0000", None),
        ("Mon, 01 Jan 99999 00:00:00 +0000", None),
        ("Thu, 01 Jan 1900 00:00:00 +0000", None),
        ("02 Nov 26 09:00 GMT", 2026),
        ("yesterday", None),
    ],
)
def test_dates(value: str, year: int | None) -> None:
    parsed, _problem = parse_date(value)
    assert (parsed.year if parsed else None) == year


def test_message_ids() -> None:
    assert message_id("  <a@b> <c@d>") == "a@b"
    assert message_id("bare@id") == "bare@id"
    assert message_id("") is None
    refs = " ".join(f"<r{i}@x>" for i in range(500))
    found = message_ids(refs)
    assert found[0] == "r0@x" and found[-1] == "r499@x" and len(found) == MAX_REFERENCES


# ---- structure: bodies, attachments, fallbacks -------------------------------------------


def test_html_table_becomes_aligned_text() -> None:
    msg = _mail(From="bob@example.org", Subject="table")
    msg.set_content(
        "<table><tr><th>Host</th><th>State</th></tr><tr><td>srv01</td><td>down</td></tr>"
        "<tr><td>mail-gateway</td><td>ok</td></tr></table>",
        subtype="html",
    )
    text = parse_message(msg.as_bytes()).text
    assert text.splitlines() == ["Host          State", "srv01         down", "mail-gateway  ok"]


def test_empty_text_part_falls_back_to_the_html() -> None:
    msg = _mail(From="bob@example.org", Subject="alt")
    msg.set_content("\n")
    msg.add_alternative("<p>the real text</p>", subtype="html")
    assert parse_message(msg.as_bytes()).text == "the real text"


def test_image_shown_through_cid_is_inline_even_when_sent_as_attachment() -> None:
    msg = _mail(From="bob@example.org", Subject="related")
    msg.set_content('<p>see</p><img src="cid:shot@x">', subtype="html")
    msg.add_related(b"\x89PNG\r\n\x1a\n", maintype="image", subtype="png", cid="<shot@x>",
                    filename="shot.png")  # fmt: skip
    parsed = parse_message(msg.as_bytes())
    (shot,) = parsed.attachments
    assert shot.inline and f"/attachments/{shot.sha256}" in (parsed.html_safe or "")


def test_attached_mail_is_named_from_its_subject_including_nested_ones() -> None:
    innermost = _mail(From="c@example.com", Subject="Innermost")
    innermost.set_content("deepest\n")
    inner = _mail(From="x@example.com", Subject="Re: A/B test")
    inner.set_content("inner body\n")
    inner.add_attachment(innermost)
    outer = _mail(From="y@example.com", Subject="outer")
    outer.set_content("outer body\n")
    outer.add_attachment(inner)
    parsed = parse_message(outer.as_bytes())
    (eml,) = parsed.attachments
    assert eml.filename == "Re_ A-B test.eml"
    again = parse_message(eml.data)
    assert again.subject == "Re: A/B test" and again.text == "inner body\n"
    assert [a.filename for a in again.attachments] == ["Innermost.eml"]


def test_a_parser_bug_gives_the_raw_text_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(root: object, spool: object) -> object:
        raise TypeError("bug")

    monkeypatch.setattr(parser, "collect", broken)
    raw = b"From: a@example.com\r\nSubject: s\r\n\r\nC:\\Users\\alice\r\n"
    parsed = parse_message(raw)
    assert parsed.text == "From: a@example.com\nSubject: s\n\nC:\\Users\\alice\n"
    assert parsed.defects[0].startswith("parser failed (TypeError: bug)")
    (whole,) = parsed.attachments
    assert whole.data == raw and whole.media_type == "message/rfc822"


def test_mutated_mails_never_need_the_last_resort_fallback() -> None:
    """A small fuzz run: random damage to real mails must be handled, not fallen back on."""
    rng = random.Random(20261124)
    seeds = [p.read_bytes() for p in CORPUS.glob("*.eml") if 0 < p.stat().st_size < 20_000]
    tokens = [b"=?utf-8?q?", b"?=", b"\r\n", b"\x00", b"--", b";", b'"', b"*0*=", b"%"]
    tokens += [b"\xc3", b"boundary=", b"message/rfc822", b"base64", b"\r\n\r\n", b"charset=utf-7"]
    for _ in range(1500):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(len(data) + 1)
            if rng.random() < 0.5:
                data[pos:pos] = rng.choice(tokens)
            else:
                del data[pos : pos + rng.randint(1, 40)]
        parsed = parse_message(bytes(data))
        assert not any(d.startswith("parser failed") for d in parsed.defects), bytes(data)


def test_quoted_printable_soft_break_with_a_bare_cr_loses_nothing() -> None:
    assert decode_payload(b"soft=\rbreak\rnext", "quoted-printable")[0] == b"softbreak\r\nnext"


def test_hostile_html_nesting_costs_bounded_time_and_keeps_the_text() -> None:
    html = "<p>start</p>" + "<div>" * 100_000 + "deep text" + "</div>" * 100_000 + "<p>end</p>"
    raw = b"From: a@example.com\r\nContent-Type: text/html\r\n\r\n" + html.encode()
    started = time.perf_counter()
    parsed = parse_message(raw)
    assert time.perf_counter() - started < 2.0
    assert parsed.text.split() == ["start", "deep", "text", "end"]
    assert "deep text" in (parsed.html_safe or "")
    assert any("nested deeper" in d for d in parsed.defects)


# --- long base64 runs kept out of the stdlib parser's line loop (parse/elide.py) ---


def _big_mail(newline: bytes, gap: bytes) -> bytes:
    blob = base64.encodebytes(bytes(range(256)) * 400).replace(b"\n", newline)  # 1,350 lines
    pem = newline.join([b"A" * 64] * 300)  # base64-looking lines in a text part
    return newline.join(
        [
            b"From: a@example.com",
            b"Subject: big",
            b"Message-ID: <big@example.com>",
            b'Content-Type: multipart/mixed; boundary="XX"',
            b"",
            b"--XX",
            b"Content-Type: text/plain",
            b"",
            b"key follows:",
            b"",
            pem,
            b"--XX",
            b"Content-Type: application/octet-stream; name=a.bin",
            b"Content-Transfer-Encoding: base64",
            b"",
            blob.rstrip(newline) + gap,
            b"--XX",
            b"Content-Type: message/rfc822",
            b"",
            b"Subject: inner",
            b'Content-Type: image/png; name="in.png"',
            b"Content-Transfer-Encoding: base64",
            b"",
            blob.rstrip(newline),
            b"--XX--",
            b"deskmailelided0000000000000000x0 in the epilogue is text, not a marker",
        ]
    )


@pytest.mark.parametrize("newline", [b"\r\n", b"\n"])
@pytest.mark.parametrize("gap", [b"", b"\r\n", b"\n\n"])
def test_elided_parse_equals_plain_parse(
    newline: bytes, gap: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deskmail.parse import elide, parser

    raw = _big_mail(newline, gap)
    cut = elide.elide(raw)
    assert len(cut.runs) >= 2 and len(cut.data) < len(raw) // 10  # the runs really were cut
    fast = parse_message(raw)
    monkeypatch.setattr(parser, "elide", lambda data: elide.Elided(data))
    plain = parse_message(raw)
    assert fast == plain
    assert fast.attachments[0].data == bytes(range(256)) * 400
    assert ("A" * 64 + "\n") * 299 in fast.text


def test_small_mail_is_not_elided() -> None:
    from deskmail.parse.elide import elide

    raw = b"Subject: s\r\n\r\n" + b"QUJD\r\n" * 100
    assert elide(raw).data is raw


def test_a_base64_attachment_is_decoded_from_the_raw_mail() -> None:
    """Its base64 text is never rebuilt as a str: the part points into the raw bytes."""
    from deskmail.parse import elide

    raw = _big_mail(b"\r\n", b"")
    cut = elide.elide(raw)
    message = parser._PARSER.parsebytes(cut.data)
    elide.restore(message, cut)
    spans = {
        part.get_filename(): getattr(part, elide.SPAN_ATTRIBUTE, None) for part in message.walk()
    }
    assert spans["a.bin"] is not None and spans["a.bin"][0] is raw
    assert spans["in.png"] is None  # inside an attached mail: text put back, written out whole
    inner = next(p for p in message.walk() if p.get_filename() == "in.png")
    assert inner.get_payload(decode=True) == bytes(range(256)) * 400


def _run_mail(body_lines: list[bytes], newline: bytes) -> bytes:
    head = [
        b"From: a@example.com",
        b"Subject: run",
        b'Content-Type: multipart/mixed; boundary="XX"',
        b"",
        b"--XX",
        b"Content-Type: application/octet-stream; name=a.bin",
        b"Content-Transfer-Encoding: base64",
        b"",
    ]
    return newline.join([*head, *body_lines, b"--XX--", b""])


_LINE = base64.b64encode(bytes(range(57)))  # 76 characters, as encoders write them


@pytest.mark.parametrize("newline", [b"\r\n", b"\n"])
@pytest.mark.parametrize(
    ("shape", "body", "uniform"),
    [
        ("one width, shorter last line", [_LINE] * 400 + [b"QUJD"], True),
        ("one width, no shorter line", [_LINE] * 400, True),
        ("widths vary", [_LINE, _LINE[:60]] * 200, False),
        ("a blank line inside", [_LINE] * 300 + [b""] + [_LINE] * 300, True),
        (
            "a stray CR inside a line",
            [_LINE] * 300 + [_LINE[:30] + b"\r" + _LINE[31:]] + [_LINE] * 300,
            False,
        ),
        ("a non-base64 line of the same width", [_LINE] * 300 + [b"-" * 76] + [_LINE] * 300, False),
    ],
)
def test_base64_runs_of_any_shape_parse_as_without_eliding(
    shape: str, body: list[bytes], uniform: bool, newline: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-pass check (uniform lines) and the general walk cut only what parses alike."""
    from deskmail.parse import elide, parser

    raw = _run_mail(body, newline)
    start = raw.index(newline * 2 + _LINE) + 2 * len(newline)
    taken = elide._uniform_run_end(raw, start) or (0, 0)
    assert (taken[1] >= elide.MIN_LINES) is uniform, shape  # the one-pass check took a run
    assert elide.elide(raw).runs, shape  # some run was cut
    fast = parse_message(raw)
    monkeypatch.setattr(parser, "elide", lambda data: elide.Elided(data))
    assert fast == parse_message(raw), shape


# --- boundary lines without a regex per multipart (parse/boundaries.py) ---


_MAIL_FILES = sorted(
    [
        *(Path(__file__).parent / "corpus" / "malformed").glob("*.eml"),
        *(Path(__file__).parents[1] / "src" / "deskmail" / "sample").rglob("*.eml"),
    ]
)


def _boundary_traps() -> list[bytes]:
    """Boundaries with regex metacharacters, trailing blanks, close lines, CR-only ends."""
    mails = []
    for boundary in ["a.b*c+d?(e)[f]{g}|h^$\\i", "== =_x", "simple", "--dashes--"]:
        for close in (f"--{boundary}--", f"--{boundary}-- \t", f"--{boundary}--trailing"):
            body = "\r\n".join(
                [
                    "From: a@example.com",
                    "Subject: traps",
                    f'Content-Type: multipart/mixed; boundary="{boundary}"',
                    "",
                    "preamble",
                    f"--{boundary} \t",
                    "Content-Type: text/plain",
                    "",
                    "one",
                    f"--{boundary}x not a boundary",
                    f"--{boundary}",
                    "Content-Type: text/plain",
                    "",
                    "two",
                    close,
                    "epilogue",
                ]
            )
            mails += [body.encode(), body.replace("\r\n", "\r").encode()]
    return mails


def test_boundary_matcher_parses_as_the_stdlib_regex(monkeypatch: pytest.MonkeyPatch) -> None:
    import email.feedparser
    import re

    from deskmail.parse import boundaries

    assert email.feedparser.re is not re  # parse_message's import installed it
    raws = [path.read_bytes() for path in _MAIL_FILES]
    raws += [raw.replace(b"\r\n", b"\n") for raw in raws] + _boundary_traps()
    raws.append(_big_mail(b"\r\n", b""))
    ours = [parse_message(raw) for raw in raws]
    monkeypatch.setattr(email.feedparser, "re", re)
    stdlib = [parse_message(raw) for raw in raws]
    boundaries.install()  # monkeypatch puts it back as it found it
    assert len(raws) > 100
    for raw, mine, theirs in zip(raws, ours, stdlib, strict=True):
        assert mine == theirs, raw[:200]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("--b(x)\r\n", ("", "", "\r\n")),
        ("--b(x)-- \t\n", ("--", " \t", "\n")),
        ("--b(x)", ("", "", None)),
        ("--b(x)--", ("--", "", None)),
        ("--b(x)y\r\n", None),
        ("--b(x)--y", None),
        ("--b[x]\n", None),
        (" --b(x)\n", None),
    ],
)
def test_boundary_matcher_groups(line: str, expected: tuple[str, str, str | None] | None) -> None:
    import re

    from deskmail.parse.boundaries import _FeedparserRe

    separator = "--b(x)"
    pattern = (
        "(?P<sep>" + re.escape(separator) + r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
    )
    stdlib = re.compile(pattern).match(line)
    ours = _FeedparserRe.compile(pattern).match(line)
    assert type(_FeedparserRe.compile(pattern)).__name__ == "BoundaryMatcher"
    found = (ours.group("end") or "", ours.group("ws"), ours.group("linesep")) if ours else None
    assert found == expected
    assert (stdlib is None) == (ours is None)
    if stdlib and ours:
        assert [stdlib.group(g) for g in ("end", "ws", "linesep")] == [
            ours.group(g) for g in ("end", "ws", "linesep")
        ]
