from __future__ import annotations

import pytest

from deskmail.classify.references import TicketReference, find_reference, format_reference


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("RE: [Incident] [IT] 12345 Printer", TicketReference(12345, "IT", "Incident")),
        ("AW: [incident] 42 VPN", TicketReference(42, None, "Incident")),
        ("TR: [Event][Octopus DB] 7", TicketReference(7, "Octopus DB", "Event")),
        ("Re: Printer [#881]", TicketReference(881)),
        ("FW: RE: [Incident] [Service Desk] 9 x", TicketReference(9, "Service Desk", "Incident")),
    ],
)
def test_references_found(subject: str, expected: TicketReference) -> None:
    assert find_reference(subject) == expected


@pytest.mark.parametrize(
    "subject",
    ["Printer 12345 broken", "[EXTERNAL] Invoice 2024", "[#abc]", "Incident 12", "[Incident] [IT]"],
)
def test_no_reference(subject: str) -> None:
    assert find_reference(subject) is None


def test_format_round_trips() -> None:
    assert find_reference("RE: " + format_reference("incident", "IT", 77)) == TicketReference(
        77, "IT", "Incident"
    )
