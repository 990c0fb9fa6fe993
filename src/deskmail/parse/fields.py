"""Header values to typed fields: addresses, dates, Message-IDs. Never raising.

Addresses are split on the raw value (email.utils.getaddresses, the compat32
parser, which copes with groups, comments and junk) and each display name is
decoded afterwards: decoding first would let an encoded comma or angle
bracket split or forge an address.
"""

from __future__ import annotations

import email.utils
import re
from datetime import datetime

from deskmail.parse.encoded_words import ENCODED_WORD, decode_header_text
from deskmail.parse.message import Address

MAX_ADDRESS_HEADER = 262_144  # characters of one address header read (~8,000 addresses)
MAX_ADDRESSES = 2_000  # per header
MAX_REFERENCES = 100
MAX_MESSAGE_ID = 998  # the RFC 5322 line limit
# Mail dated outside this window is a client's clock or a forgery; a database
# would also choke on year 1 with a time zone.
EARLIEST_YEAR, LATEST_YEAR = 1970, 2200

_LOCAL_ONLY = re.compile(r"[A-Za-z0-9._+-]+")  # "root" from cron: no domain
_BAD_IN_ADDRESS = re.compile(r"[\s<>()\[\],;:\"\\]")
_MESSAGE_ID = re.compile(r"<([^<>\s]+)>")
_STASHED = re.compile("\ue000(\\d+)\ue001")
# The local part at most 64 characters (RFC 5321's limit): unbounded, findall() went
# over a long run of letters from each of its positions, in quadratic time.
_ADDR_SPEC = re.compile(r"[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# One address in its usual forms, read without the compat32 parser (which goes a
# character at a time in Python: 6% of parsing the benchmark's mail). Anything else
# goes to that parser; what this reads, it reads as the parser does (compared
# in tests/test_parse.py).
_SPEC = r"([A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)"
_LWS = "[ \t\r\n]"  # the parser's white space: not \v, \f or Unicode's
_ATOM_START = r'[^ \t\r\n"<>()\[\]\\,;:@.]'
# The display name takes its trailing white space (stripped after): a lazy name
# followed by {_LWS}* could split a run of spaces in every way, in quadratic time.
_SIMPLE_ADDRESS = re.compile(
    rf'{_LWS}*(?:"([^"\\\r\n]*)"{_LWS}*|({_ATOM_START}[^"<>()\[\]\\,;:@]*))?<{_SPEC}>{_LWS}*'
    rf"|{_LWS}*{_SPEC}{_LWS}*"
)
_WORDS = re.compile(f"{_LWS}+")
# "1 Jan 0000": the stdlib reads years below 100 as 19xx/20xx, even when written with 4 digits.
# At most 9 digits: int() refuses over 4,300 (CPython's limit) and the parser failed.
_YEAR = re.compile(r"\b\d{1,2}\s+[A-Za-z]{3,}\s+(\d{3,9})\b")


def parse_addresses(raw: str) -> tuple[list[Address], str | None]:
    """(addresses, problem) of a From/To/Cc value as parsed (encoded words intact)."""
    problem = None
    if len(raw) > MAX_ADDRESS_HEADER:
        raw = raw[: raw.rfind(",", 0, MAX_ADDRESS_HEADER) + 1 or MAX_ADDRESS_HEADER]
        problem = f"longer than {MAX_ADDRESS_HEADER} characters; the rest ignored"
    # Encoded words are atoms: a ":" or "," inside one must not start a group or a new address.
    words: list[str] = []

    def stash(match: re.Match[str]) -> str:
        words.append(match.group())
        return f"\ue000{len(words) - 1}\ue001"

    def restore(text: str) -> str:
        return _STASHED.sub(lambda m: words[int(m.group(1))], text) if words else text

    simple = _simple_address(raw)
    if simple is not None:
        pairs = [simple]
    else:
        try:
            pairs = email.utils.getaddresses([ENCODED_WORD.sub(stash, raw)])
        except Exception:  # the compat32 parser has raised IndexError on junk
            pairs = []
    found = []
    for name, spec in pairs:
        spec = decode_header_text(restore(spec))
        if _usable(spec):
            found.append(Address(name=decode_header_text(restore(name)), address=spec))
    if not found and "@" in raw:
        # A stray "[" or "<" can make the parser swallow the rest: pick out what looks right.
        found = [Address("", spec) for spec in _ADDR_SPEC.findall(raw)]
        if found:
            problem = problem or "malformed; addresses picked out leniently"
    if len(found) > MAX_ADDRESSES:
        found = found[:MAX_ADDRESSES]
        problem = f"more than {MAX_ADDRESSES} addresses; the rest ignored"
    if not found and raw.strip():
        problem = problem or "no usable address"
    return found, problem


def _simple_address(raw: str) -> tuple[str, str] | None:
    """(name, address) of one address in a usual form, as email.utils.getaddresses
    reads it; None for anything else (encoded words are stashed for that parser)."""
    match = None if "=?" in raw else _SIMPLE_ADDRESS.fullmatch(raw)
    if match is None:
        return None
    quoted, words, spec, bare = match.groups()
    name = quoted if quoted is not None else _WORDS.sub(" ", words or "").strip(" ")
    return name, spec or bare


def _usable(spec: str) -> bool:
    if not spec or _BAD_IN_ADDRESS.search(spec):
        return False
    local, at, domain = spec.rpartition("@")
    if not at:
        return bool(_LOCAL_ONLY.fullmatch(spec))
    return bool(local) and bool(domain)


def parse_date(value: str) -> tuple[datetime | None, str | None]:
    """(date, problem) of a Date value."""
    if not value.strip():
        return None, None
    year = _YEAR.search(value)
    if year and not EARLIEST_YEAR <= int(year.group(1)) <= LATEST_YEAR:
        return None, f"year {year.group(1)} is implausible"
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None, "unreadable"
    if not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        return None, f"year {parsed.year} is implausible"
    return parsed, None


def message_ids(value: str) -> list[str]:
    """Every <id> in a References / In-Reply-To value, without the brackets."""
    ids = [found[:MAX_MESSAGE_ID] for found in _MESSAGE_ID.findall(value)]
    if len(ids) > MAX_REFERENCES:  # keep the thread's root and the most recent ones
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    return ids


def message_id(value: str) -> str | None:
    """The first <id> of a value; a bare token when the brackets are missing."""
    found = _MESSAGE_ID.search(value)
    if found:
        return found.group(1)[:MAX_MESSAGE_ID]
    tokens = value.split()
    bare = tokens[0].strip("<>")[:MAX_MESSAGE_ID] if tokens else ""
    return bare or None
