"""No built-in regular expression of parse/, preprocess/ or classify/ takes superlinear
time: each adversarial mail goes from raw bytes to a plan (fuzz/targets.py: parse,
preprocess with every built-in rule, classify) in about ten times the CPU time at
n = 100,000 characters as at n = 10,000.

The bound is relative, measured in the same test: at most 40 times the time at
n = 10,000 (linear work grows 10 times, quadratic 100), plus half a second for
what does not grow with n. CPU time, not the clock: the machine's load does not
count. A quadratic run is stopped at the bound (ITIMER_PROF) instead of waited for.
fuzz/regex_audit.py found the patterns; the cases below are the shapes that made
them backtrack, in the places where the code reads them.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

import pytest
from fuzz.targets import pipeline

SMALL, FACTOR = 10_000, 10
HEAD = b"From: Alice <alice@example.com>\r\nTo: support@example.com\r\nSubject: Help\r\n"


def _header(name: bytes, value: Callable[[int], bytes]) -> Callable[[int], bytes]:
    def make(n: int) -> bytes:
        head = b"".join(line for line in HEAD.splitlines(True) if not line.startswith(name))
        return head + name + b": " + value(n) + b"\r\n\r\nThe printer jams.\r\n"

    return make


def _body(
    value: Callable[[int], bytes], media_type: bytes = b"text/plain"
) -> Callable[[int], bytes]:
    def make(n: int) -> bytes:
        return HEAD + b"Content-Type: " + media_type + b"\r\n\r\n" + value(n) + b"\r\n"

    return make


CASES: dict[str, Callable[[int], bytes]] = {
    # parse/fields.py _SIMPLE_ADDRESS: a lazy name then white space split a run of spaces
    # every way (a 64 KB To header took 36 s).
    "To: a run of spaces": _header(b"To", lambda n: b"a" + b" " * n + b"x"),
    "From: a run of spaces": _header(b"From", lambda n: b"Alice" + b" " * n + b"<a@b.c"),
    "Cc: tabs and spaces": _header(b"Cc", lambda n: b"x" + b" \t" * (n // 2) + b"y"),
    # parse/fields.py _ADDR_SPEC: the lenient pick of addresses searched a long local part
    # from each of its letters.
    "To: letters, then a broken address": _header(
        b"To", lambda n: b"[" + b"a" * n + b"@ <x@y.example"
    ),
    "To: nested parentheses": _header(
        b"To", lambda n: b"(" * (n // 2) + b")" * (n // 2) + b" a@b.c"
    ),
    "To: open parentheses": _header(b"To", lambda n: b"a@b.c (" + b"(" * n),
    "To: angle brackets": _header(b"To", lambda n: b"<" * n + b"a@b.c"),
    "To: quotes and backslashes": _header(b"To", lambda n: b'"' + b"\\" * n + b" <a@b.c>"),
    "Subject: a long header line": _header(b"Subject", lambda n: b"word " * (n // 5)),
    "Subject: encoded-word starts": _header(b"Subject", lambda n: b"=?" * (n // 2)),
    "References: angle brackets": _header(b"References", lambda n: b"<" * n),
    "Message-ID: a long id": _header(b"Message-ID", lambda n: b"<" + b"a" * n + b"@x"),
    "Content-Type: semicolons": _header(b"Content-Type", lambda n: b"text/plain" + b";" * n),
    "Content-Type: open comments": _header(
        b"Content-Type", lambda n: b"text/plain; charset=utf-8 " + b"(" * n
    ),
    "Content-Type: a long quoted value": _header(
        b"Content-Type", lambda n: b'text/plain; name="' + b"\\a" * (n // 2)
    ),
    "Date: digits": _header(b"Date", lambda n: b"1 Jan " + b"1" * n),
    # parse/html.py _TAG: each "<" of a body without ">" scanned to its end.
    "HTML: tags never closed": _body(lambda n: b"<a " * (n // 3), b"text/html"),
    "HTML: nested elements": _body(lambda n: b"<div>" * (n // 5) + b"x", b"text/html"),
    # preprocess/: the quote, attribution and separator patterns.
    "body: '>' quote marks": _body(lambda n: b">" * n),
    "body: spaced quote marks": _body(lambda n: b"> " * (n // 2) + b"x"),
    "body: quoted lines": _body(lambda n: b"> line\r\n" * (n // 8)),
    "body: a run of spaces": _body(lambda n: b"Hello" + b" " * n + b"x"),
    "body: blank lines with spaces": _body(lambda n: b" \r\n" * (n // 3) + b"x"),
    "body: dashes": _body(lambda n: b"Thanks\r\n" + b"-" * n + b"x"),
    "body: underscores": _body(lambda n: b"Thanks\r\n" + b"_" * n + b"\r\nFrom: x"),
    "body: attribution words": _body(lambda n: b"On Monday Alice wrote " * (n // 22)),
    "body: header-like lines": _body(
        lambda n: b"From: a <b@c.d>\r\nSent: 1.2.2024\r\n" * (n // 32)
    ),
    # preprocess/text.py cut(): separator lines "left dangling" were looked for from
    # every line above the cut.
    "body: separator lines above a cut": _body(
        lambda n: b"Hello\r\n" + b"--\r\n" * (n // 4) + b"x\r\n-----Original Message-----\r\nOld"
    ),
    "body: a long line of '<'": _body(lambda n: b"> <" * (n // 3) + b"a@b.c"),
}


class _OverBound(Exception):
    pass


@contextmanager
def _cpu_limit(seconds: float) -> Iterator[None]:
    armed = True

    def stop(signum: int, frame: FrameType | None) -> None:
        if armed:
            raise _OverBound

    before = signal.signal(signal.SIGPROF, stop)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, before)


def _cpu(raw: bytes) -> float:
    begun = time.process_time()
    pipeline(raw)
    return time.process_time() - begun


@pytest.mark.parametrize("make", CASES.values(), ids=CASES.keys())
def test_ten_times_the_text_takes_about_ten_times_the_time(make: Callable[[int], bytes]) -> None:
    small = min(_cpu(make(SMALL)) for _ in range(3))
    bound = 40 * small + 0.5
    large = make(SMALL * FACTOR)
    try:
        with _cpu_limit(bound):
            took = _cpu(large)
    except _OverBound:
        pytest.fail(
            f"n={SMALL * FACTOR}: over {bound:.2f} CPU s, against {small:.3f} s at n={SMALL}"
        )
    assert took < bound
