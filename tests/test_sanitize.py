"""The display copy of a mail's HTML: nothing active, nothing fetched from outside."""

from __future__ import annotations

import hashlib

import pytest

from deskmail.parse.attachments import make_attachment
from deskmail.parse.message import ParsedAttachment
from deskmail.parse.sanitize import content_ids, lookup_cid, sanitize_html

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def _image(cid: str | None, data: bytes = PNG, inline: bool = True) -> ParsedAttachment:
    return make_attachment("logo.png", "image/png", data, inline=inline, content_id=cid)


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '<img src="x" onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        '<a href="vbscript:msgbox(1)">x</a>',
        '<iframe src="https://evil.example"></iframe>',
        '<object data="https://evil.example/x.swf"></object>',
        '<form action="https://evil.example"><input name="password"></form>',
        '<svg onload="alert(1)"></svg>',
        '<body onload="alert(1)">',
        '<style>@import "https://evil.example/x.css";</style>',
        '<link rel="stylesheet" href="https://evil.example/x.css">',
        '<meta http-equiv="refresh" content="0;url=https://evil.example">',
        '<base href="https://evil.example/">',
        '<p style="background-image:url(https://evil.example/t.gif)">x</p>',
        '<p style="width:expression(alert(1))">x</p>',
        '<img src="https://tracker.example/pixel.gif">',
        '<img src="data:image/png;base64,AAAA">',
        '<img src="//tracker.example/pixel.gif">',
        '<a href="/admin/delete">relative</a>',
    ],
)
def test_nothing_active_or_remote_survives(hostile: str) -> None:
    safe = sanitize_html(f"<p>before</p>{hostile}<p>after</p>", []).html.lower()
    for bad in ("script", "alert", "onerror", "onload", "evil.example", "tracker", "data:",
                "iframe", "object", "<form", "<input", "<meta", "<base", "url(", "expression",
                "vbscript", "/admin"):  # fmt: skip
        assert bad not in safe
    assert "before" in safe and "after" in safe


def test_cid_images_point_at_their_attachment_and_unknown_cids_go() -> None:
    logo = _image("logo@corp")
    safe = sanitize_html('<img src="cid:logo@corp" alt="Logo"><img src="cid:nope@corp">', [logo])
    assert safe.html == f'<img src="/attachments/{logo.sha256}" alt="Logo"><img>'
    assert safe.shown == {logo.sha256}


@pytest.mark.parametrize(
    "reference", ["cid:logo@corp", "cid:<logo@corp>", "cid:%3Clogo%40corp%3E", "CID:LOGO@CORP"]
)
def test_cid_forms_with_and_without_brackets(reference: str) -> None:
    logo = _image("<logo@corp>")
    html = sanitize_html(f'<img src="{reference}">', [logo]).html
    assert html == f'<img src="/attachments/{logo.sha256}">'


def test_inline_part_wins_over_an_attached_one_with_the_same_cid() -> None:
    attached = _image("x@y", data=PNG + b"attached", inline=False)
    inline = _image("x@y", data=PNG + b"inline")
    assert lookup_cid(content_ids([attached, inline]), "x@y") == inline.sha256


def test_links_are_kept_with_noopener() -> None:
    html = sanitize_html('<a href="https://kb.example.com/a?b=c" target="_top">KB</a>', []).html
    assert html == '<a href="https://kb.example.com/a?b=c" rel="noopener noreferrer">KB</a>'


def test_layout_survives_tables_lists_and_harmless_styles() -> None:
    html = (
        '<table border="1"><tr><td style="color: red; font-weight: bold">a</td></tr></table>'
        '<ul><li>one</li></ul><font color="blue">x</font><a href="mailto:help@example.com">m</a>'
    )
    safe = sanitize_html(html, []).html
    assert "<table" in safe and "<td" in safe and "<li>one</li>" in safe
    assert "color:red" in safe.replace(" ", "") and '<font color="blue">' in safe
    assert 'href="mailto:help@example.com"' in safe


def test_sha256_in_the_url_is_the_content_hash() -> None:
    logo = _image("a@b")
    assert logo.sha256 == hashlib.sha256(PNG).hexdigest()
