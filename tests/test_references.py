from __future__ import annotations

from pathlib import Path

import pytest

from deskmail.classify.references import (
    TicketReference,
    find_reference,
    format_reference,
    strip_reply_prefixes,
)
from deskmail.config import ConfigError, load_config
from deskmail.config.reference_pattern import compile_reference_pattern

TOKEN = "k7q2p9xm"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("RE: [Incident] [IT] 12345 Printer", TicketReference(12345, "IT", "Incident")),
        ("AW: [incident] 42 VPN", TicketReference(42, None, "Incident")),
        ("TR: [Event][Octopus DB] 7", TicketReference(7, "Octopus DB", "Event")),
        ("Re: Printer [#881]", TicketReference(881)),
        ("FW: RE: [Incident] [Service Desk] 9 x", TicketReference(9, "Service Desk", "Incident")),
        # With the token we send.
        (
            f"RE: [Incident] [IT] 12345-{TOKEN} Printer",
            TicketReference(12345, "IT", "Incident", TOKEN),
        ),
        (f"Re: Printer [#881-{TOKEN}]", TicketReference(881, token=TOKEN)),
        # Re-cased by a client, folded between the brackets, spaces doubled.
        (
            f"RE: [INCIDENT]\r\n [SERVICE  DESK] 9-{TOKEN.upper()}",
            TicketReference(9, "SERVICE DESK", "Incident", TOKEN),
        ),
        (f"[ # 881-{TOKEN} ]", TicketReference(881, token=TOKEN)),
        # Something after the number that is not a token leaves the number alone.
        ("[Incident] [IT] 12345-2024 budget", TicketReference(12345, "IT", "Incident")),
        ("[Incident] 12345: printer", TicketReference(12345, None, "Incident")),
        (f"[Incident] 12345-{TOKEN}toolongtoo", TicketReference(12345, None, "Incident")),
    ],
)
def test_references_found(subject: str, expected: TicketReference) -> None:
    assert find_reference(subject) == expected


@pytest.mark.parametrize(
    "subject",
    [
        "Printer 12345 broken",
        "[EXTERNAL] Invoice 2024",
        "[#abc]",
        "Incident 12",
        "[Incident] [IT]",
        "[#12-2024]",
        "[Incident] [IT] 1234567890123",  # more digits than any ticket number
    ],
)
def test_no_reference(subject: str) -> None:
    assert find_reference(subject) is None


def test_format_round_trips_with_the_token() -> None:
    written = format_reference("incident", "Service Desk", 77, TOKEN.upper())
    assert written == f"[Incident] [Service Desk] 77-{TOKEN}"
    assert written.isascii()
    assert find_reference(f"AW: {written} Drucker") == TicketReference(
        77, "Service Desk", "Incident", TOKEN
    )


@pytest.mark.parametrize(
    ("team", "token"),
    [
        ("IT [EU]", TOKEN),
        ("IT\r\nBcc: x", TOKEN),
        (" ", TOKEN),
        ("IT", "short"),
        ("IT", "k7q2-9xm"),
    ],
)
def test_format_refuses_what_would_not_read_back(team: str, token: str) -> None:
    with pytest.raises(ValueError):
        format_reference("incident", team, 1, token)


@pytest.mark.parametrize(
    ("subject", "stripped"),
    [
        ("RE: Printer", "Printer"),
        ("Re: RE: Fwd: FW: Printer", "Printer"),
        ("AW: WG: Drucker", "Drucker"),
        ("TR : RE : Imprimante", "Imprimante"),  # French spacing
        ("RV: Re: Impresora", "Impresora"),
        ("RES: ENC: Impressora", "Impressora"),
        ("R: I: RIF: Stampante", "Stampante"),
        ("Antw: Doorst: Printer", "Printer"),
        ("SV: VS: Skrivare", "Skrivare"),
        ("Odp: PD: Drukarka", "Drukarka"),
        ("YNT: İLT: Yazıcı", "Yazıcı"),
        ("ΑΠ: Εκτυπωτής", "Εκτυπωτής"),
        ("Отв: Пересл: Принтер", "Принтер"),
        ("回复：转发：打印机", "打印机"),
        ("Re[2]: Re(3): Re^4: Printer", "Printer"),
        ("  re:printer", "printer"),
        # Not prefixes: a word that only starts like one, or a prefix later on.
        ("Resume attached", "Resume attached"),
        ("Printer RE: again", "Printer RE: again"),
        ("[Incident] [IT] 5 RE: x", "[Incident] [IT] 5 RE: x"),
        ("", ""),
    ],
)
def test_strip_reply_prefixes(subject: str, stripped: str) -> None:
    assert strip_reply_prefixes(subject) == stripped


@pytest.mark.parametrize("prefix", ["RE", "AW", "SV", "TR", "FW", "FWD", "WG", "RV", "RIF", "ENC"])
def test_reference_found_after_any_prefix(prefix: str) -> None:
    subject = f"{prefix}: {prefix.lower()}: [Incident] [IT] 5-{TOKEN} Printer"
    assert find_reference(subject) == TicketReference(5, "IT", "Incident", TOKEN)
    assert strip_reply_prefixes(subject) == f"[Incident] [IT] 5-{TOKEN} Printer"


# --- a job's own pattern ------------------------------------------------------------------

CUSTOM = r"Case (?P<team>[A-Z]+)-(?P<number>\d+)(?:/(?P<token>\w+))?"


def test_custom_pattern_with_team_and_token() -> None:
    assert find_reference(f"Re: Case HR-88/{TOKEN.upper()} chair", CUSTOM) == TicketReference(
        88, "HR", None, TOKEN
    )
    # Case-insensitive, like the built-in forms.
    assert find_reference("re: case hr-88", CUSTOM) == TicketReference(88, "hr")


def test_built_in_forms_come_before_the_custom_pattern() -> None:
    subject = f"Case HR-88 [Incident] [IT] 5-{TOKEN}"
    assert find_reference(subject, CUSTOM) == TicketReference(5, "IT", "Incident", TOKEN)


def test_custom_number_that_is_not_a_number_is_ignored() -> None:
    assert find_reference("Ticket x12", r"Ticket (?P<number>\w+)") is None
    assert find_reference("Ticket 12", r"Ticket (?P<number>\w+)") == TicketReference(12)


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        (
            r"Case (?P<number>\d+",
            "is not a valid regular expression (RE2 syntax): missing ): Case ",
        ),
        (r"Case (\d+)", "needs a named group 'number'"),
        (r"Case (?P<number>\d+) (?P<tokn>\w+)", "has the named group(s) 'tokn'"),
    ],
)
def test_bad_patterns_are_explained(pattern: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        compile_reference_pattern(pattern)


def test_bad_pattern_is_refused_at_config_load_with_its_key(tmp_path: Path) -> None:
    path = tmp_path / "deskmail.toml"
    path.write_text(
        '[[jobs]]\nname = "Support"\nprotocol = "maildir"\npath = "mail"\n'
        "reference_pattern = 'Case #(\\d+)'\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == 'jobs[0] ("Support").reference_pattern'
    assert caught.value.problem.startswith("needs a named group 'number'")
    assert str(caught.value).startswith(f"{path}: jobs[0]")


def test_good_pattern_loads(tmp_path: Path) -> None:
    path = tmp_path / "deskmail.toml"
    path.write_text(
        f'[[jobs]]\nprotocol = "maildir"\npath = "mail"\nreference_pattern = \'{CUSTOM}\'\n',
        encoding="utf-8",
    )
    assert load_config(path).jobs[0].reference_pattern == CUSTOM
