"""The reply-stripping benchmark (bench/reply_accuracy.py) and its labelled cases.

Every case is run through the built-in rules here: the ones recorded as misses in
bench/reply_fixtures/deskmail_misses.json must miss, every other case must come
out exactly as labelled, in the tuning half and in the held-out half alike. A
mail with nothing quoted must come out whole, with no rule firing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from bench import reply_accuracy

from deskmail.preprocess import enabled_builtin_rules, preprocess

CASES = reply_accuracy.load_cases()
MISSES: dict[str, list[str]] = json.loads(reply_accuracy.MISSES.read_text(encoding="utf-8"))
README = Path(__file__).parents[1] / "README.md"
RULES = enabled_builtin_rules()


def _case_ids(cases: list[reply_accuracy.Case]) -> list[str]:
    return [case.id for case in cases]


def test_the_accuracy_script_scores_three_strippers(capsys: pytest.CaptureFixture[str]) -> None:
    cases = reply_accuracy.load_cases(limit=3)
    scores = reply_accuracy.scores(reply_accuracy.evaluate(cases, reply_accuracy.strippers()))
    assert [score.stripper for score in scores] == [
        "deskmail (all built-in rules)",
        "mail-parser-reply",
        "email-reply-parser",
    ]
    for score in scores:
        assert score.cases == 3
        assert 0 <= score.exact <= 3
        assert 0.0 <= score.similarity <= 1.0
    assert reply_accuracy.main(["--limit", "3", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "Reply stripping accuracy on 3 cases" in out
    assert "== tuning half" in out and "== held-out half" in out


def test_misses_are_recorded_only_from_the_whole_set() -> None:
    with pytest.raises(SystemExit):
        reply_accuracy.main(["--limit", "3", "--record-misses"])


def test_every_case_names_its_source_and_licence() -> None:
    data = json.loads(reply_accuracy.FIXTURES.read_text(encoding="utf-8"))
    folder = reply_accuracy.FIXTURES.parent
    assert len(data["cases"]) >= 250
    assert len({case["id"] for case in data["cases"]}) == len(data["cases"])
    for case in data["cases"]:
        source = data["sources"][case["source"]]
        assert case["licence"] == source["licence"]
        assert (folder / source["file"]).is_file()
        assert case["input"] and case["expected"] is not None


def test_each_case_sits_in_the_half_its_seeded_hash_gives() -> None:
    """The split is recorded in the fixtures and cannot drift: moving a case is a failure."""
    assert {case.half for case in CASES} == set(reply_accuracy.HALVES)
    for case in CASES:
        assert case.half == reply_accuracy.half_of(case.id), case.id
    tuning = sum(case.half == reply_accuracy.TUNING for case in CASES)
    assert 0.4 < tuning / len(CASES) < 0.6


def test_the_recorded_misses_are_cases_of_their_half() -> None:
    halves = {case.id: case.half for case in CASES}
    assert set(MISSES) == set(reply_accuracy.HALVES)
    for half, ids in MISSES.items():
        assert all(halves[case_id] == half for case_id in ids), half


@pytest.mark.parametrize("case", CASES, ids=_case_ids(CASES))
def test_each_labelled_case_keeps_its_recorded_result(case: reply_accuracy.Case) -> None:
    outcome = reply_accuracy.run_case(case, reply_accuracy.deskmail_stripper())
    if case.id in MISSES[case.half]:
        assert not outcome.exact, (
            f"{case.id} now comes out as labelled: run bench/reply_accuracy.py --record-misses "
            "and update the figures in README.md"
        )
    else:
        assert outcome.exact, f"{case.id} ({case.half}): {reply_accuracy.normalise(outcome.output)}"


NOTHING_QUOTED = [case for case in CASES if case.nothing_quoted]


def test_mails_with_nothing_quoted_are_in_both_halves() -> None:
    assert len(NOTHING_QUOTED) >= 20
    assert {case.half for case in NOTHING_QUOTED} == set(reply_accuracy.HALVES)
    assert all(case.id not in MISSES[case.half] for case in NOTHING_QUOTED)


@pytest.mark.parametrize("case", NOTHING_QUOTED, ids=_case_ids(NOTHING_QUOTED))
def test_a_mail_with_nothing_quoted_is_kept_whole(case: reply_accuracy.Case) -> None:
    text = case.input.replace("\r\n", "\n")
    result = preprocess(text, RULES)
    assert result.fired == ()
    assert result.text == text


def test_the_readme_states_the_held_out_figure() -> None:
    for half in reply_accuracy.HALVES:
        total = sum(case.half == half for case in CASES)
        exact = total - len(MISSES[half])
        figure = f"{exact}/{total} ({100 * exact / total:.1f}%)"
        section = README.read_text(encoding="utf-8")
        assert re.search(rf"{half} half[^.]*?{re.escape(figure)}", section), (half, figure)
