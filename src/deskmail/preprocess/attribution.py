"""Attribution lines: the line a client writes above the quoted mail.

Three shapes, in every language of languages.py:

- opened by a word:  "On Tue, 2 Jan 2024 at 10:00, Ann <ann@x.org> wrote:",
  "Am 13.12.2017 21:11 schrieb Ann:", possibly wrapped over two or three lines;
- ended by a verb:   "Ann <ann@x.org> schrieb:", "---- Ann wrote ----" (Android);
- date and address:  "2014-03-20 8:48 GMT+01:00 Ann <ann@x.org>:" (Gmail, any language);
- address, then the verb and the date: "Ann <ann@x.org> schrieb am Fr., 28.
  Apr. 2017 um 11:53 Uhr:" (Gmail on Android, Google Inbox), possibly wrapped.

A regex finds candidates cheaply; a plausibility check then asks for what a
real attribution carries (a date, an address), so that a sentence such as
"On Monday the printer wrote:" is left alone. mail-parser-reply's own patterns
add the languages written in other scripts (languages.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from deskmail.preprocess.languages import every, mailparser_reply_attributions
from deskmail.preprocess.text import FLAGS, QUOTE_PREFIX, alternatives, first_match, line_start

_LEADS = alternatives(every("leads"))
_VERBS = alternatives(every("verbs"))
_NAME_VERBS = alternatives(every("name_verbs"))
# A colon (French puts a space before it; CJK clients write a full-width one), or dashes.
_END = r"(?P<end>[ \t\u00a0]?[:：]|[ \t]*-{2,})?[ \t]*$"
_NEXT_LINE = rf"\n(?![ \t>]*$){QUOTE_PREFIX}"  # a continuation line, never a blank one
_DASHES = r"(?:-{2,}[ \t]*)?"
_SOME = r"[^\n]{0,300}?"  # attribution lines are short; the bound keeps long lines cheap
# One "@" and bounded parts: "<a@a@a@...>" would otherwise be tried at every "@".
_MAILBOX = r"[^<>\s@]{1,64}@[^<>\s@]{1,255}"

LEAD = re.compile(
    rf"^{QUOTE_PREFIX}{_DASHES}{_LEADS}[ \t,]"
    rf"{_SOME}(?:{_NEXT_LINE}{_SOME}){{0,2}}?"
    rf"(?:\b{_VERBS}|\b{_NAME_VERBS}\b[^\n:]{{1,80}}){_END}",
    FLAGS,
)
VERB = re.compile(
    rf"^{QUOTE_PREFIX}{_DASHES}(?:{_SOME}\n(?={QUOTE_PREFIX}<))?{_SOME}\b{_VERBS}{_END}",
    FLAGS,
)
ADDRESS = re.compile(
    rf"^{QUOTE_PREFIX}[^\n]*<(?:\n{QUOTE_PREFIX})?{_MAILBOX}>[^\n<>@:]{{0,20}}[:：][ \t]*$",
    FLAGS,
)

ADDRESS_THEN_VERB = re.compile(
    rf"^{QUOTE_PREFIX}[^\n<>@]{{0,100}}<{_MAILBOX}>[ \t]*{_NAME_VERBS}\b"
    rf"{_SOME}(?:{_NEXT_LINE}{_SOME})?[:：][ \t]*$",
    FLAGS,
)


_DATE_FIRST = re.compile(r"\d{1,4}[./\-年년]")  # "2024-01-02", "2.1.2024", "2024年", "2024년"


def _has_date(text: str) -> bool:
    return any(char.isdigit() for char in text)


def _ends_well(match: re.Match[str]) -> bool:
    """A colon or dashes, or else an address: "... John <john@doe.com> wrote"."""
    return bool(match.group("end")) or "@" in match.group(0)


def _plausible_lead(match: re.Match[str]) -> bool:
    return _has_date(match.group(0)) and _ends_well(match)


def _plausible_verb(match: re.Match[str]) -> bool:
    """An address, Android's dashes, or a date first ("2024年1月2日 10:00，Ann 写道：")."""
    header = match.group(0).lstrip(" \t>")
    end = match.group("end") or ""
    dashed = header.startswith("--") and end.endswith("-")
    dated = _DATE_FIRST.match(header) is not None and end.strip().endswith((":", "："))
    return "@" in header or dashed or dated


Plausible = Callable[[re.Match[str]], bool]
Shape = tuple[re.Pattern[str], Plausible | None]

_LEAD_SHAPE: Shape = (LEAD, _plausible_lead)
_SHAPES: tuple[Shape, ...] = (
    _LEAD_SHAPE,
    (VERB, _plausible_verb),
    (ADDRESS, lambda match: _has_date(match.group(0))),
    (ADDRESS_THEN_VERB, lambda match: _has_date(match.group(0))),
    *((pattern, None) for pattern in mailparser_reply_attributions()),
)


def first_attribution(text: str, *, lead_only: bool = False) -> int | None:
    """Where the line of the first attribution starts, or None.

    lead_only: only the "On <date>, <name> wrote:" shape (what Thunderbird writes).
    """
    starts = []
    for pattern, plausible in (_LEAD_SHAPE,) if lead_only else _SHAPES:
        match = first_match(pattern, text, plausible)
        if match is not None:
            # mail-parser-reply's patterns may begin on the newline before the line.
            starts.append(line_start(text, match.start() + (text[match.start()] == "\n")))
    return min(starts, default=None)
