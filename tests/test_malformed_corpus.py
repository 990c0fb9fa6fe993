"""The malformed-mail corpus (tests/corpus/malformed/): every trap parsed, none crashing.

(a) Each file parses without raising, nothing unstorable comes out (NUL, lone
    surrogates, line breaks in one-line fields), and where a trap has an
    intended outcome it is checked.
(b) All of them go through a real `deskmail run-once` against a real Dovecot
    mailbox, on SQLite and PostgreSQL: the batch completes, each mail has
    exactly one intake record, and none is quarantined.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from deskmail.config.fate import Fate
from deskmail.parse.filenames import MAX_NAME_BYTES, safe_display_name
from deskmail.parse.headers import MAX_HEADERS, MAX_VALUE_CHARS
from deskmail.parse.message import ParsedAttachment, ParsedMessage
from deskmail.parse.parser import parse_message
from deskmail.store.engine import Store
from deskmail.store.models import IntakeRecord
from tests.support.dovecot import Dovecot
from tests.support.toml_config import job_table, write_config

CORPUS = Path(__file__).parent / "corpus" / "malformed"
FILES = sorted(CORPUS.glob("*.eml"))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _parsed(name: str) -> ParsedMessage:
    (path,) = [f for f in FILES if f.name.startswith(name)]
    return parse_message(path.read_bytes())


def _names(message: ParsedMessage) -> list[str]:
    return [a.filename for a in message.attachments]


def _attachment(message: ParsedMessage, name: str) -> ParsedAttachment:
    return next(a for a in message.attachments if a.filename == name)


def test_corpus_has_at_least_40_traps_all_listed_in_the_readme() -> None:
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    assert len(FILES) >= 40
    assert all(f"`{f.name}`" in readme for f in FILES)


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_every_file_parses_to_storable_fields(path: Path) -> None:
    message = parse_message(path.read_bytes())
    one_line = [message.subject, *(str(a) for a in (message.sender, *message.to, *message.cc))]
    one_line += [a.filename for a in message.attachments] + [v for _, v in message.headers]
    for value in one_line:
        assert not _UNSTORABLE.search(value) and "\r" not in value and "\n" not in value
    for text in (message.text, message.html or "", message.html_safe or ""):
        assert not _UNSTORABLE.search(text)
    for attachment in message.attachments:
        assert attachment.sha256 == hashlib.sha256(attachment.data).hexdigest()
        assert "/" in attachment.media_type
    assert len(message.headers) <= MAX_HEADERS
    assert not any("parser failed" in d for d in message.defects)


def _empty(m: ParsedMessage) -> None:
    assert m.text == "" and m.sender is None and "Message-ID missing" in m.defects


def _headers_only(m: ParsedMessage) -> None:
    assert m.subject == "only headers" and m.text == ""


def _no_headers(m: ParsedMessage) -> None:
    assert "C:\\Users\\alice\\printer.log" in m.text


def _binary(m: ParsedMessage) -> None:
    assert m.text and any("NUL" in d for d in m.defects)


def _line_ends(m: ParsedMessage) -> None:
    assert m.text == "line one\nline two\n"


def _mixed_line_ends(m: ParsedMessage) -> None:
    assert m.subject == "mixed line ends" and m.text == "one\ntwo\nthree\nfour\n"


def _broken_addresses(m: ParsedMessage) -> None:
    assert m.sender is None and m.subject == "broken addresses"
    assert [a.address for a in m.cc] == ["bob@example.com"]


def _unknown_charset(m: ParsedMessage) -> None:
    assert m.text == "Grüße aus Köln\n"


def _wrong_charset(m: ParsedMessage) -> None:
    assert m.text == "“Price”: 10 €\n"


def _utf7(m: ParsedMessage) -> None:
    assert m.text.startswith("Hi été and ") and "+2D3-" in m.text


def _charset_comment(m: ParsedMessage) -> None:
    assert m.text == "Café crème\n" and m.defects == ()


def _unsafe_charset(m: ParsedMessage) -> None:
    assert m.text == "Files are in C:\\Users\\alice\\new\\bin and \\\\fileserver01\\u0041\n"


def _encoded_words(m: ParsedMessage) -> None:
    # Split UTF-8 joined; whitespace between encoded words dropped (RFC 2047 6.2).
    assert m.subject == "Grüße ausKöln tschüsshello world"
    assert m.sender is not None and m.sender.name == "Müller, Dieter"


def _raw_8bit(m: ParsedMessage) -> None:
    assert m.subject == "Drucker im 3. Stock – Störung"
    assert m.sender is not None and m.sender.name == "Dieter Müller"
    assert _names(m) == ["Störung.txt"]


def _injection(m: ParsedMessage) -> None:
    assert m.subject == "Hello Bcc: victim@example.net body\ufffd"
    assert m.sender is not None and m.sender.address == "alice@example.com"
    assert m.sender.name == "Alice Bcc: victim@example.net"
    assert _names(m) == ["a b\ufffd.txt"]


def _rfc2231(m: ParsedMessage) -> None:
    assert _names(m) == ["Résumé du rapport.pdf", "été.txt"]
    assert _attachment(m, "Résumé du rapport.pdf").media_type == "application/pdf"


def _rfc2047_name(m: ParsedMessage) -> None:
    assert _names(m) == ["Rechnung März.pdf"]


def _missing_fields(m: ParsedMessage) -> None:
    assert m.sender is None and m.message_id is None and m.date is None
    assert {"Message-ID missing", "Date missing"} <= set(m.defects)


def _duplicates(m: ParsedMessage) -> None:
    assert m.message_id == "malformed-20a@corpus.deskmail.test"
    assert m.subject == "first subject" and m.date is not None and m.date.day == 2
    assert m.sender is not None and m.sender.address == "first@example.com"
    assert [a.address for a in m.to] == ["a@example.com", "b@example.com"]
    assert "2 Message-ID headers; the first is used" in m.defects


def _duplicate_content_type(m: ParsedMessage) -> None:
    assert m.text == "<b>plain or html?</b>\n" and m.html is None
    assert "2 Content-Type headers; the first is used" in m.defects


def _bad_base64(m: ParsedMessage) -> None:
    assert m.text == "Hello, printer is broken"
    assert _names(m) == ["x.bin"]


def _bad_qp(m: ParsedMessage) -> None:
    assert m.text.startswith("café =ZZ 100=% ")


def _deep(m: ParsedMessage) -> None:
    assert any("nesting" in d for d in m.defects)
    assert any(b"deep body" in a.data for a in m.attachments)


def _very_deep(m: ParsedMessage) -> None:
    assert m.subject == "malformed 25"
    (whole,) = m.attachments
    assert whole.media_type == "message/rfc822" and b"very deep body" in whole.data


def _huge_header(m: ParsedMessage) -> None:
    assert m.text == "body after a huge header\n"
    assert len(m.header("X-Huge")[0]) == MAX_VALUE_CHARS


def _many_headers(m: ParsedMessage) -> None:
    assert m.subject == "after 10000 headers" and len(m.headers) == MAX_HEADERS


def _thousand_recipients(m: ParsedMessage) -> None:
    assert len(m.to) == 1000 and m.to[999].address == "user999@example.com"


def _long_subject(m: ParsedMessage) -> None:
    assert len(m.subject) == MAX_VALUE_CHARS and m.subject.startswith("Printer broken again Pr")


def _missing_boundary(m: ParsedMessage) -> None:
    assert m.text == "Please see the attachment.\n"
    assert _attachment(m, "found.txt").data == b"found it"


def _wrong_boundary(m: ParsedMessage) -> None:
    assert m.text == "Please see the attachment.\n"


def _never_closes(m: ParsedMessage) -> None:
    assert _attachment(m, "last.txt").data == b"last"


def _boundary_in_body(m: ParsedMessage) -> None:
    assert "--b33-not-a-delimiter\nend" in m.text


def _content_length(m: ParsedMessage) -> None:
    assert m.text == "tiny body\n"


def _nested_rfc822(m: ParsedMessage) -> None:
    (eml,) = m.attachments
    assert eml.filename == "Inner - forwarded.eml" and eml.media_type == "message/rfc822"
    assert b"inner body" in eml.data and b"innermost body" in eml.data


def _display_name(expected: str) -> Callable[[ParsedMessage], None]:
    def check(m: ParsedMessage) -> None:
        (attachment,) = m.attachments
        assert safe_display_name(attachment.filename) == expected

    return check


def _rlo(m: ParsedMessage) -> None:
    (attachment,) = m.attachments
    assert safe_display_name(attachment.filename) == "invoicefdp.exe"
    assert attachment.media_type == "application/x-msdownload"


def _html_hostile(m: ParsedMessage) -> None:
    (logo,) = m.attachments
    safe = m.html_safe or ""
    for bad in ("<script", "alert", "onerror", "onload", "javascript:", "tracker", "data:", "url("):
        assert bad not in safe
    assert f'src="/attachments/{logo.sha256}"' in safe and "cid:" not in safe
    assert 'href="https://status.example.com" rel="noopener noreferrer"' in safe
    assert "srv01  down" in m.text and "* first" in m.text


def _tnef(m: ParsedMessage) -> None:
    assert _names(m) == ["notes.txt", "logo.png"]
    assert _attachment(m, "logo.png").data.startswith(PNG_MAGIC)
    assert m.text == "Body from Outlook: C:\\Temp\r\n".replace("\r\n", "\n")


def _tnef_rtf(m: ParsedMessage) -> None:
    assert _names(m) == ["data.csv"]
    assert m.text.startswith("Hello from RTF, café.") and "Second line." in m.text


def _tnef_broken(m: ParsedMessage) -> None:
    assert _names(m) == ["winmail.dat"]
    assert any("winmail.dat: not unpacked" in d for d in m.defects)


def _bad_date(m: ParsedMessage) -> None:
    assert m.date is None and any(d.startswith("Date:") for d in m.defects)


def _group_sender(m: ParsedMessage) -> None:
    assert m.sender is None and m.subject == "group sender"


def _exe_as_png(m: ParsedMessage) -> None:
    (attachment,) = m.attachments
    assert attachment.media_type == "application/x-msdownload"
    assert attachment.declared_type == "image/png"


def _windows_paths(m: ParsedMessage) -> None:
    assert (
        m.text == "Path C:\\Users\\alice\\new\\bin\\x41 and \\\\fileserver01\\finance\\t\\u0041\n"
    )
    assert _attachment(m, "qp.txt").data == b"QP: C:\\Users\\bob\\Documents \xe9t\xe9\r\n"


def _nul_in_body(m: ParsedMessage) -> None:
    assert m.text == "before\ufffdafter\ufffd\n"


def _garbage_type(m: ParsedMessage) -> None:
    assert m.text == "text of unknown type\n"
    assert _attachment(m, "doc.pdf").inline is False


def _unknown_encoding(m: ParsedMessage) -> None:
    assert m.text == "decoded despite the comment"
    assert _attachment(m, "z.gz").data == b"H4sIAAAA"


def _utf16(m: ParsedMessage) -> None:
    assert m.text == "Grüße in UTF-16\n"


def _dsn(m: ParsedMessage) -> None:
    assert m.text == "Delivery failed."
    assert [a.media_type for a in m.attachments] == ["message/delivery-status", "message/rfc822"]
    assert b"Status: 5.1.1" in m.attachments[0].data


def _cid_variants(m: ParsedMessage) -> None:
    (logo,) = m.attachments
    assert (m.html_safe or "").count(f"/attachments/{logo.sha256}") == 2


def _uuencoded(m: ParsedMessage) -> None:
    assert _attachment(m, "hello.txt").data == b"hello uuencode"


def _empty_multipart(m: ParsedMessage) -> None:
    assert m.attachments == ()


def _long_name(m: ParsedMessage) -> None:
    (attachment,) = m.attachments
    shown = safe_display_name(attachment.filename)
    assert shown.endswith(".xlsx") and len(shown.encode()) <= MAX_NAME_BYTES


CHECKS: dict[str, Callable[[ParsedMessage], None]] = {
    "01-": _empty,
    "02-": _headers_only,
    "03-": _no_headers,
    "04-": _binary,
    "05-": _line_ends,
    "06-": _line_ends,
    "07-": _mixed_line_ends,
    "08-": _broken_addresses,
    "09-": _unknown_charset,
    "10-": _wrong_charset,
    "11-": _utf7,
    "12-": _charset_comment,
    "13-": _unsafe_charset,
    "14-": _encoded_words,
    "15-": _raw_8bit,
    "16-": _injection,
    "17-": _rfc2231,
    "18-": _rfc2047_name,
    "19-": _missing_fields,
    "20-": _duplicates,
    "21-": _duplicate_content_type,
    "22-": _bad_base64,
    "23-": _bad_qp,
    "24-": _deep,
    "25-": _very_deep,
    "26-": _huge_header,
    "27-": _many_headers,
    "28-": _thousand_recipients,
    "29-": _long_subject,
    "30-": _missing_boundary,
    "31-": _wrong_boundary,
    "32-": _never_closes,
    "33-": _boundary_in_body,
    "34-": _content_length,
    "35-": _nested_rfc822,
    "36-": _display_name("passwd"),
    "37-": _display_name("evil.dll"),
    "38-": _display_name("_CON.txt"),
    "39-": _rlo,
    "40-": _display_name("report.pdf\ufffd.exe"),
    "41-": _html_hostile,
    "42-": _tnef,
    "43-": _tnef_rtf,
    "44-": _tnef_broken,
    "45-": _bad_date,
    "46-": _bad_date,
    "47-": _group_sender,
    "48-": _exe_as_png,
    "49-": _windows_paths,
    "50-": _nul_in_body,
    "51-": _garbage_type,
    "52-": _unknown_encoding,
    "53-": _utf16,
    "54-": _dsn,
    "55-": _cid_variants,
    "56-": _uuencoded,
    "57-": _empty_multipart,
    "58-": _long_name,
}


@pytest.mark.parametrize("prefix", sorted(CHECKS))
def test_trap_handled_as_intended(prefix: str) -> None:
    CHECKS[prefix](_parsed(prefix))


def test_every_corpus_file_has_a_check() -> None:
    assert sorted(f.name[:3] for f in FILES) == sorted(CHECKS)


# ---- (b) end to end ---------------------------------------------------------------


@pytest.mark.slow
def test_corpus_through_run_once_on_dovecot(
    dovecot: Dovecot, database_url: str, tmp_path: Path
) -> None:
    user = dovecot.user("malformed")
    mails = [path.read_bytes() for path in FILES]
    mails = [raw for raw in mails if raw]  # IMAP cannot store a zero-byte message
    with dovecot.imap(user) as client:  # one session for all: quicker than dovecot.append
        for raw in mails:
            client.append("INBOX", raw)
    assert dovecot.count(user) == len(mails)
    job = dovecot.job(user, "imap", "ssl", after_processing="delete")
    table = job_table(job, name="Malformed", password_env="DESKMAIL_TEST_PASSWORD")
    config = write_config(tmp_path / "deskmail.toml", database_url, [table])
    env = {**os.environ, "DESKMAIL_TEST_PASSWORD": Dovecot.password}
    run = subprocess.run(
        [sys.executable, "-m", "deskmail", "run-once", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode in (0, 3), run.stdout + run.stderr
    assert f"fetched {len(mails)}" in run.stdout, run.stdout

    store = Store(database_url, tmp_path / "blobs")
    try:
        with store.session() as session:
            records = list(session.scalars(select(IntakeRecord)))
    finally:
        store.dispose()
    assert len(records) == len(mails)
    assert len({r.source_key for r in records}) == len(mails)
    quarantined = [f"{r.source_key}: {r.error}" for r in records if r.outcome is Fate.QUARANTINED]
    assert quarantined == []
    assert run.returncode == 0
    assert dovecot.count(user) == len(quarantined), "everything else left the mailbox"
