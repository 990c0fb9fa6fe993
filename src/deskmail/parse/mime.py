"""The MIME tree of a parsed message sorted into bodies and attachments, in one pass.

The walk is iterative (an explicit stack), so no nesting depth can exhaust
Python's recursion. Below MAX_DEPTH levels parts are still collected, but
only as attachments, never as the body: a mail cannot hide its text there.
An attached mail (message/rfc822) is kept whole as an .eml; a winmail.dat is
unpacked into its own files and body; a multipart whose boundary is missing
or wrong gets its boundary guessed from the first "--" line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesParser

from deskmail.parse.attachments import make_attachment, spooled_attachment
from deskmail.parse.charsets import decode_text
from deskmail.parse.elide import SPAN_ATTRIBUTE
from deskmail.parse.eml import to_bytes
from deskmail.parse.encoded_words import decode_header_text, raw_bytes
from deskmail.parse.filenames import default_name, eml_name
from deskmail.parse.media_types import guess_type
from deskmail.parse.message import ParsedAttachment
from deskmail.parse.parts import PartInfo, payload_bytes, raw_header, raw_payload, read_part
from deskmail.parse.spool import Spool, spool_base64, wanted
from deskmail.parse.tnef import TnefError, is_tnef, unpack_tnef

MAX_DEPTH = 30  # deeper parts are kept as attachments only

_PARSER = BytesParser(policy=policy.compat32)
# RFC 2046 boundary characters; a part's headers must follow the line.
_BOUNDARY_LINE = re.compile(
    r"^--([0-9A-Za-z'()+_,./:=?-][0-9A-Za-z'()+_,./:=? -]{0,69}?)[ \t]*\r?\n(?=[A-Za-z-]+:)",
    re.MULTILINE,
)


@dataclass
class Collected:
    text: str | None = None
    html: str | None = None
    tnef_text: str | None = None  # a winmail.dat body, for mail without a text body
    tnef_html: str | None = None
    attachments: list[ParsedAttachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


def collect(root: Message, spool: Spool | None = None) -> Collected:
    """`spool`: where large attachments are decoded to (parse/spool.py); None: memory."""
    walker = _Walker(spool)
    stack: list[tuple[Message, int]] = [(root, 0)]
    while stack:
        part, depth = stack.pop()
        children = walker.visit(part, depth)
        stack.extend((child, depth + 1) for child in reversed(children))
    return walker.found


class _Walker:
    def __init__(self, spool: Spool | None) -> None:
        self.found = Collected()
        self._too_deep = False
        self._spool = spool

    def visit(self, part: Message, depth: int) -> list[Message]:
        """Handle one part; return the sub-parts still to visit."""
        info = read_part(part)
        for defect in part.defects:  # what the stdlib parser noticed and worked around
            self.found.defects.append(f"{info.media_type}: {type(defect).__name__}")
        deep = depth > MAX_DEPTH
        if deep and not self._too_deep:
            self._too_deep = True
            self.found.defects.append(
                f"multipart nesting deeper than {MAX_DEPTH}; deeper parts kept as attachments"
            )
        payload = raw_payload(part)
        if isinstance(payload, list):
            if info.media_type == "message/rfc822" or not info.media_type.startswith("multipart/"):
                self._attach_message(info, payload)
                return []
            return payload
        if info.media_type.startswith("multipart/"):
            recovered = self._recover_boundary(part, info)
            if recovered is not None:
                return [recovered]
            info = PartInfo("text/plain", info.charset, "", "", None)
        self._leaf(part, info, deep)
        return []

    def _leaf(self, part: Message, info: PartInfo, deep: bool) -> None:
        tnef = is_tnef(info.media_type, info.filename)
        body = None if tnef else self._body(info, deep)
        if not tnef and body is None and self._spooled(part, info):
            return
        data, problem = payload_bytes(part)
        if problem:
            self.found.defects.append(f"{info.filename or info.media_type}: {problem}")
        if tnef:
            self._tnef(info, data)
        elif body == "text":
            self.found.text = self._decode(data, info, "text body")
        elif body == "html":
            self.found.html = self._decode(data, info, "HTML body")
        else:
            self._attach(info, data)

    def _body(self, info: PartInfo, deep: bool) -> str | None:
        """The body ("text" or "html") this part is, if the mail has none of its kind yet."""
        if deep or info.disposition == "attachment" or info.filename:
            return None
        if info.media_type == "text/plain" and self.found.text is None:
            return "text"
        if info.media_type == "text/html" and self.found.html is None:
            return "html"
        return None

    def _spooled(self, part: Message, info: PartInfo) -> bool:
        """A large base64 attachment decoded into a file (parse/spool.py); False if not."""
        span = getattr(part, SPAN_ATTRIBUTE, None)
        spool = self._spool
        if span is None or spool is None or not wanted(spool, info.media_type, span[2] - span[1]):
            return False
        spooled = spool_base64(spool, *span)
        if spooled is None:
            return False
        index = len(self.found.attachments) + 1
        self.found.attachments.append(
            spooled_attachment(
                info.filename or default_name(info.media_type, index),
                info.media_type,
                spooled,
                inline=info.inline,
                content_id=info.content_id,
            )
        )
        return True

    def _decode(self, data: bytes, info: PartInfo, what: str) -> str:
        text, problem = decode_text(data, info.charset)
        if problem:
            self.found.defects.append(f"{what}: {problem}")
        return text

    def _attach(self, info: PartInfo, data: bytes, name: str = "") -> None:
        index = len(self.found.attachments) + 1
        self.found.attachments.append(
            make_attachment(
                info.filename or name or default_name(info.media_type, index),
                info.media_type,
                data,
                inline=info.inline,
                content_id=info.content_id,
            )
        )

    def _attach_message(self, info: PartInfo, inner: list[Message]) -> None:
        """An attached mail kept whole; other message/* parts (delivery reports) as sent."""
        try:
            data = b"".join(to_bytes(item) for item in inner)
        except RecursionError:  # nested beyond what can be written back
            self.found.defects.append(f"{info.media_type}: too deeply nested to keep")
            data = b""
        name = ""
        if info.media_type == "message/rfc822" and inner:
            subject = decode_header_text(raw_header(inner[0], "Subject") or "")
            name = eml_name(subject, "attached-message.eml")
        self._attach(info, data, name)

    def _tnef(self, info: PartInfo, data: bytes) -> None:
        try:
            content = unpack_tnef(data)
        except TnefError as exc:
            self.found.defects.append(f"{info.filename or 'winmail.dat'}: not unpacked ({exc})")
            self._attach(info, data)
            return
        for file in content.files:
            declared = file.media_type or guess_type(file.filename)
            self.found.attachments.append(
                make_attachment(file.filename, declared, file.data, content_id=file.content_id)
            )
        self.found.defects.extend(content.problems)
        self.found.tnef_text = self.found.tnef_text or content.text
        self.found.tnef_html = self.found.tnef_html or content.html

    def _recover_boundary(self, part: Message, info: PartInfo) -> Message | None:
        """A multipart the parser could not split: find its boundary in the body."""
        body = raw_payload(part)
        if not isinstance(body, str):
            return None
        first = _BOUNDARY_LINE.search(body)
        if first is None or f"--{first.group(1)}" not in body[first.end() :]:
            self.found.defects.append(f"{info.media_type} without a usable boundary; read as text")
            return None
        boundary = first.group(1)
        self.found.defects.append(
            f"{info.media_type}: boundary missing or wrong; used {boundary!r}"
        )
        head = f'Content-Type: {info.media_type}; boundary="{boundary}"\r\n\r\n'
        recovered = _PARSER.parsebytes(head.encode("ascii", "replace") + raw_bytes(body))
        return recovered if recovered.is_multipart() else None
