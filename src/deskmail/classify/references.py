"""Ticket references in subjects.

The default is the Octopus form: the communication type in square brackets,
optionally the team (or database) name in square brackets, then the number:
"RE: [Incident] [IT] 12345 Printer jam". "[#12345]" is accepted as well, and
a job may add its own pattern (`reference_pattern`).

Every reference we send carries the ticket's token right after the number:
"[Incident] [IT] 12345-k7q2p9xm". The hyphen is not a word character, so a
subject written by hand ("[Incident] 12345-2024 ...") still gives the number;
the token is lower-case base32 and compared case-insensitively, so a client
that re-cases the subject does not lose it; and nothing between the number
and the token is a space, where a client could fold the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from deskmail.config.reference_pattern import compile_reference_pattern

KINDS = ("Incident", "Event", "Request", "Change", "Problem")

# A subject longer than this is searched only this far: a custom pattern
# with heavy backtracking must not stall a batch on a hostile subject.
MAX_SUBJECT = 2000

_NUMBER = r"(?P<number>\d{1,12})"
_TOKEN = r"(?:-(?P<token>[a-z0-9]{8,16}))?\b"  # ends the number too: "12345x" is none
_OCTOPUS = re.compile(
    r"\[\s*(?P<kind>" + "|".join(KINDS) + r")\s*\]"
    r"\s*(?:\[\s*(?P<team>[^\[\]\r\n]{1,100}?)\s*\]\s*)?"
    r"#?" + _NUMBER + _TOKEN,
    re.IGNORECASE,
)
_HASH = re.compile(r"\[\s*#\s*" + _NUMBER + _TOKEN + r"\s*\]", re.IGNORECASE)

# Reply and forward prefixes as mail clients write them, in many languages:
# English, German (AW, WG), French (TR, REF), Spanish (RV), Portuguese (RES,
# ENC), Italian (R, RIF, I), Dutch (Antw, Doorst), Nordic (SV, VS, VL), Polish
# and Czech (Odp, PD), Turkish (YNT, ILT), Greek, Russian, Chinese, Japanese, Korean.
_PREFIX_WORDS = (
    "re|aw|antw|antwort|antwoord|sv|vs|vl|odp|odg|pd|r|ris|rif|res|resp|ref|réf|ynt"
    "|fw|fwd|wg|tr|rv|enc|i|doorst|vb|fs|ilt|atb|vá|továbbítás|bls"
    "|απ|σχετ|πρθ|отв|ответ|пересл|回复|答复|回覆|转发|轉寄|返信|転送|답장|전달"
)
_PREFIXES = re.compile(
    r"^(?:\s*(?:" + _PREFIX_WORDS + r")\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]\s*)+",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class TicketReference:
    number: int
    team: str | None = None  # None: the job's own team
    kind: str | None = None
    token: str | None = None  # lower-cased; checked against the ticket's token by threading


def find_reference(subject: str, extra_pattern: str | None = None) -> TicketReference | None:
    """The first ticket reference in the subject, or None.

    The built-in forms come first: they are what we send, with the token.
    `extra_pattern` is a job's reference_pattern (validated at config load).
    """
    subject = subject[:MAX_SUBJECT]
    found = _OCTOPUS.search(subject)
    if found:
        return _reference(found, kind=found["kind"].capitalize())
    found = _HASH.search(subject)
    if found:
        return _reference(found)
    if extra_pattern:
        found = compile_reference_pattern(extra_pattern).search(subject)
        if found and re.fullmatch(r"\d{1,12}", found["number"] or ""):
            return _reference(found)
    return None


def _reference(found: re.Match[str], kind: str | None = None) -> TicketReference:
    groups = found.groupdict()
    token = _words(groups.get("token"))
    return TicketReference(
        number=int(groups["number"]),
        team=_words(groups.get("team")),
        kind=kind,
        token=token.lower() if token else None,
    )


def _words(value: str | None) -> str | None:
    # Folding and re-wrapping can change the spaces inside a team name.
    if value is None:
        return None
    return " ".join(value.split()) or None


def format_reference(kind: str, team: str, number: int, token: str) -> str:
    """The reference we write into subjects of mail we send: "[Incident] [IT] 12345-k7q2p9xm".

    Put it at the start of the subject: clients that shorten long subjects
    cut the end.
    """
    if not team.strip() or re.search(r"[\[\]\x00-\x1f\x7f]", team):
        raise ValueError(f"team name {team!r} cannot be written in a subject reference")
    if not re.fullmatch(r"[A-Za-z0-9]{8,16}", token):
        raise ValueError("a ticket token is 8 to 16 letters and digits")
    return f"[{kind.capitalize()}] [{team.strip()}] {number}-{token.lower()}"


def strip_reply_prefixes(subject: str) -> str:
    """The subject without leading "RE:", "AW: FW:", "Re[2]:", "TR :" and the like."""
    return _PREFIXES.sub("", subject, count=1).strip()
