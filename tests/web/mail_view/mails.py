"""Mails for the ticket-page tests, written to the test job's Maildir."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from tests.web.mail_view.remote_server import PNG


def hostile_mail(remote: str) -> EmailMessage:
    """Everything a mail can try: script, handlers, javascript: links, remote images
    (img, CSS), a form, an inline image by cid:, SVG and HTML attachments."""
    message = EmailMessage()
    message["From"] = "Mallory <mallory@example.com>"
    message["To"] = "support@example.com"
    message["Subject"] = "Invoice overdue"
    message["Message-ID"] = "<hostile@client.example.com>"
    message.set_content("Please see the invoice.\n")
    html = f"""<html><head><script>window.parent.pwned = 1; fetch('{remote}/script');</script>
<style>body {{ background: url('{remote}/css-background'); }}</style></head>
<body onload="fetch('{remote}/onload')">
<p id="greeting">Dear customer, <b>pay now</b>.</p>
<img src="{remote}/pixel.png" alt="tracker" id="tracker">
<img src="cid:logo@example.com" alt="logo" id="logo">
<img src="x" onerror="fetch('{remote}/onerror')">
<a href="javascript:fetch('{remote}/js-link')" id="jslink">click</a>
<a href="https://example.com/ok" id="oklink">a fine link</a>
<form action="{remote}/form" method="post"><input name="card"><button>Send</button></form>
<iframe src="{remote}/iframe"></iframe>
<div style="background-image: url('{remote}/inline-style')">styled</div>
</body></html>"""
    message.add_alternative(html, subtype="html")
    message.get_payload()[1].add_related(PNG, "image", "png", cid="<logo@example.com>")
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg"><script>fetch("{remote}/svg")</script></svg>'
    ).encode()
    message.add_attachment(svg, maintype="image", subtype="svg+xml", filename="chart.svg")
    page = f"<html><script>fetch('{remote}/html-attachment')</script></html>".encode()
    message.add_attachment(page, maintype="text", subtype="html", filename="invoice.html")
    return message


def deliver(mailbox: Path, name: str, message: EmailMessage) -> Path:
    path = mailbox / "new" / f"{name}.eml"
    path.write_bytes(bytes(message))
    return path
