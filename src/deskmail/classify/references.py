"""Ticket references in subjects.

The default is the Octopus form: the communication type in square brackets,
optionally the team (or database) name in square brackets, then the number:
"RE: [Incident] [IT] 12345 Printer jam". "[#12345]" is accepted as well.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("Incident", "Event", "Request", "Change", "Problem")

_OCTOPUS = re.compile(
    r"\[\s*(?P<kind>" + "|".join(KINDS) + r")\s*\]"
    r"\s*(?:\[\s*(?P<team>[^\[\]\r\n]{1,100}?)\s*\]\s*)?"
    r"#?(?P<number>\d{1,12})\b",
    re.IGNORECASE,
)
_HASH = re.compile(r"\[\s*#(?P<number>\d{1,12})\s*\]")


@dataclass(frozen=True, slots=True)
class TicketReference:
    number: int
    team: str | None = None  # None: the job's own team
    kind: str | None = None


def find_reference(subject: str) -> TicketReference | None:
    """The first ticket reference in the subject, or None."""
    found = _OCTOPUS.search(subject)
    if found:
        return TicketReference(
            number=int(found["number"]),
            team=found["team"],
            kind=found["kind"].capitalize(),
        )
    hashed = _HASH.search(subject)
    if hashed:
        return TicketReference(number=int(hashed["number"]))
    return None


def format_reference(kind: str, team: str, number: int) -> str:
    """The reference we write into subjects of mail we send (Octopus form)."""
    return f"[{kind.capitalize()}] [{team}] {number}"
