"""Threading rules, pure: a fake TicketLookup stands in for the store."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from deskmail.classify.plan import MatchedBy
from deskmail.classify.threading import (
    MAX_REPLY_IDS,
    TicketRef,
    find_thread,
    reply_ids,
    token_matches,
)
from deskmail.parse.message import Address, ParsedMessage

IT_5 = TicketRef(1, "IT", 5, "k7q2p9xm")
IT_6 = TicketRef(2, "IT", 6, "abcdefgh")
HR_5 = TicketRef(3, "HR", 5, "zzzzzzzz")


@dataclass
class FakeLookup:
    message_ids: dict[str, list[TicketRef]] = field(default_factory=dict)
    allowed: set[tuple[int, str]] = field(default_factory=set)  # (ticket id, address)
    tickets: tuple[TicketRef, ...] = (IT_5, IT_6, HR_5)
    asked: list[str] = field(default_factory=list)

    def ticket_for_message_ids(self, message_ids: Sequence[str], team: str) -> TicketRef | None:
        self.asked.append(f"ids {list(message_ids)} {team}")
        for message_id in message_ids:
            found = self.message_ids.get(message_id, [])
            if found:
                return next((t for t in found if t.team == team), found[0])
        return None

    def ticket_by_number(self, team: str, number: int) -> TicketRef | None:
        self.asked.append(f"number {team} {number}")
        return next((t for t in self.tickets if (t.team, t.number) == (team, number)), None)

    def may_post(self, ticket_id: int, address: str) -> bool:
        self.asked.append(f"may_post {ticket_id} {address}")
        return (ticket_id, address) in self.allowed


def mail(
    subject: str = "Printer",
    sender: str | None = "Alice@Example.com",
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
) -> ParsedMessage:
    return ParsedMessage(
        message_id="new@example.com",
        subject=subject,
        sender=Address("Alice", sender) if sender else None,
        to=(),
        cc=(),
        date=None,
        in_reply_to=in_reply_to,
        references=tuple(references),
        text="",
        html=None,
    )


# --- order of precedence -------------------------------------------------------------------


def test_in_reply_to_comes_before_references_and_subject() -> None:
    lookup = FakeLookup(message_ids={"a@x": [IT_5], "b@x": [IT_6]})
    message = mail("RE: [Incident] [HR] 5", in_reply_to="<a@x>", references=["b@x"])
    match = find_thread(message, lookup, "IT")
    assert match is not None
    assert (match.ticket_id, match.matched_by) == (IT_5.id, MatchedBy.MESSAGE_ID)
    assert lookup.asked[0] == "ids ['a@x', 'b@x'] IT"


def test_references_newest_first() -> None:
    lookup = FakeLookup(message_ids={"old@x": [IT_5], "new@x": [IT_6]})
    match = find_thread(mail(references=["old@x", "middle@x", "new@x"]), lookup, "IT")
    assert match is not None
    assert match.ticket_id == IT_6.id


def test_a_message_id_on_tickets_of_two_teams_prefers_the_jobs_team() -> None:
    lookup = FakeLookup(message_ids={"a@x": [IT_5, HR_5]})
    for team, expected in (("IT", IT_5), ("HR", HR_5)):
        match = find_thread(mail(in_reply_to="a@x"), lookup, team)
        assert match is not None
        assert (match.team, match.number) == (expected.team, expected.number)


def test_unknown_ids_fall_through_to_the_subject() -> None:
    lookup = FakeLookup()
    match = find_thread(mail("RE: [Incident] [IT] 6", in_reply_to="x@y"), lookup, "IT")
    assert match is not None
    assert (match.ticket_id, match.matched_by) == (IT_6.id, MatchedBy.SUBJECT)
    assert match.label == "IT-6"


def test_subject_without_team_uses_the_jobs_team() -> None:
    match = find_thread(mail("Re: [#5]"), FakeLookup(), "HR")
    assert match is not None
    assert match.ticket_id == HR_5.id


def test_subject_team_is_looked_up_in_that_team() -> None:
    match = find_thread(mail("Re: [Incident] [HR] 5"), FakeLookup(), "IT")
    assert match is not None
    assert match.ticket_id == HR_5.id


def test_custom_pattern_is_used() -> None:
    match = find_thread(mail("Re: Case 6"), FakeLookup(), "IT", r"Case (?P<number>\d+)")
    assert match is not None
    assert match.ticket_id == IT_6.id


@pytest.mark.parametrize("subject", ["Printer", "RE: [Incident] [IT] 99", "[Incident] [Nope] 5"])
def test_nothing_found(subject: str) -> None:
    assert find_thread(mail(subject, in_reply_to="unknown@x"), FakeLookup(), "IT") is None


def test_no_headers_no_id_lookup() -> None:
    lookup = FakeLookup()
    find_thread(mail("Printer"), lookup, "IT")
    assert lookup.asked == []


# --- who may post --------------------------------------------------------------------------


def test_stranger_without_token_may_not_post() -> None:
    match = find_thread(mail("RE: [Incident] [IT] 5 hello"), FakeLookup(), "IT")
    assert match is not None
    assert (match.token_ok, match.sender_allowed, match.may_post) == (False, False, False)


def test_stranger_with_the_right_token_may_post() -> None:
    match = find_thread(mail("RE: [Incident] [IT] 5-K7Q2P9XM hello"), FakeLookup(), "IT")
    assert match is not None
    assert (match.token_ok, match.sender_allowed, match.may_post) == (True, False, True)


def test_wrong_token_is_no_error_and_no_permission() -> None:
    # IT-6's token on IT-5: a token only opens its own ticket.
    match = find_thread(mail("RE: [Incident] [IT] 5-abcdefgh"), FakeLookup(), "IT")
    assert match is not None
    assert (match.ticket_id, match.token_ok, match.may_post) == (IT_5.id, False, False)


def test_participant_or_agent_may_post_and_the_address_is_lower_cased() -> None:
    lookup = FakeLookup(allowed={(IT_5.id, "alice@example.com")})
    match = find_thread(mail("RE: [Incident] [IT] 5"), lookup, "IT")
    assert match is not None
    assert (match.token_ok, match.sender_allowed, match.may_post) == (False, True, True)
    assert lookup.asked[-1] == f"may_post {IT_5.id} alice@example.com"


def test_message_id_match_alone_does_not_let_a_stranger_post() -> None:
    # Incoming Message-IDs are seen by everyone on the thread: not a secret.
    lookup = FakeLookup(message_ids={"ours@desk": [IT_5]})
    match = find_thread(mail(in_reply_to="<ours@desk>"), lookup, "IT")
    assert match is not None
    assert (match.sender_allowed, match.token_ok, match.may_post) == (False, False, False)


def test_message_id_match_also_reports_the_subject_token() -> None:
    lookup = FakeLookup(message_ids={"ours@desk": [IT_5]})
    match = find_thread(mail("RE: [#5-k7q2p9xm]", in_reply_to="ours@desk"), lookup, "IT")
    assert match is not None
    assert (match.matched_by, match.token_ok) == (MatchedBy.MESSAGE_ID, True)


def test_no_sender_is_not_allowed_and_not_looked_up() -> None:
    lookup = FakeLookup(allowed={(IT_5.id, "")})
    match = find_thread(mail("RE: [#5]", sender=None), lookup, "IT")
    assert match is not None
    assert match.sender_allowed is False
    assert not any(call.startswith("may_post") for call in lookup.asked)


@pytest.mark.parametrize(
    ("given", "expected", "ok"),
    [
        ("k7q2p9xm", "k7q2p9xm", True),
        ("K7Q2P9XM", "k7q2p9xm", True),
        ("k7q2p9xa", "k7q2p9xm", False),
        ("k7q2p9x", "k7q2p9xm", False),
        (None, "k7q2p9xm", False),
        ("", "", False),
        ("ünïcode", "k7q2p9xm", False),
    ],
)
def test_token_matches(given: str | None, expected: str, ok: bool) -> None:
    assert token_matches(given, expected) is ok


# --- candidate ids -------------------------------------------------------------------------


def test_reply_ids_are_normalised_deduplicated_and_capped() -> None:
    references = [f"r{n}@x" for n in range(200)]
    ids = reply_ids(mail(in_reply_to=" <r199@x> ", references=["<>", "x" * 1001, *references]))
    assert ids[:3] == ["r199@x", "r198@x", "r197@x"]
    assert len(ids) == MAX_REPLY_IDS
    assert reply_ids(mail()) == []


def test_threading_module_stays_free_of_the_database() -> None:
    code = "import sys, deskmail.classify.threading; print('sqlalchemy' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"
