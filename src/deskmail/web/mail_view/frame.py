"""The frame's response: a document of its own with a Content-Security-Policy of its own.

The page shows it in <iframe sandbox="allow-popups allow-popups-to-escape-sandbox">
(no allow-scripts, no allow-same-origin); the CSP says the same again with
`sandbox`, so even opened on its own the document runs no script, posts no form
and loads nothing but its embedded images, and remote ones only when asked.
"""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

from deskmail.web.mail_view.sanitise import FrameHtml

SANDBOX = "allow-popups allow-popups-to-escape-sandbox"


def frame_policy(*, remote_images: bool) -> str:
    images = "data: http: https:" if remote_images else "data:"
    return "; ".join(
        (
            "default-src 'none'",
            f"img-src {images}",
            "style-src 'unsafe-inline'",
            "form-action 'none'",
            "base-uri 'none'",
            "frame-ancestors 'self'",
            f"sandbox {SANDBOX}",
        )
    )


_DOCUMENT = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:.75rem;color:#111;background:#fff;
overflow-wrap:anywhere}}img{{max-width:100%;height:auto}}pre{{white-space:pre-wrap}}</style>
</head><body>{body}</body></html>"""


def frame_response(content: FrameHtml | str, *, title: str, remote_images: bool) -> HTMLResponse:
    """`content`: sanitised HTML, or plain text (a mail without an HTML part)."""
    body = content.html if isinstance(content, FrameHtml) else f"<pre>{escape(content)}</pre>"
    document = _DOCUMENT.format(lang="en", title=escape(title), body=body)
    return HTMLResponse(
        document,
        headers={
            "content-security-policy": frame_policy(remote_images=remote_images),
            "x-content-type-options": "nosniff",
            "referrer-policy": "no-referrer",
            "cache-control": "no-store",
        },
    )
