"""How well are bounces, feedback reports and automatic replies kept from opening tickets?

    .venv/bin/python bench/bounce_accuracy.py [--verbose] [--show-held-out]

Every mail of tests/corpus/bounces/ carries a label in labels.toml (bounce,
feedback-report, auto-reply, ordinary) and a half (tuning, held-out; see
split_half; fresh and fresh-2 are sets written after the rules, each measured
once before any change it prompted). deskmail's verdict is the one intake acts
on: a mail that classify/loops.py takes for a bounce (is_bounce) or an automatic reply
(is_out_of_office) opens no ticket. The naive check beside it takes for a
bounce any multipart/report, any mail from a mailer-daemon or postmaster
address, and any `Auto-Submitted: auto-*`. The mails of tests/corpus/malformed/
(but its delivery report) are counted as further ordinary mail.

`--verbose` lists the mails each check gets wrong in the tuning half only:
the rules are written looking at that half, and the held-out half stays a fair
measure (`--show-held-out` lists its misses too, for after the rules are done).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from deskmail.classify.loops import is_bounce, is_out_of_office
from deskmail.parse.message import ParsedMessage
from deskmail.parse.parser import parse_message

CORPUS = Path(__file__).parent.parent / "tests" / "corpus" / "bounces"
MALFORMED = Path(__file__).parent.parent / "tests" / "corpus" / "malformed"
MALFORMED_REPORTS = frozenset({"54-delivery-report.eml"})  # a real DSN among the traps
SPLIT_SALT = "deskmail-bounce-split-1:"
AUTOMATIC = frozenset({"bounce", "feedback-report", "auto-reply"})
REPORTS = frozenset({"bounce", "feedback-report"})
# The order of the table's rows; "fresh" and "fresh-2" were written after the rules.
HALVES = ("tuning", "held-out", "fresh", "fresh-2", "malformed")


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    label: str  # bounce | feedback-report | auto-reply | ordinary
    half: str  # tuning | held-out | fresh, fresh-2 (written after the rules) | malformed
    original_message_id: str | None
    failed_recipients: tuple[str, ...]
    raw: bytes


@dataclass(frozen=True, slots=True)
class Verdict:
    automatic: bool  # opens no ticket
    bounce: bool  # taken for a delivery or feedback report
    original_message_id: str | None = None
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Score:
    checker: str
    half: str
    reports: int  # bounces and feedback reports
    reports_kept: int  # ... that open no ticket
    auto_replies: int
    auto_replies_kept: int
    ordinary: int
    ordinary_taken: int  # ordinary mails taken for a bounce or an automatic reply
    ids_labelled: int
    ids_found: int  # the returned mail's Message-ID, as labelled
    recipients_labelled: int
    recipients_found: int

    @property
    def recall(self) -> float:
        kept = self.reports_kept + self.auto_replies_kept
        return kept / (self.reports + self.auto_replies) if self.reports + self.auto_replies else 1

    @property
    def precision(self) -> float:
        kept = self.reports_kept + self.auto_replies_kept
        return kept / (kept + self.ordinary_taken) if kept + self.ordinary_taken else 1


def split_half(name: str) -> str:
    """The half a corpus file belongs to, fixed by its name alone."""
    digest = hashlib.sha256((SPLIT_SALT + name).encode()).digest()
    return "tuning" if digest[0] % 2 == 0 else "held-out"


def load_cases(corpus: Path = CORPUS, malformed: Path | None = MALFORMED) -> list[Case]:
    labels = tomllib.loads((corpus / "labels.toml").read_text(encoding="utf-8"))["cases"]
    cases = [
        Case(
            name=name,
            label=entry["label"],
            half=entry["half"],
            original_message_id=entry.get("original_message_id"),
            failed_recipients=tuple(entry.get("failed_recipients", ())),
            raw=(corpus / name).read_bytes(),
        )
        for name, entry in sorted(labels.items())
    ]
    if malformed is not None:
        cases += [
            Case(path.name, "ordinary", "malformed", None, (), path.read_bytes())
            for path in sorted(malformed.glob("*.eml"))
            if path.name not in MALFORMED_REPORTS
        ]
    return cases


def deskmail_verdict(message: ParsedMessage) -> Verdict:
    bounce = is_bounce(message)
    if bounce is not None:
        return Verdict(
            automatic=True,
            bounce=True,
            original_message_id=bounce.original_message_id,
            recipients=tuple(r.address for r in bounce.recipients),
        )
    return Verdict(automatic=is_out_of_office(message), bounce=False)


def naive_verdict(message: ParsedMessage) -> Verdict:
    content_type = " ".join(message.header("Content-Type")).lower()
    sender = message.sender.normalized if message.sender else ""
    auto = any(v.strip().lower().startswith("auto-") for v in message.header("Auto-Submitted"))
    taken = (
        content_type.startswith("multipart/report")
        or sender.partition("@")[0] in ("mailer-daemon", "postmaster")
        or auto
    )
    return Verdict(automatic=taken, bounce=taken)


Checker = Callable[[ParsedMessage], Verdict]
CHECKERS: dict[str, Checker] = {"deskmail": deskmail_verdict, "naive": naive_verdict}


def right(case: Case, verdict: Verdict) -> bool:
    if case.label in AUTOMATIC:
        return verdict.automatic
    return not verdict.automatic


def score(checker: str, half: str, results: Iterable[tuple[Case, Verdict]]) -> Score:
    counts = dict.fromkeys(
        (
            "reports",
            "reports_kept",
            "auto_replies",
            "auto_replies_kept",
            "ordinary",
            "ordinary_taken",
            "ids_labelled",
            "ids_found",
            "recipients_labelled",
            "recipients_found",
        ),
        0,
    )
    for case, verdict in results:
        if case.label in REPORTS:
            counts["reports"] += 1
            counts["reports_kept"] += verdict.automatic
        elif case.label == "auto-reply":
            counts["auto_replies"] += 1
            counts["auto_replies_kept"] += verdict.automatic
        else:
            counts["ordinary"] += 1
            counts["ordinary_taken"] += verdict.automatic
        # Only a report is read for the returned mail's Message-ID; an automatic reply's
        # In-Reply-To may be labelled, but nothing looks for it.
        if case.original_message_id and case.label in REPORTS:
            counts["ids_labelled"] += 1
            counts["ids_found"] += verdict.original_message_id == case.original_message_id
        found = {address.lower() for address in verdict.recipients}
        for address in case.failed_recipients:
            counts["recipients_labelled"] += 1
            counts["recipients_found"] += address.lower() in found
    return Score(checker, half, **counts)


def run(cases: Sequence[Case]) -> dict[str, list[tuple[Case, Verdict]]]:
    messages = [(case, parse_message(case.raw)) for case in cases]
    return {
        name: [(case, check(message)) for case, message in messages]
        for name, check in CHECKERS.items()
    }


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.1f}%)" if whole else "-"


def report(results: dict[str, list[tuple[Case, Verdict]]]) -> list[str]:
    lines = [
        "| half | check | bounces and feedback reports opening no ticket"
        " | automatic replies opening no ticket | ordinary mails taken for automatic"
        " | precision | recall | returned Message-ID found | failed recipient named |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for half in HALVES:
        for checker, pairs in results.items():
            s = score(checker, half, [(c, v) for c, v in pairs if c.half == half])
            ids = _share(s.ids_found, s.ids_labelled) if checker == "deskmail" else "-"
            rcpts = (
                _share(s.recipients_found, s.recipients_labelled) if checker == "deskmail" else "-"
            )
            lines.append(
                f"| {half} | {checker} | {_share(s.reports_kept, s.reports)}"
                f" | {_share(s.auto_replies_kept, s.auto_replies)}"
                f" | {_share(s.ordinary_taken, s.ordinary)}"
                f" | {100 * s.precision:.1f}% | {100 * s.recall:.1f}% | {ids} | {rcpts} |"
            )
    return lines


def timing(cases: Sequence[Case], rounds: int = 5) -> str:
    """The cost of is_bounce per mail (parsed beforehand), best of `rounds` per mail."""
    messages = [parse_message(case.raw) for case in cases]
    costs = []
    for message in messages:
        best = float("inf")
        for _ in range(rounds):
            start = time.perf_counter()
            is_bounce(message)
            best = min(best, time.perf_counter() - start)
        costs.append(best * 1e6)
    costs.sort()
    p95 = costs[int(0.95 * (len(costs) - 1))]
    return (
        f"is_bounce: median {statistics.median(costs):.0f} us, p95 {p95:.0f} us,"
        f" max {costs[-1]:.0f} us per mail over {len(costs)} mails (best of {rounds} each)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--verbose", action="store_true", help="list the tuning half's misses")
    parser.add_argument(
        "--show-held-out", action="store_true", help="list the held-out half's misses too"
    )
    parser.add_argument("--timing", action="store_true", help="time is_bounce on every mail")
    args = parser.parse_args(argv)
    cases = load_cases()
    wrong_half = [
        c.name for c in cases if c.half in ("tuning", "held-out") and c.half != split_half(c.name)
    ]
    if wrong_half:
        print(f"labels.toml disagrees with split_half() for {wrong_half}", file=sys.stderr)
        return 1
    results = run(cases)
    print("\n".join(report(results)))
    if args.timing:
        print(timing(cases))
    if args.verbose or args.show_held_out:
        halves = {"tuning", "malformed"} | (
            {"held-out", "fresh", "fresh-2"} if args.show_held_out else set()
        )
        for checker, pairs in results.items():
            for case, verdict in pairs:
                if case.half in halves and not right(case, verdict):
                    print(f"{checker}: {case.half} {case.label} {case.name}")
                elif (
                    checker == "deskmail"
                    and case.half in halves
                    and case.label in REPORTS
                    and case.original_message_id
                    and verdict.original_message_id != case.original_message_id
                ):
                    print(f"{checker}: {case.half} {case.name}: returned Message-ID not found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
