"""The typed result of parsing one raw message; the only thing later stages see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Address:
    name: str
    address: str  # as written; compare with .normalized

    @property
    def normalized(self) -> str:
        return self.address.strip().lower()

    def __str__(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


@dataclass(frozen=True, slots=True)
class SpooledFile:
    """An attachment's bytes in a file beside the blob store, not in memory (parse/spool.py)."""

    path: str
    size: int


@dataclass(frozen=True, slots=True)
class ParsedAttachment:
    filename: str  # as sent (decoded); metadata only, never used as a path
    media_type: str
    data: bytes  # b"" when the bytes are spooled
    inline: bool = False
    content_id: str | None = None
    sha256: str = ""  # of the bytes; the blob-store name, filled by the parser
    declared_type: str = ""  # the Content-Type as sent, when media_type was sniffed differently
    spooled: SpooledFile | None = None  # a large attachment's bytes, written while decoded

    @property
    def size(self) -> int:
        return self.spooled.size if self.spooled is not None else len(self.data)


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    message_id: str | None
    subject: str
    sender: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: datetime | None
    in_reply_to: str | None
    references: tuple[str, ...]
    text: str  # the readable body: text/plain, or the HTML part converted to text
    html: str | None  # the HTML part as sent
    attachments: tuple[ParsedAttachment, ...] = ()
    # nh3-sanitised HTML for display; cid: images point at /attachments/<sha256>.
    html_safe: str | None = None
    # Every header as (name, decoded value), in order, for rule conditions.
    headers: tuple[tuple[str, str], ...] = ()
    # Problems the parser worked around (bad charset, broken header, ...), for the log.
    defects: tuple[str, ...] = field(default=())
    # header()'s index, made on its first call: a mail is asked for about eight headers
    # (loop and bounce checks, rules), each by a walk over all of them before.
    _by_name: dict[str, list[str]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def header(self, name: str) -> list[str]:
        """Every value of a header, case-insensitive name."""
        by_name = self._by_name
        if by_name is None:
            by_name = {}
            for key, value in self.headers:
                by_name.setdefault(key.lower(), []).append(value)
            object.__setattr__(self, "_by_name", by_name)  # frozen: set once, as a cache
        return list(by_name.get(name.lower(), ()))
