"""The fuzzer's findings (tests/corpus/fuzz/) and its seeds, replayed through its targets.

Each file once made a stage raise; now every one goes from raw bytes to a plan
(fuzz/targets.py: parse, preprocess with every built-in rule, classify) and the
parser's promises hold. The named ones are also checked for what they should give.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz.targets import TARGETS, parser, pipeline

from deskmail.config.fate import Fate
from deskmail.intake.budget import limited

CORPUS = Path(__file__).parent / "corpus"
FOUND = sorted((CORPUS / "fuzz").glob("*.eml"))


def test_every_finding_is_listed_in_the_readme() -> None:
    readme = (CORPUS / "fuzz" / "README.md").read_text(encoding="utf-8")
    assert FOUND and all(f"`{f.name}`" in readme for f in FOUND)


@pytest.mark.parametrize("target", sorted(TARGETS))
@pytest.mark.parametrize("path", FOUND, ids=[f.stem for f in FOUND])
def test_a_finding_goes_through_without_raising(path: Path, target: str) -> None:
    TARGETS[target](path.read_bytes())


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_the_seed_corpus_goes_through_every_target(target: str) -> None:
    for path in sorted(CORPUS.rglob("*.eml")):
        TARGETS[target](path.read_bytes())


def test_a_tnef_count_no_data_could_hold_is_refused_at_once() -> None:
    raw = (CORPUS / "fuzz" / "tnef-property-count-of-2-billion.eml").read_bytes()
    with limited(10):  # it ran for hours: fail, do not hang
        message = parser(raw)
    assert [a.filename for a in message.attachments] == ["winmail.dat"]
    assert any("not unpacked (attribute 0x9003: 2156400385 entries" in d for d in message.defects)


def test_a_tnef_file_name_is_made_safe_like_a_mime_part_name() -> None:
    message = parser((CORPUS / "fuzz" / "tnef-file-name-with-nul.eml").read_bytes())
    assert [a.filename for a in message.attachments] == ["part-1.mstnef", "__8", "winmail.dat"]


def test_a_date_with_thousands_of_digits_is_unreadable_not_a_parser_failure() -> None:
    message = parser((CORPUS / "fuzz" / "date-year-of-5000-digits.eml").read_bytes())
    assert (message.subject, message.date) == ("Help", None)
    assert message.defects == ("Date: unreadable",)


def test_a_bounce_whose_returned_mail_has_8bit_headers_opens_no_ticket() -> None:
    plan = pipeline((CORPUS / "fuzz" / "bounce-returned-message-id-8bit.eml").read_bytes())
    assert plan.fate is not Fate.CREATED
