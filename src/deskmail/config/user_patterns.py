"""Regular expressions written by users (processing and preprocessing rules), under RE2.

RE2 runs in time linear in the text, so no pattern in a configuration can
make a run hang on a hostile mail, as Python's backtracking `re` can
("(a+)+$" on a long line of a's). The price is the features that need
backtracking: backreferences (\\1) and lookaround ((?=...), (?<!...)) are
refused when the file is loaded, with RE2's reason. Python's named groups
(?P<name>...) work as in `re`.

In the bottom layer: the loader checks patterns here, and classify/rules.py
runs what this module compiled, so both always agree.
"""

from __future__ import annotations

import functools
from typing import Any

import re2

# Large enough for any sensible rule, small enough that a pattern such as
# "x{1000}{1000}" is refused at load instead of eating memory per run.
_MAX_MEMORY = 8 << 20


_BACKTRACKING = "need backtracking, which RE2 refuses so that no rule can hang a run"


class UserPatternError(ValueError):
    """A pattern RE2 refuses; the message says why, in RE2's words."""


@functools.lru_cache(maxsize=1024)
def compile_user_pattern(pattern: str, *, ignore_case: bool = True, multiline: bool = False) -> Any:
    """The pattern compiled, case-insensitively by default (the processing rules'
    documented behaviour); `multiline`: ^ and $ match at every line (preprocessing).

    Returns an re2 pattern object: .search(text[, pos]) gives a match with
    .groupdict(), .start(), .end(); .sub() takes re's replacement templates;
    .groupindex names the groups. Raises UserPatternError in plain words.
    """
    options = re2.Options()
    options.case_sensitive = not ignore_case
    options.log_errors = False  # the loader reports it, with the file and the key
    options.max_mem = _MAX_MEMORY
    # RE2's own multi-line switch comes with POSIX syntax, which refuses \d and lazy
    # repetition; the inline flag keeps Perl's syntax and the group numbers.
    source = "(?m)" + pattern if multiline else pattern
    try:
        return re2.compile(source, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else "refused"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        reason = reason.replace(source, pattern)  # RE2 quotes the whole pattern for some errors
        hint = ""
        if "invalid escape sequence: \\" in reason and reason[-1:].isdigit():
            hint = f" (backreferences {_BACKTRACKING})"
        elif "invalid perl operator: (?" in reason:
            hint = f" (lookahead and lookbehind {_BACKTRACKING})"
        raise UserPatternError(f"{reason}{hint}") from None


def group_names(pattern: str) -> tuple[str, ...]:
    """The named groups of a pattern that compiles, in the order they appear."""
    index: dict[str, int] = dict(compile_user_pattern(pattern).groupindex)
    return tuple(sorted(index, key=index.__getitem__))
