"""A message's header block: each value decoded at most once, sizes capped, duplicates told.

A 1 MB header or 10,000 header lines must cost bounded time and memory: a
value is decoded from at most MAX_RAW_CHARS characters and kept to at most
MAX_VALUE_CHARS, and at most MAX_HEADERS headers are listed for rules (the
fields deskmail itself reads are looked up by name whatever their position).
"""

from __future__ import annotations

from email.message import Message

from deskmail.parse.encoded_words import decode_header_text
from deskmail.parse.parts import raw_items

MAX_HEADERS = 500
MAX_VALUE_CHARS = 8_192
MAX_RAW_CHARS = 65_536

# RFC 5322 allows these once; a second one is ignored and reported.
SINGLE = (
    "From", "Sender", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To",
    "Content-Type", "Content-Transfer-Encoding",
)  # fmt: skip


class HeaderBlock:
    def __init__(self, message: Message) -> None:
        self._items = raw_items(message)
        self._positions: dict[str, list[int]] = {}
        for position, (name, _value) in enumerate(self._items):
            self._positions.setdefault(name.lower(), []).append(position)
        self._decoded: dict[int, str] = {}
        self.defects: list[str] = []

    def raw_values(self, name: str) -> list[str]:
        """Every raw value of a header, in order (encoded words intact)."""
        return [self._items[i][1] for i in self._positions.get(name.lower(), ())]

    def first(self, name: str) -> str:
        """The decoded first value; "" when the header is absent."""
        positions = self._positions.get(name.lower())
        return self._decode(positions[0]) if positions else ""

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """(name, decoded value) of the first MAX_HEADERS headers, for rule conditions."""
        if len(self._items) > MAX_HEADERS:
            self.defects.append(f"{len(self._items)} headers; rules see the first {MAX_HEADERS}")
        count = min(len(self._items), MAX_HEADERS)
        return tuple((self._items[i][0], self._decode(i)) for i in range(count))

    def report_duplicates(self) -> None:
        for name in SINGLE:
            count = len(self._positions.get(name.lower(), ()))
            if count > 1:
                self.defects.append(f"{count} {name} headers; the first is used")

    def _decode(self, position: int) -> str:
        decoded = self._decoded.get(position)
        if decoded is None:
            name, raw = self._items[position]
            decoded = decode_header_text(raw[:MAX_RAW_CHARS])
            if len(raw) > MAX_RAW_CHARS or len(decoded) > MAX_VALUE_CHARS:
                self.defects.append(f"{name}: {len(raw)} characters; cut to {MAX_VALUE_CHARS}")
                decoded = decoded[:MAX_VALUE_CHARS]
            self._decoded[position] = decoded
        return decoded
