"""What running the processing rules' patterns under RE2 costs, beside Python's re.

Two measures, printed as a Markdown table:

1. Ordinary mail: the processing rules step (classify/rules.py evaluate, with
   the extraction of named groups) over a seeded corpus (bench/corpus.py),
   once with the patterns compiled by RE2 (what deskmail runs) and once with
   the same patterns compiled by Python's re, best of --rounds.
2. A hostile mail: one search of a rule with a nested repetition, (a+)+$, on a
   line of n a's and a "!", where re backtracks through about 2**n ways and
   RE2 reads the line once.

Run: .venv/bin/python bench/rule_patterns.py [--count 500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import corpus
from deskmail.classify import rules
from deskmail.config.custom_fields import CustomFieldConfig
from deskmail.config.models import JobConfig
from deskmail.config.object_types import Records
from deskmail.config.user_patterns import compile_user_pattern
from deskmail.parse.message import ParsedMessage
from deskmail.parse.parser import parse_message

# A rule set like a busy desk's: monitoring extraction, a few routing rules.
RULES: list[dict[str, Any]] = [
    {
        "name": "Monitoring",
        "conditions": [
            {
                "field": "subject",
                "op": "regex",
                "value": r"(?P<host>[\w.-]+)/\w+ is (?P<severity>[A-Z]+)",
            }
        ],
        "action": "create_event",
    },
    {
        "name": "Host in the body",
        "conditions": [
            {"field": "body", "op": "regex", "value": r"(?m)^Host:\s*(?P<host>[\w.-]+)"}
        ],
    },
    {
        "name": "Invoices",
        "conditions": [
            {"field": "subject", "op": "regex", "value": r"\b(invoice|facture|rechnung)\s*#?\d+"}
        ],
        "set": {"group": "Finance"},
    },
    {
        "name": "Printers",
        "match": "any",
        "conditions": [
            {"field": "subject", "op": "regex", "value": r"print(er|ing)|imprimante|drucker"},
            {"field": "body", "op": "regex", "value": r"paper\s+jam|toner"},
        ],
        "set": {"category": "Printing"},
    },
    {
        "name": "VIP",
        "conditions": [{"field": "from", "op": "regex", "value": r"^(ceo|cfo|board)@"}],
        "set": {"priority": "1 - high"},
    },
    {
        "name": "Ticket number in body",
        "conditions": [
            {"field": "body", "op": "regex", "value": r"(?i)ticket\s+(?:no\.?|#)\s*\d{3,}"}
        ],
        "set": {"category": "Follow-up"},
    },
]


def _job() -> JobConfig:
    job = JobConfig.model_validate(
        {"name": "Bench", "protocol": "maildir", "path": "mail", "rules": RULES}
    )
    job.set_records(
        Records(custom_fields=(CustomFieldConfig(name="host"), CustomFieldConfig(name="severity")))
    )
    return job


def _with_engine(compile_pattern: Callable[[str], Any]) -> None:
    rules.compile_user_pattern = compile_pattern  # type: ignore[assignment]
    rules._compile.cache_clear()


def _python_re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def _mails(count: int) -> list[tuple[ParsedMessage, str]]:
    with tempfile.TemporaryDirectory() as folder:
        corpus.generate(count, 42, folder, "support", "support@helpdesk.example")
        files = sorted(Path(folder).glob("*.eml"))
        parsed = [parse_message(path.read_bytes()) for path in files]
    return [(message, message.text) for message in parsed]


def _rules_time(job: JobConfig, mails: list[tuple[ParsedMessage, str]], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for message, body in mails:
            rules.evaluate(job, message, body, None)
        best = min(best, time.perf_counter() - start)
    return best


def _search_time(search: Callable[[str], object], text: str) -> float:
    start = time.perf_counter()
    search(text)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--hostile-max", type=int, default=24, help="largest n for re")
    args = parser.parse_args()

    mails = _mails(args.count)
    job = _job()
    _with_engine(compile_user_pattern)
    fired_re2 = [rules.evaluate(job, m, b, None).rules_fired for m, b in mails]
    re2_time = _rules_time(job, mails, args.rounds)
    _with_engine(_python_re)
    fired_re = [rules.evaluate(job, m, b, None).rules_fired for m, b in mails]
    re_time = _rules_time(job, mails, args.rounds)
    _with_engine(compile_user_pattern)
    same = sum(a == b for a, b in zip(fired_re2, fired_re, strict=True))
    matched = sum(bool(fired) for fired in fired_re2)

    count = len(mails)
    print(f"## Processing rules, {count} corpus mails, {len(RULES)} rules, best of {args.rounds}\n")
    print("| engine | per mail | whole corpus | ratio |")
    print("|---|---|---|---|")
    for name, took in (("RE2 (deskmail)", re2_time), ("Python re", re_time)):
        per_mail = f"{took / count * 1e6:.1f} µs"
        print(f"| {name} | {per_mail} | {took * 1000:.1f} ms | {took / re_time:.2f} |")
    print(f"\nA rule matched {matched} of {count} mails; the same rules fired for {same}.\n")

    print("## One search of (a+)+$ on n a's and a '!'\n")
    print("| n | Python re | RE2 |")
    print("|---|---|---|")
    hostile = "(a+)+$"
    slow = re.compile(hostile).search
    fast = compile_user_pattern(hostile).search
    for n in range(args.hostile_max - 6, args.hostile_max + 1, 2):
        text = "a" * n + "!"
        backtracking = _search_time(slow, text) * 1000
        print(f"| {n} | {backtracking:.1f} ms | {_search_time(fast, text) * 1000:.3f} ms |")
    linear = _search_time(fast, "a" * 1_000_000 + "!") * 1000
    print(f"| 1,000,000 | (not run: about 2**1000000 steps) | {linear:.1f} ms |")


if __name__ == "__main__":
    main()
