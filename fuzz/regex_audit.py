"""Finds the built-in regular expressions that take superlinear time on adversarial text.

    python fuzz/regex_audit.py [--small 2000] [--factor 4]

Every compiled pattern held by a module of deskmail.parse, deskmail.preprocess and
deskmail.classify (module attributes, and patterns in their tuples, lists and dicts)
is run over each adversarial text below (a long run of one shape: spaces, '>' quotes,
nested parentheses, a long header line, ...) at n and factor*n characters, with
finditer (a search from every position: the worst way the code may use it). A
pattern whose CPU time grows more than factor**1.5 times is listed with its ratio:
linear time grows about `factor` times, quadratic factor**2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PACKAGES = ("deskmail.parse", "deskmail.preprocess", "deskmail.classify")

# n -> text of about n characters
SHAPES: dict[str, Callable[[int], str]] = {
    "spaces": lambda n: "a" + " " * n + "\x00",
    "tabs and spaces": lambda n: "x:" + " \t" * (n // 2) + "\x00",
    "quote marks": lambda n: ">" * n + "\x00",
    "spaced quote marks": lambda n: "> " * (n // 2) + "\x00",
    "quoted lines": lambda n: "> x\n" * (n // 4),
    "open parentheses": lambda n: "(" * n,
    "nested parentheses": lambda n: "(" * (n // 2) + ")" * (n // 2) + "(",
    "backslashes": lambda n: "(" + "\\" * n,
    "header line": lambda n: "Subject: " + "word " * (n // 5),
    "folded header": lambda n: "Subject: a\n" + " b\n" * (n // 3),
    "letters": lambda n: "a" * n,
    "digits": lambda n: "1" * n,
    "digit groups": lambda n: "1." * (n // 2),
    "dashes": lambda n: "-" * n + "x",
    "dash lines": lambda n: "--\n" * (n // 3) + "x",
    "underscores": lambda n: "_" * n + "x",
    "equals": lambda n: "=" * n,
    "encoded words": lambda n: "=?" * (n // 2),
    "angle brackets": lambda n: "<" * n,
    "at signs": lambda n: "a@" * (n // 2),
    "address-like": lambda n: "a." * (n // 2) + "@",
    "dotted words": lambda n: "a.b" * (n // 3),
    "colons": lambda n: ":" * n,
    "newlines": lambda n: "\n" * n + "x",
    "blank lines with spaces": lambda n: " \n" * (n // 2) + "x",
    "words": lambda n: "On wrote " * (n // 9),
    "asterisks": lambda n: "*" * n + "x",
    "semicolons": lambda n: ";" * n,
    "quotes": lambda n: '"' * n,
    "base64": lambda n: "QUJD" * (n // 4) + "!",
    "html tags": lambda n: "<a " * (n // 3),
    "html open": lambda n: "<p>" * (n // 3),
    "from lines": lambda n: "From: a\n" * (n // 8),
    "sent lines": lambda n: "From: a <b@c.d>\nSent: 1.2.2024 10:00\n" * (n // 40),
}


def patterns() -> Iterator[tuple[str, re.Pattern[str] | re.Pattern[bytes]]]:
    seen: set[int] = set()
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        names = [package_name] + [
            m.name for m in pkgutil.walk_packages(package.__path__, package_name + ".")
        ]
        for name in names:
            module = importlib.import_module(name)
            for attribute, value in vars(module).items():
                for found in _patterns_in(value):
                    if id(found) not in seen:
                        seen.add(id(found))
                        yield f"{name}.{attribute}", found


def _patterns_in(value: object) -> Iterator[re.Pattern[str] | re.Pattern[bytes]]:
    if isinstance(value, re.Pattern):
        yield value
    elif isinstance(value, list | tuple | frozenset | set):
        for item in value:
            if isinstance(item, re.Pattern):
                yield item
    elif isinstance(value, dict):
        for item in value.values():
            if isinstance(item, re.Pattern):
                yield item


class _TooLong(Exception):
    pass


_armed = False


def _stop(signum: int, frame: object) -> None:
    if _armed:  # not once the measurement is over
        raise _TooLong


def cost(pattern: re.Pattern[str] | re.Pattern[bytes], text: str, cap: float) -> float:
    """The least CPU time of three runs; `cap` (wall seconds) if one takes longer."""
    subject: str | bytes = text
    if isinstance(pattern.pattern, bytes):
        subject = text.encode("latin-1", "replace")
    global _armed
    best = float("inf")
    for _ in range(3):
        begun = time.process_time()
        try:
            _armed = True
            signal.setitimer(signal.ITIMER_REAL, cap)  # re checks for signals while it works
            for _match in pattern.finditer(subject):  # type: ignore[arg-type]
                pass
        except _TooLong:
            return cap
        finally:
            _armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
        best = min(best, time.process_time() - begun)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--small", type=int, default=2000)
    ap.add_argument("--factor", type=int, default=4)
    ap.add_argument("--cap", type=float, default=5.0, help="seconds at most per measurement")
    ap.add_argument("--only", help="patterns whose name holds this")
    args = ap.parse_args()
    signal.signal(signal.SIGALRM, _stop)
    limit = args.factor**1.5
    flagged = 0
    for name, pattern in patterns():
        if args.only and args.only not in name:
            continue
        print(f"... {name}", file=sys.stderr, flush=True)
        for shape, make in SHAPES.items():
            small = cost(pattern, make(args.small), args.cap)
            if small < 2e-4:  # under the clock's noise: nothing to compare
                continue
            large = cost(pattern, make(args.small * args.factor), args.cap)
            ratio = large / small
            if ratio > limit:
                flagged += 1
                print(
                    f"{ratio:7.1f}x  {large:8.4f}s  {name}  [{shape}]  {pattern.pattern!r:.120}",
                    flush=True,
                )
    print(f"{flagged} pattern/shape pairs grow faster than linear", file=sys.stderr)


if __name__ == "__main__":
    main()
