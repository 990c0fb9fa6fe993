"""References to records of object types in subjects: "[PO-42]", "RE: [ALR-7] disk full".

An object type's prefix (config/object_types.py) names its records to people;
a subject that carries one in square brackets answers that record, as "[#42]"
does. The number alone names the record: numbers come from the team's
counter, whatever the type. A reference without a token lets only the
record's participants post (classify/threading.py), as every bare number.
"""

from __future__ import annotations

import functools
import re

from deskmail.classify.references import MAX_SUBJECT


@functools.lru_cache(maxsize=64)
def _pattern(prefixes: tuple[str, ...]) -> re.Pattern[str]:
    # Prefixes are letters and digits (checked at load): safe in a pattern as written.
    names = "|".join(sorted(prefixes, key=len, reverse=True))
    return re.compile(r"\[\s*(?:" + names + r")-(?P<number>\d{1,12})\s*\]", re.IGNORECASE)


def find_record_reference(subject: str, prefixes: tuple[str, ...]) -> int | None:
    """The number of the first "[PREFIX-N]" in the subject, or None."""
    if not prefixes:
        return None
    found = _pattern(prefixes).search(subject[:MAX_SUBJECT])
    return int(found["number"]) if found else None
