"""A job's own form of ticket reference in subjects (`reference_pattern`), checked at load.

classify/references.py searches subjects with it; compiled here, in the
bottom layer, so that loading a configuration needs no stage code.
"""

from __future__ import annotations

import functools
from typing import Any

from deskmail.config.user_patterns import UserPatternError, compile_user_pattern

PATTERN_GROUPS = ("number", "team", "token")  # the named groups a reference_pattern may use


@functools.lru_cache(maxsize=64)
def compile_reference_pattern(pattern: str) -> Any:
    """A job's reference_pattern, compiled case-insensitively (clients re-case subjects),
    under RE2 as every user-written pattern (config/user_patterns.py): a pattern cannot
    make a hostile subject stall a run.

    Raises ValueError in plain words for the config loader.
    """
    try:
        compiled = compile_user_pattern(pattern)
    except UserPatternError as error:
        raise ValueError(f"is not a valid regular expression (RE2 syntax): {error}") from None
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
