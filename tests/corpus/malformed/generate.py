"""Writes the malformed-mail corpus (NN-name.eml) and its README.md, one trap per file.

The files are committed; this script documents how each was made and
rebuilds them byte for byte: `python tests/corpus/malformed/generate.py`.
Everything is deterministic (fixed seeds, fixed dates).
"""

from __future__ import annotations

import base64
import random
import struct
from collections.abc import Callable
from pathlib import Path

import compressed_rtf  # type: ignore[import-untyped]

HERE = Path(__file__).parent
CRLF = b"\r\n"

TRAPS: list[tuple[str, str, Callable[[], bytes]]] = []


def trap(name: str, description: str) -> Callable[[Callable[[], bytes]], Callable[[], bytes]]:
    def register(build: Callable[[], bytes]) -> Callable[[], bytes]:
        TRAPS.append((name, description, build))
        return build

    return register


def mail(headers: list[str | bytes], body: bytes = b"", sep: bytes = CRLF) -> bytes:
    lines = [h.encode("utf-8") if isinstance(h, str) else h for h in headers]
    return sep.join(lines) + sep + sep + body


def std(n: int, subject: str | bytes | None = None) -> list[str | bytes]:
    """Ordinary From/To/Date/Message-ID headers; the trap adds the rest."""
    return [
        "From: Alice Martin <alice@example.com>",
        "To: Service Desk <support@example.com>",
        f"Subject: {subject if subject is not None else f'malformed {n}'}",
        f"Message-ID: <malformed-{n:02d}@corpus.deskmail.test>",
        "Date: Mon, 02 Nov 2026 09:00:00 +0100",
    ]


