"""Custom fields as declared (config/custom_fields.py): the declaration's checks, and each
type's check of a value from a mail, which says why a value does not fit without repeating it."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskmail.config.custom_fields import CustomFieldConfig, FieldType
from deskmail.config.errors import ConfigError
from deskmail.config.loader import load_config

JOB = '[[jobs]]\nname = "Support"\nprotocol = "maildir"\npath = "mail"\n'


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "deskmail.toml"
    path.write_text(text + "\n" + JOB, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: ")  # the file is named
    return [f"{issue.key}: {issue.problem}" for issue in caught.value.issues]


@pytest.mark.parametrize(
    ("value", "stored"),
    [("42", "42"), (" 3.50 ", "3.5"), ("-0", "0"), ("1e3", "1000"), ("-12.25", "-12.25")],
)
def test_a_number_is_stored_as_a_plain_decimal(value: str, stored: str) -> None:
    assert CustomFieldConfig(name="load", type=FieldType.NUMBER).convert(value) == stored


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("abc", "the value is not a number"),
        ("NaN", "the value is not a finite number"),
        ("inf", "the value is not a finite number"),
        ("1_000", "the value is not a number"),
        ("  ", "the value is empty"),
    ],
)
def test_a_value_that_is_no_number_is_refused_without_repeating_it(value: str, why: str) -> None:
    with pytest.raises(ValueError) as caught:
        CustomFieldConfig(name="load", type=FieldType.NUMBER).convert(value)
    assert str(caught.value) == why


def test_dates_are_iso_8601_and_stored_as_the_day() -> None:
    due = CustomFieldConfig(name="due", type=FieldType.DATE)
    assert due.convert("2026-12-07") == "2026-12-07"
    assert due.convert("2026-12-07T23:30:00+01:00") == "2026-12-07"
    with pytest.raises(ValueError, match=r"^the value is not a date in ISO 8601 form"):
        due.convert("07.12.2026")


def test_a_choice_takes_any_case_and_keeps_the_declared_spelling() -> None:
    severity = CustomFieldConfig(name="severity", type="choice", choices=["CRITICAL", "Warning"])
    assert severity.convert("critical") == "CRITICAL"
    assert severity.convert(" WARNING") == "Warning"
    with pytest.raises(ValueError) as caught:
        severity.convert("Disaster")
    assert str(caught.value) == "the value is not one of the choices (CRITICAL, Warning)"


def test_text_is_cut_to_its_width() -> None:
    assert len(CustomFieldConfig(name="note").convert("x" * 5000)) == 2000


def test_declarations_are_checked_with_file_key_and_problem(tmp_path: Path) -> None:
    text = """
[[custom_fields]]
name = "severity"
type = "choice"

[[custom_fields]]
name = "Host Name"

[[custom_fields]]
name = "priority"

[[custom_fields]]
name = "load"
type = "numbr"

[[custom_fields]]
name = "owner"
choices = ["a"]

[[custom_fields]]
name = "state"
type = "choice"
choices = ["Open", "open"]

[[custom_fields]]
name = "amount"
type = "number"
choices = "many"
"""
    assert problems(tmp_path, text) == [
        "custom_fields[0]: choices is required with type = 'choice': the allowed values",
        "custom_fields[1].name: must be a field name of lower-case letters, digits and '_',"
        " starting with a letter, such as 'check_name' (got 'Host Name')",
        "custom_fields[2].name: 'priority' is a built-in field of tickets;"
        " give the custom field another name",
        "custom_fields[3].type: must be one of text, number, date, choice (got 'numbr');"
        " did you mean 'number'?",
        "custom_fields[4]: choices only go with type = 'choice', not type = 'text'",
        "custom_fields[5]: choices lists 'Open', 'open' more than once",
        "custom_fields[6].choices: must be a list (got 'many')",
    ]


def test_a_field_declared_twice_is_refused(tmp_path: Path) -> None:
    text = '[[custom_fields]]\nname = "host"\n[[custom_fields]]\nname = "host"\ntype = "number"\n'
    assert problems(tmp_path, text) == [
        "custom_fields[1].name: custom_fields[0] has the same name; it must be unique"
    ]
