"""How well are quoted replies stripped? deskmail against mail-parser-reply and email-reply-parser.

    .venv/bin/python bench/reply_accuracy.py [--verbose [--half HALF]] [--limit N] [--fixtures FILE]

Every case in bench/reply_fixtures/cases.json is a reply mail, from the test
suite of a reply-parsing library or written for deskmail, with the visible
reply expected (see bench/reply_fixtures/README.md). Each stripper gets the
same text (line ends normalised to LF, as deskmail's parser delivers it). A
case counts as exact when the output equals the expected text after collapsing
whitespace; the softer score is the mean difflib similarity of the two.

The cases are split by a seeded hash of their id into a tuning half, which
rule writers may read, and a held-out half, which they do not: the held-out
score is the one that says how well the rules generalise. --verbose lists the
tuning half's failures; the held-out half's only when asked for by name.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from email_reply_parser import EmailReplyParser as ZapierParser
from mailparser_reply import EmailReplyParser as MailParserReply
from mailparser_reply.constants import MAIL_LANGUAGES

from deskmail.preprocess import enabled_builtin_rules, preprocess

FIXTURES = Path(__file__).parent / "reply_fixtures" / "cases.json"
# The cases deskmail's built-in rules miss today, per half; tests/test_reply_accuracy.py
# holds the rules to it, so that a regression, or an unrecorded gain, shows.
MISSES = FIXTURES.with_name("deskmail_misses.json")

Stripper = Callable[[str], str]
DESKMAIL = "deskmail (all built-in rules)"

# The split is fixed: changing the seed or the rule reshuffles what was held out.
SPLIT_SEED = "deskmail reply split 1"
TUNING = "tuning"
HELD_OUT = "held-out"
HALVES = (TUNING, HELD_OUT)


def half_of(case_id: str) -> str:
    """Which half a case belongs to: the first byte of sha256(seed:id) below 128 is tuning."""
    digest = hashlib.sha256(f"{SPLIT_SEED}:{case_id}".encode()).digest()
    return TUNING if digest[0] < 128 else HELD_OUT


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    source: str
    origin: str
    language: str
    half: str  # TUNING or HELD_OUT, as recorded in the fixtures
    input: str
    expected: str
    # Nothing quoted, forwarded or attached below: every line is the sender's own and stays.
    nothing_quoted: bool = False


@dataclass(frozen=True, slots=True)
class Outcome:
    case: Case
    output: str
    exact: bool
    similarity: float


@dataclass(frozen=True, slots=True)
class Score:
    stripper: str
    cases: int
    exact: int
    similarity: float  # mean over the cases, 0..1

    @property
    def share(self) -> float:
        return self.exact / self.cases if self.cases else 0.0


def load_cases(path: Path = FIXTURES, limit: int | None = None) -> list[Case]:
    data = json.loads(path.read_text(encoding="utf-8"))
    cases = [
        Case(
            id=item["id"],
            source=item["source"],
            origin=item["origin"],
            language=item["language"],
            half=item["half"],
            input=item["input"],
            expected=item["expected"],
            nothing_quoted=item.get("nothing_quoted", False),
        )
        for item in data["cases"]
    ]
    return cases[:limit] if limit is not None else cases


def deskmail_stripper() -> Stripper:
    rules = enabled_builtin_rules()
    return lambda text: preprocess(text, rules).text


def mail_parser_reply_stripper() -> Stripper:
    # Every language it knows: deskmail's rules look for all of theirs at once too.
    parser = MailParserReply(languages=list(MAIL_LANGUAGES))
    return lambda text: str(parser.parse_reply(text) or "")


def email_reply_parser_stripper() -> Stripper:
    return lambda text: str(ZapierParser.parse_reply(text))


def strippers() -> dict[str, Stripper]:
    return {
        DESKMAIL: deskmail_stripper(),
        "mail-parser-reply": mail_parser_reply_stripper(),
        "email-reply-parser": email_reply_parser_stripper(),
    }


def normalise(text: str) -> str:
    return " ".join(text.split())


def run_case(case: Case, strip: Stripper) -> Outcome:
    try:
        output = strip(case.input.replace("\r\n", "\n"))
    except Exception as exc:  # a crash is a miss, not the end of the benchmark
        output = f"<{type(exc).__name__}: {exc}>"
    got, want = normalise(output), normalise(case.expected)
    similarity = difflib.SequenceMatcher(None, got, want, autojunk=False).ratio()
    return Outcome(case, output, got == want, similarity)


def evaluate(cases: Sequence[Case], by_name: dict[str, Stripper]) -> dict[str, list[Outcome]]:
    return {name: [run_case(case, strip) for case in cases] for name, strip in by_name.items()}


def score(name: str, outcomes: Sequence[Outcome]) -> Score:
    n = len(outcomes)
    similarity = sum(o.similarity for o in outcomes) / n if n else 0.0
    return Score(name, n, sum(o.exact for o in outcomes), similarity)


def scores(results: dict[str, list[Outcome]]) -> list[Score]:
    return [score(name, outcomes) for name, outcomes in results.items()]


# --- report -----------------------------------------------------------------------------


def _percent(exact: int, total: int) -> str:
    return f"{exact}/{total} {100 * exact / total:5.1f}%" if total else "-"


def summary_table(all_scores: Sequence[Score]) -> str:
    width = max(len(s.stripper) for s in all_scores)
    lines = [f"{'stripper':<{width}}  {'exact':>14}  mean similarity"]
    for s in all_scores:
        lines.append(f"{s.stripper:<{width}}  {_percent(s.exact, s.cases):>14}  {s.similarity:.3f}")
    return "\n".join(lines)


def breakdown(results: dict[str, list[Outcome]], key: Callable[[Case], str], title: str) -> str:
    names = list(results)
    groups = sorted({key(o.case) for o in next(iter(results.values()))})
    width = max([len(title), *(len(g) for g in groups)])
    columns = [max(len(name), 12) for name in names]
    header = f"{title:<{width}}  cases  " + "  ".join(
        f"{n:>{c}}" for n, c in zip(names, columns, strict=True)
    )
    lines = [header]
    for group in groups:
        cells = []
        for name, column in zip(names, columns, strict=True):
            mine = [o for o in results[name] if key(o.case) == group]
            cells.append(f"{_percent(sum(o.exact for o in mine), len(mine)):>{column}}")
        count = sum(1 for o in results[names[0]] if key(o.case) == group)
        lines.append(f"{group:<{width}}  {count:>5}  " + "  ".join(cells))
    return "\n".join(lines)


def failures(name: str, outcomes: Iterable[Outcome]) -> str:
    lines = [f"--- {name}: failures"]
    for o in outcomes:
        if o.exact:
            continue
        lines.append(
            f"{o.case.id} [{o.case.language}] {o.case.origin}  similarity {o.similarity:.2f}"
        )
        lines.append(f"    expected: {_clip(normalise(o.case.expected))}")
        lines.append(f"    got:      {_clip(normalise(o.output))}")
    return "\n".join(lines)


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def of_half(results: dict[str, list[Outcome]], half: str) -> dict[str, list[Outcome]]:
    return {name: [o for o in found if o.case.half == half] for name, found in results.items()}


def report(
    results: dict[str, list[Outcome]], source: Path, verbose: bool, shown: str = TUNING
) -> str:
    n = len(next(iter(results.values())))
    parts = [f"Reply stripping accuracy on {n} cases ({source})"]
    for half in HALVES:
        mine = of_half(results, half)
        count = len(next(iter(mine.values())))
        parts += [
            f"== {half} half: {count} cases",
            summary_table(scores(mine)),
            breakdown(mine, lambda case: case.source, "by source"),
            breakdown(mine, lambda case: case.language, "by language"),
        ]
    parts += [f"== both halves: {n} cases", summary_table(scores(results))]
    if verbose:
        parts += [f"{shown} half, failures"]
        parts += [failures(name, outcomes) for name, outcomes in of_half(results, shown).items()]
    return "\n\n".join(parts)


def deskmail_misses(results: dict[str, list[Outcome]]) -> dict[str, list[str]]:
    outcomes = results[DESKMAIL]
    return {
        half: [o.case.id for o in outcomes if o.case.half == half and not o.exact]
        for half in HALVES
    }


def record_misses(misses: dict[str, list[str]], path: Path = MISSES) -> None:
    path.write_text(json.dumps(misses, indent=1) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--fixtures", type=Path, default=FIXTURES)
    parser.add_argument("--limit", type=int, default=None, help="only the first N cases")
    parser.add_argument("--verbose", action="store_true", help="list the failures of one half")
    parser.add_argument(
        "--half", choices=HALVES, default=TUNING, help="the half --verbose lists (default: tuning)"
    )
    parser.add_argument(
        "--record-misses", action="store_true", help=f"write deskmail's misses to {MISSES.name}"
    )
    args = parser.parse_args(argv)
    if args.record_misses and (args.limit is not None or args.fixtures != FIXTURES):
        parser.error("--record-misses records the whole of the project's fixtures")
    cases = load_cases(args.fixtures, args.limit)
    if not cases:
        print("no cases", file=sys.stderr)
        return 1
    results = evaluate(cases, strippers())
    print(report(results, args.fixtures, args.verbose, args.half))
    if args.record_misses:
        record_misses(deskmail_misses(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
