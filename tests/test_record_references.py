"""References to records of object types in subjects (classify/record_references.py)."""

from __future__ import annotations

import pytest

from deskmail.classify.record_references import find_record_reference

PREFIXES = ("PO", "ALR", "P")


@pytest.mark.parametrize(
    ("subject", "number"),
    [
        ("RE: [PO-42] toner", 42),
        ("AW: [ po-7 ] Bestellung", 7),
        ("[ALR-12] disk full on web01", 12),
        ("Fwd: about [P-3]", 3),
        ("PO-42 without brackets", None),  # a supplier's own number, not ours
        ("[INV-42] not a declared prefix", None),
        ("[PO-42x]", None),
        ("[PO-1234567890123] too long", None),
    ],
)
def test_bracketed_prefix_and_number(subject: str, number: int | None) -> None:
    assert find_record_reference(subject, PREFIXES) == number


def test_no_object_types_no_reference() -> None:
    assert find_record_reference("[PO-42]", ()) is None