def multipart(
    headers: list[str | bytes], boundary: str, parts: list[bytes], close: bool = True
) -> bytes:
    body = b"This is a multi-part message in MIME format.\r\n"
    for part in parts:
        body += b"--" + boundary.encode() + CRLF + part + CRLF
    if close:
        body += b"--" + boundary.encode() + b"--" + CRLF
    return mail(
        [*headers, "MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="{boundary}"'],
        body,
    )


def part(headers: list[str | bytes], body: bytes) -> bytes:
    lines = [h.encode("utf-8") if isinstance(h, str) else h for h in headers]
    return CRLF.join(lines) + CRLF + CRLF + body


TEXT = part(["Content-Type: text/plain; charset=utf-8"], b"Please see the attachment.\r\n")


def b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", CRLF)


def attachment(filename_params: str, data: bytes, ctype: str = "application/octet-stream") -> bytes:
    return part(
        [
            f"Content-Type: {ctype}",
            f"Content-Disposition: attachment; {filename_params}",
            "Content-Transfer-Encoding: base64",
        ],
        b64(data),
    )


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def pe_executable() -> bytes:
    """A minimal PE file header: "MZ", e_lfanew at 0x3c, "PE\\0\\0" there."""
    dos = bytearray(128)
    dos[0:2] = b"MZ"
    dos[0x3C:0x40] = struct.pack("<I", 64)
    dos[64:68] = b"PE\0\0"
    return bytes(dos) + b"\0" * 256


# ---- TNEF (MS-OXTNEF): a small stream built by hand ----------------------------


def tnef_attr(level: int, attr_id: int, data: bytes) -> bytes:
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BII", level, attr_id, len(data)) + data + struct.pack("<H", checksum)


def mapi_binary(prop_id: int, value: bytes) -> bytes:
    padding = b"\0" * (-len(value) % 4)
    return struct.pack("<HHII", 0x0102, prop_id, 1, len(value)) + value + padding


def tnef_stream(
    files: list[tuple[str, bytes]], body: bytes | None = None, rtf: bytes | None = None
) -> bytes:
    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += tnef_attr(1, 0x00089006, struct.pack("<I", 0x00010000))  # attTnefVersion
    out += tnef_attr(1, 0x00069007, struct.pack("<II", 1252, 0))  # attOemCodepage
    out += tnef_attr(1, 0x00078008, b"IPM.Microsoft Mail.Note\0")  # attMessageClass
    if body is not None:
        out += tnef_attr(1, 0x0002800C, body)  # attBody
    if rtf is not None:  # attMsgProps with PR_RTF_COMPRESSED
        props = struct.pack("<I", 1) + mapi_binary(0x1009, compressed_rtf.compress(rtf))
        out += tnef_attr(1, 0x00069003, props)
    for name, data in files:
        out += tnef_attr(2, 0x00069002, b"\0" * 14)  # attAttachRendData starts an attachment
        out += tnef_attr(2, 0x00018010, name.encode("ascii") + b"\0")  # attAttachTitle
        out += tnef_attr(2, 0x0006800F, data)  # attAttachData
    return out


# ---- the traps -------------------------------------------------------------------


@trap("empty", "a zero-byte message")
def _() -> bytes:
    return b""


@trap("headers-only", "headers and no body, not even the blank line")
def _() -> bytes:
    return CRLF.join(h.encode() for h in std(2, "only headers") if isinstance(h, str)) + CRLF


@trap("no-headers", "a body with no header block at all")
def _() -> bytes:
    return b"Hello,\r\nmy printer is broken.\r\nC:\\Users\\alice\\printer.log\r\n"


@trap("binary-garbage", "64 KB of random bytes, NUL included")
def _() -> bytes:
    return random.Random(4).randbytes(65_536)


@trap("bare-lf", "LF-only line ends (Unix mbox export)")
def _() -> bytes:
    return mail([*std(5), "Content-Type: text/plain"], b"line one\nline two\n", sep=b"\n")


@trap("bare-cr", "CR-only line ends (classic Mac OS)")
def _() -> bytes:
    return mail([*std(6), "Content-Type: text/plain"], b"line one\rline two\r", sep=b"\r")


@trap("mixed-line-ends", "CRLF, LF and CR mixed in one mail")
def _() -> bytes:
    return b"".join(
        [
            b"From: alice@example.com\r\n",
            b"Subject: mixed line ends\n",
            b"Message-ID: <malformed-07@corpus.deskmail.test>\r\n",
            b"Content-Type: text/plain\r\n",
            b"\n",
            b"one\r\ntwo\nthree\rfour\r\n",
        ]
    )


@trap("broken-address-headers", "From/To/Cc that make 3.11's policy.default raise IndexError")
def _() -> bytes:
    return mail(
        [
            'From: "Alice Martin" <',
            "To: foo@",
            "Cc: mailer-daemon@[, bob@example.com",
            "Subject: broken addresses",
            "Message-ID: <malformed-08@corpus.deskmail.test>",
        ],
        b"body\r\n",
    )


@trap("unknown-charset", "charset=x-made-up on a UTF-8 body")
def _() -> bytes:
    return mail(
        [*std(9), "Content-Type: text/plain; charset=x-made-up"], "Grüße aus Köln\r\n".encode()
    )


@trap("wrong-charset", "declared us-ascii, body Windows-1252 with curly quotes and euro sign")
def _() -> bytes:
    return mail(
        [*std(10), "Content-Type: text/plain; charset=us-ascii"],
        "“Price”: 10 €\r\n".encode("cp1252"),
    )


@trap("charset-utf7", "charset=utf-7 body (an old XSS vector) with an invalid shift sequence")
def _() -> bytes:
    return mail(
        [*std(11), "Content-Type: text/plain; charset=utf-7"],
        b"Hi +AOk-t+AOk- and +2D3- broken\r\n",
    )


@trap("charset-in-comment", "media type and charset wrapped in comments and quotes")
def _() -> bytes:
    return mail(
        [*std(12), 'Content-Type: text/plain (plain text); charset="iso-8859-1" (western)'],
        "Café crème\r\n".encode("latin-1"),
    )


@trap("unsafe-charset", "charset=unicode_escape: must not turn C:\\Users\\new into escapes")
def _() -> bytes:
    return mail(
        [*std(13), "Content-Type: text/plain; charset=unicode_escape"],
        b"Files are in C:\\Users\\alice\\new\\bin and \\\\fileserver01\\u0041\r\n",
    )


@trap(
    "encoded-words-malformed",
    "split multibyte, glued words, bad base64, unknown charset, RFC 2231 language",
)
def _() -> bytes:
    return mail(
        [
            "From: =?utf-8?q?M=C3=BCller=2C_Dieter?= <dieter@example.org>",
            "To: support@example.com",
            # "Grüße" split inside the ü between two words; words glued without space.
            "Subject: =?utf-8?q?Gr=C3?= =?utf-8?q?=BC=C3=9Fe?==?utf-8?b?IGF1cw?="
            " =?x-bogus?q?K=F6ln?="
            " =?UTF-8*de?Q?_tsch=C3=BCss?= =?utf-8?q?hello world?=",
            "Message-ID: <malformed-14@corpus.deskmail.test>",
            "Date: Mon, 02 Nov 2026 09:00:00 +0100",
        ],
        b"body\r\n",
    )


@trap("raw-8bit-headers", "raw UTF-8 bytes in Subject, From and a filename (no encoded words)")
def _() -> bytes:
    headers: list[str | bytes] = [
        "From: Dieter Müller <dieter@example.org>".encode(),
        "To: support@example.com",
        "Subject: Drucker im 3. Stock – Störung".encode(),
        "Message-ID: <malformed-15@corpus.deskmail.test>",
    ]
    return multipart(headers, "b15", [TEXT, attachment('filename="Störung.txt"', b"log")])


@trap(
    "header-injection",
    "CR, LF and NUL hidden in encoded words of Subject, From name and a filename",
)
def _() -> bytes:
    headers: list[str | bytes] = [
        "From: =?utf-8?q?Alice=0D=0ABcc:_victim@example.net?= <alice@example.com>",
        "To: support@example.com",
        "Subject: =?utf-8?q?Hello=0D=0ABcc:_victim@example.net=0D=0A=0D=0Abody=00?=",
        "Message-ID: <malformed-16@corpus.deskmail.test>",
    ]
    return multipart(
        headers, "b16", [TEXT, attachment('filename="=?utf-8?q?a=0D=0Ab=00.txt?="', b"x")]
    )


@trap("rfc2231-filename", "RFC 2231 filename with charset, language and continuations")
def _() -> bytes:
    return multipart(
        std(17),
        "b17",
        [
            TEXT,
            attachment(
                "filename*0*=utf-8'fr'R%C3%A9sum%C3%A9%20du; filename*1*=%20rapport;"
                ' filename*2=".pdf"',
                b"%PDF-1.4",
            ),
            attachment("filename*=iso-8859-1''%E9t%E9.txt", b"summer"),
        ],
    )


@trap("rfc2047-filename", "an RFC 2047 encoded word as a quoted filename (non-standard, common)")
def _() -> bytes:
    name = base64.b64encode("Rechnung März.pdf".encode()).decode()
    return multipart(
        std(18), "b18", [TEXT, attachment(f'filename="=?utf-8?B?{name}?="', b"%PDF-1.4")]
    )


@trap("missing-id-date-from", "no Message-ID, no Date, no From")
def _() -> bytes:
    return mail(["To: support@example.com", "Subject: who sent this?"], b"anonymous\r\n")


@trap("duplicate-id-date-from", "two Message-ID, Date, From and Subject headers: the first wins")
def _() -> bytes:
    return mail(
        [
            "From: first@example.com",
            "From: second@example.com",
            "Subject: first subject",
            "Subject: second subject",
            "Message-ID: <malformed-20a@corpus.deskmail.test>",
            "Message-ID: <malformed-20b@corpus.deskmail.test>",
            "Date: Mon, 02 Nov 2026 09:00:00 +0100",
            "Date: Tue, 03 Nov 2026 09:00:00 +0100",
            "To: a@example.com",
            "To: b@example.com",
        ],
        b"body\r\n",
    )


@trap("duplicate-content-type", "two Content-Type headers (text/plain, then text/html)")
def _() -> bytes:
    return mail(
        [*std(21), "Content-Type: text/plain", "Content-Type: text/html"],
        b"<b>plain or html?</b>\r\n",
    )


@trap("bad-base64", "base64 with junk characters, padding in the middle and a dangling character")
def _() -> bytes:
    body = part(
        ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64"],
        b"SGVsbG8s*IHByaW50ZXI=\r\nIGlzIGJyb2tlbg==\r\n!!",
    )
    return multipart(
        std(22),
        "b22",
        [
            body,
            part(
                [
                    "Content-Type: application/octet-stream; name=x.bin",
                    "Content-Transfer-Encoding: base64",
                ],
                b"!!!not*base64===\r\n",
            ),
        ],
    )


@trap("bad-quoted-printable", "invalid =XY escapes, a lone = at the end, an over-long line")
def _() -> bytes:
    return mail(
        [
            *std(23),
            "Content-Type: text/plain; charset=iso-8859-1",
            "Content-Transfer-Encoding: quoted-printable",
        ],
        b"caf=E9 =ZZ 100=% =\r\n" + b"x" * 2000 + b"\r\nend=",
    )


def nested(depth: int, leaf: bytes) -> bytes:
    inner = leaf
    for level in range(depth):
        b = f"n{level}".encode()
        inner = (
            b'Content-Type: multipart/mixed; boundary="'
            + b
            + b'"\r\n\r\n--'
            + b
            + CRLF
            + inner
            + b"\r\n--"
            + b
            + b"--\r\n"
        )
    return inner


@trap("deep-nesting", "60 levels of multipart (MAX_DEPTH is 30)")
def _() -> bytes:
    leaf = b"Content-Type: text/plain\r\n\r\ndeep body\r\n"
    return mail([*std(24), "MIME-Version: 1.0"], b"").rstrip(CRLF) + CRLF + nested(60, leaf)


@trap("very-deep-nesting", "3,000 levels of multipart: more than the stdlib parser can recurse")
def _() -> bytes:
    leaf = b"Content-Type: text/plain\r\n\r\nvery deep body\r\n"
    return mail([*std(25), "MIME-Version: 1.0"], b"").rstrip(CRLF) + CRLF + nested(3000, leaf)


@trap("huge-header", "one 1 MB header (folded lines)")
def _() -> bytes:
    folded = "\r\n ".join(["x" * 998] * 1050)
    return mail([*std(26), f"X-Huge: {folded}"], b"body after a huge header\r\n")


@trap("many-headers", "10,000 header lines before the Subject")
def _() -> bytes:
    many = [f"X-Trace-{i}: hop {i}" for i in range(10_000)]
    return mail(
        [
            "From: alice@example.com",
            *many,
            "Subject: after 10000 headers",
            "Message-ID: <malformed-27@corpus.deskmail.test>",
        ],
        b"body\r\n",
    )


@trap("thousand-recipients", "1,000 To recipients")
def _() -> bytes:
    to = ",\r\n ".join(f'"User {i}" <user{i}@example.com>' for i in range(1000))
    return mail(
        [
            "From: alice@example.com",
            f"To: {to}",
            "Subject: 1000 recipients",
            "Message-ID: <malformed-28@corpus.deskmail.test>",
        ],
        b"body\r\n",
    )


@trap("subject-200kb", "a 200 KB subject")
def _() -> bytes:
    subject = "\r\n ".join(["Printer broken again"] * 10_000)
    return mail(
        [
            "From: alice@example.com",
            f"Subject: {subject}",
            "Message-ID: <malformed-29@corpus.deskmail.test>",
        ],
        b"body\r\n",
    )


@trap("missing-boundary", "multipart/mixed without a boundary parameter")
def _() -> bytes:
    body = (
        b"--lost\r\n"
        + TEXT
        + b"\r\n--lost\r\n"
        + attachment('filename="found.txt"', b"found it")
        + b"\r\n--lost--\r\n"
    )
    return mail([*std(30), "MIME-Version: 1.0", "Content-Type: multipart/mixed"], body)


@trap("wrong-boundary", "the declared boundary never appears; another one is used")
def _() -> bytes:
    body = b"--actual\r\n" + TEXT + b"\r\n--actual--\r\n"
    return mail(
        [*std(31), "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="declared"'], body
    )


@trap("boundary-never-closes", "the closing --boundary-- line is missing")
def _() -> bytes:
    return multipart(
        std(32), "b32", [TEXT, attachment('filename="last.txt"', b"last")], close=False
    )


@trap("boundary-in-body", "the boundary string inside body lines (not as a delimiter)")
def _() -> bytes:
    text = part(
        ["Content-Type: text/plain"],
        b"See --b33 in the middle, and a line:\r\n--b33-not-a-delimiter\r\nend\r\n",
    )
    return multipart(std(33), "b33", [text])


@trap("content-length-lie", "Content-Length claims 50 MB")
def _() -> bytes:
    return mail(
        [*std(34), "Content-Length: 52428800", "Content-Type: text/plain"], b"tiny body\r\n"
    )


@trap("nested-rfc822", "message/rfc822 inside message/rfc822 inside the mail")
def _() -> bytes:
    innermost = mail(["From: carol@example.com", "Subject: innermost"], b"innermost body\r\n")
    inner = mail(
        [
            "From: bob@example.com",
            "Subject: Inner / forwarded",
            "MIME-Version: 1.0",
            'Content-Type: multipart/mixed; boundary="in"',
        ],
        b"--in\r\nContent-Type: text/plain\r\n\r\ninner body\r\n"
        b"--in\r\nContent-Type: message/rfc822\r\n\r\n" + innermost + b"\r\n--in--\r\n",
    )
    return multipart(std(35), "b35", [TEXT, part(["Content-Type: message/rfc822"], inner)])


@trap("name-traversal", "attachment named ../../etc/passwd")
def _() -> bytes:
    return multipart(
        std(36), "b36", [TEXT, attachment('filename="../../etc/passwd"', b"root:x:0:0")]
    )


@trap(
    "name-windows-path", "attachment named C:\\Windows\\system32\\evil.dll (backslashes unescaped)"
)
def _() -> bytes:
    return multipart(
        std(37), "b37", [TEXT, attachment('filename="C:\\Windows\\system32\\evil.dll"', b"MZ")]
    )


@trap("name-reserved", "attachment named CON.txt (a Windows device name)")
def _() -> bytes:
    return multipart(std(38), "b38", [TEXT, attachment('filename="CON.txt"', b"console")])


@trap("name-rlo", "attachment named invoice<U+202E>fdp.exe (shows as invoiceexe.pdf)")
def _() -> bytes:
    return multipart(
        std(39),
        "b39",
        [TEXT, attachment("filename*=utf-8''invoice%E2%80%AEfdp.exe", pe_executable())],
    )


@trap("name-nul", "attachment name with a NUL byte (RFC 2231 %00)")
def _() -> bytes:
    return multipart(
        std(40), "b40", [TEXT, attachment("filename*=utf-8''report.pdf%00.exe", b"%PDF-1.4")]
    )


@trap("html-hostile", "HTML-only mail: script, onerror, javascript: link, remote image, cid images")
def _() -> bytes:
    html = (
        b"<html><head><style>body{background:url(http://evil.example/bg)}</style>"
        b'<script>alert("body")</script></head><body onload="steal()">'
        b'<p>Hello <a href="javascript:alert(1)">click</a> <a href="https://status.example.com">status</a></p>'
        b'<img src="cid:logo@corp" onerror="alert(2)"><img src="cid:missing@corp">'
        b'<img src="https://tracker.example/pixel.gif"><img src="data:image/png;base64,AAAA">'
        b'<p style="color:red;background-image:url(http://evil.example/x)">styled</p>'
        b"<table><tr><th>Host</th><th>State</th></tr><tr><td>srv01</td><td>down</td></tr></table>"
        b"<ul><li>first</li><li>second</li></ul></body></html>"
    )
    related = (
        b'Content-Type: multipart/related; boundary="rel"\r\n\r\n'
        b"--rel\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        + html
        + b"\r\n--rel\r\nContent-Type: image/png\r\nContent-ID: <logo@corp>\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(PNG) + b"--rel--\r\n"
    )
    return mail([*std(41), "MIME-Version: 1.0"], b"").rstrip(CRLF) + CRLF + related


@trap("tnef-winmail", "a TNEF winmail.dat with two files and a plain body, no other text body")
def _() -> bytes:
    stream = tnef_stream(
        [("notes.txt", b"meeting notes\r\n"), ("logo.png", PNG)],
        body=b"Body from Outlook: C:\\Temp\r\n",
    )
    return multipart(
        std(42),
        "b42",
        [
            part(
                [
                    "Content-Type: application/ms-tnef; name=winmail.dat",
                    "Content-Disposition: attachment; filename=winmail.dat",
                    "Content-Transfer-Encoding: base64",
                ],
                b64(stream),
            )
        ],
    )


@trap("tnef-rtf-body", "a TNEF winmail.dat whose body is compressed RTF only")
def _() -> bytes:
    rtf = (
        b"{\\rtf1\\ansi\\ansicpg1252{\\fonttbl{\\f0 Arial;}}"
        b"\\f0 Hello from \\b RTF\\b0 , caf\\'e9.\\par Second line.}"
    )
    stream = tnef_stream([("data.csv", b"a,b\r\n1,2\r\n")], rtf=rtf)
    return multipart(
        std(43),
        "b43",
        [
            part(
                [
                    "Content-Type: application/ms-tnef",
                    "Content-Disposition: attachment; filename=winmail.dat",
                    "Content-Transfer-Encoding: base64",
                ],
                b64(stream),
            )
        ],
    )


@trap("tnef-broken", "application/ms-tnef that is not TNEF: kept as winmail.dat")
def _() -> bytes:
    return multipart(
        std(44),
        "b44",
        [
            TEXT,
            part(
                [
                    "Content-Type: application/ms-tnef",
                    "Content-Disposition: attachment; filename=winmail.dat",
                    "Content-Transfer-Encoding: base64",
                ],
                b64(b"not a TNEF stream at all"),
            ),
        ],
    )


@trap("date-year-zero", "Date in the year 0")
def _() -> bytes:
    return mail(
        [
            "From: alice@example.com",
            "Subject: year zero",
            "Date: Sat, 01 Jan 0000 00:00:00 +0000",
            "Message-ID: <malformed-45@corpus.deskmail.test>",
        ],
        b"body\r\n",
    )


@trap("date-year-99999", "Date in the year 99999")
def _() -> bytes:
    return mail(
        [
            "From: alice@example.com",
            "Subject: far future",
            "Date: Mon, 01 Jan 99999 00:00:00 +0000",
            "Message-ID: <malformed-46@corpus.deskmail.test>",
        ],
        b"body\r\n",
    )


@trap("from-group-only", "From is only an empty group (Undisclosed:;)")
def _() -> bytes:
    return mail(
        [
            "From: Undisclosed senders:;",
            "To: support@example.com",
            "Subject: group sender",
            "Message-ID: <malformed-47@corpus.deskmail.test>",
        ],
        b"body\r\n",
    )


@trap("exe-labelled-png", "a Windows executable sent as image/png named photo.png")
def _() -> bytes:
    return multipart(
        std(48), "b48", [TEXT, attachment('filename="photo.png"', pe_executable(), "image/png")]
    )


@trap(
    "windows-paths",
    "8-bit and quoted-printable bodies full of backslashes (C:\\Users, \\\\server, \\n, \\u0041)",
)
def _() -> bytes:
    text = b"Path C:\\Users\\alice\\new\\bin\\x41 and \\\\fileserver01\\finance\\t\\u0041\r\n"
    qp = b"QP: C:\\Users\\bob\\Documents =E9t=E9\r\n"
    return multipart(
        std(49),
        "b49",
        [
            part(
                ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"], text
            ),
            part(
                [
                    "Content-Type: text/plain; charset=iso-8859-1",
                    "Content-Transfer-Encoding: quoted-printable",
                    "Content-Disposition: attachment; filename=qp.txt",
                ],
                qp,
            ),
        ],
    )


@trap("nul-in-body", "NUL bytes inside an 8-bit text body")
def _() -> bytes:
    return mail([*std(50), "Content-Type: text/plain; charset=utf-8"], b"before\x00after\x00\r\n")


@trap("content-type-garbage", "Content-Type without a slash; disposition misspelt")
def _() -> bytes:
    return multipart(
        std(51),
        "b51",
        [
            part(["Content-Type: garbage"], b"text of unknown type\r\n"),
            part(
                [
                    "Content-Type: application/pdf",
                    "Content-Disposition: attachement; filename=doc.pdf",
                ],
                b"%PDF-1.4",
            ),
        ],
    )


@trap("unknown-transfer-encoding", "Content-Transfer-Encoding x-gzip64 and a commented base64")
def _() -> bytes:
    return multipart(
        std(52),
        "b52",
        [
            part(
                ["Content-Type: text/plain", "Content-Transfer-Encoding: base64 (as usual)"],
                b64(b"decoded despite the comment"),
            ),
            part(
                [
                    "Content-Type: application/octet-stream; name=z.gz",
                    "Content-Transfer-Encoding: x-gzip64",
                ],
                b"H4sIAAAA",
            ),
        ],
    )


@trap("utf16-body", "a text body in UTF-16 with BOM")
def _() -> bytes:
    return mail(
        [*std(53), "Content-Type: text/plain; charset=utf-16", "Content-Transfer-Encoding: base64"],
        b64("Grüße in UTF-16\r\n".encode("utf-16")),
    )


@trap("delivery-report", "a DSN bounce: multipart/report with message/delivery-status")
def _() -> bytes:
    status = (
        b"Reporting-MTA: dns; mx.example.com\r\n\r\n"
        b"Final-Recipient: rfc822; gone@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    )
    original = b"From: support@example.com\r\nSubject: Your ticket\r\n\r\nhello\r\n"
    body = (
        b"--rep\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        b"--rep\r\nContent-Type: message/delivery-status\r\n\r\n"
        + status
        + b"\r\n--rep\r\nContent-Type: message/rfc822\r\n\r\n"
        + original
        + b"\r\n--rep--\r\n"
    )
    return mail(
        [
            "From: MAILER-DAEMON@example.com",
            "Subject: Undelivered Mail",
            "MIME-Version: 1.0",
            "Message-ID: <malformed-54@corpus.deskmail.test>",
            'Content-Type: multipart/report; report-type=delivery-status; boundary="rep"',
        ],
        body,
    )


@trap("cid-variants", "cid: references with <>, %-encoding and different case")
def _() -> bytes:
    html = b'<p>logos</p><img src="cid:%3CLogo%40Corp%3E"><img src="cid:logo@corp">'
    related = (
        b'Content-Type: multipart/related; boundary="rel"\r\n\r\n'
        b"--rel\r\nContent-Type: text/html\r\n\r\n"
        + html
        + b"\r\n--rel\r\nContent-Type: image/png\r\nContent-ID: <logo@corp>\r\n"
        b"Content-Disposition: inline\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n" + b64(PNG) + b"--rel--\r\n"
    )
    return mail([*std(55), "MIME-Version: 1.0"], b"").rstrip(CRLF) + CRLF + related


@trap("uuencoded", "an attachment sent with Content-Transfer-Encoding x-uuencode")
def _() -> bytes:
    import binascii

    uu = (
        b"begin 644 hello.txt\r\n"
        + binascii.b2a_uu(b"hello uuencode").replace(b"\n", CRLF)
        + b"`\r\nend\r\n"
    )
    return multipart(
        std(56),
        "b56",
        [
            TEXT,
            part(
                [
                    "Content-Type: text/plain; name=hello.txt",
                    "Content-Transfer-Encoding: x-uuencode",
                    "Content-Disposition: attachment; filename=hello.txt",
                ],
                uu,
            ),
        ],
    )


@trap("empty-multipart", "a multipart with a boundary and no parts at all")
def _() -> bytes:
    return mail(
        [*std(57), "MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b57"'],
        b"--b57--\r\n",
    )


@trap("long-filename", "a 400-character attachment name")
def _() -> bytes:
    return multipart(
        std(58), "b58", [TEXT, attachment(f'filename="{"report-" * 57}.xlsx"', b"PK\x03\x04")]
    )


def main() -> None:
    for old in HERE.glob("*.eml"):
        old.unlink()
    lines = [
        "# Malformed mail corpus",
        "",
        "One deliberately broken mail per trap, written by `generate.py` in this folder",
        "(run it to rebuild them; it is deterministic). `tests/test_malformed_corpus.py`",
        "parses every file, checks the trap was handled as intended, and feeds them all",
        "through `deskmail run-once` against a real Dovecot mailbox.",
        "",
        "The TNEF streams are built by hand from MS-OXTNEF (no third-party fixture);",
        "the RTF body of the second one is compressed with compressed_rtf.",
        "Dovecot refuses to store a zero-byte message, so the end-to-end test",
        "delivers every file but the first.",
        "",
        "| file | trap |",
        "|---|---|",
    ]
    for number, (name, description, build) in enumerate(TRAPS, start=1):
        filename = f"{number:02d}-{name}.eml"
        (HERE / filename).write_bytes(build())
        lines.append(f"| `{filename}` | {description.replace('|', '/')} |")
    (HERE / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
