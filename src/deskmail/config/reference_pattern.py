"""A job's own form of ticket reference in subjects (`reference_pattern`), checked at load.

classify/references.py searches subjects with it; compiled here, in the
bottom layer, so that loading a configuration needs no stage code.
"""

from __future__ import annotations

import functools
import re

PATTERN_GROUPS = ("number", "team", "token")  # the named groups a reference_pattern may use


@functools.lru_cache(maxsize=64)
def compile_reference_pattern(pattern: str) -> re.Pattern[str]:
    """A job's reference_pattern, compiled case-insensitively (clients re-case subjects).

    Raises ValueError in plain words for the config loader.
    """
    try:
        compiled = re.compile(pattern, re.IGNORECASE)
    except re.error as error:
        where = f" at position {error.pos}" if error.pos is not None else ""
        raise ValueError(f"is not a valid regular expression: {error.msg}{where}") from None
    if "number" not in compiled.groupindex:
        raise ValueError(
            "needs a named group 'number' for the ticket number,"
            r" for example 'Ticket#(?P<number>\d+)'"
        )
    unknown = sorted(set(compiled.groupindex) - set(PATTERN_GROUPS))
    if unknown:
        raise ValueError(
            f"has the named group(s) {', '.join(repr(name) for name in unknown)};"
            " only 'number', 'team' and 'token' are used"
        )
    return compiled
