"""web/forms/job_form.py and field_errors.py: a posted form read into a [[jobs]] table,
a job written back into the form, and the catalog's problems put next to their fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskmail.config.errors import ConfigError
from deskmail.config.loader import validate_job
from deskmail.web.forms.field_errors import GENERAL, field_errors
from deskmail.web.forms.job_form import (
    FIELDS,
    FormError,
    custom_row,
    form_from_job,
    form_from_post,
)


def _post(**values: str | list[str]) -> dict[str, list[str]]:
    return {k.replace("__", "."): v if isinstance(v, list) else [v] for k, v in values.items()}


def test_a_posted_form_becomes_a_table_with_only_what_was_filled_in() -> None:
    form = form_from_post(
        _post(
            name="Desk",
            protocol="imap",
            server="mail.example.com",
            port="993",
            user="desk",
            folder="",
            password="typed",
            enabled=["false", "true"],  # the hidden field, then the ticked box
            idle="false",
            oauth2__client_id="abc",  # left out: the OAuth2 box is not ticked
            timeouts__connect="5",
            rules='[[rules]]\nname = "Printers"\naction = "ignore"\n',
        )
    )
    table = form.settings()
    assert table == {
        "name": "Desk",
        "protocol": "imap",
        "server": "mail.example.com",
        "port": "993",
        "user": "desk",
        "password": "typed",
        "enabled": True,
        "idle": False,
        "timeouts": {"connect": "5"},
        "rules": [{"name": "Printers", "action": "ignore"}],
    }
    job = validate_job(table, base=Path("."), smtp=None)
    assert job.port == 993 and job.timeouts.connect == 5.0  # the models coerce the text


def test_a_job_is_written_back_into_the_form_without_its_secrets(tmp_path: Path) -> None:
    job = validate_job(
        {
            "name": "Desk",
            "protocol": "imap",
            "server": "mail.example.com",
            "user": "desk",
            "oauth2": {
                "client_id": "abc",
                "tenant": "contoso",
                "scopes": ["a", "b"],
                "flow": "delegated",
            },
            "rules": [{"name": "Printers", "action": "ignore"}],
        },
        base=tmp_path,
        smtp=None,
    )
    form = form_from_job(job.model_copy(update={"password": None}))
    assert form.value("server") == "mail.example.com" and form.value("oauth2.scopes") == "a b"
    assert "oauth2" in form.tables and form.checked("reject_invalid_certificates")
    assert form.value("password") == ""
    assert '[[rules]]\nname = "Printers"' in form.value("rules")
    # Its built-in preprocessing rules (none written: every one, off) are listed as rows,
    # and such a list is left out of the table again: the job keeps its default.
    assert len(form.preprocessing) == 8 and not any(row.enabled for row in form.preprocessing)
    again = form_from_post(
        {
            **{f"{k}": [v] for k, v in form.values.items()},
            "use_oauth2": ["true"],
            **{
                f"pre.{i}.{part}": [value]
                for i, row in enumerate(form.preprocessing)
                for part, value in (("name", row.name), ("definition", row.definition_json))
            },
        }
    )
    assert "preprocessing" not in again.settings()
    assert again.moved(1, -1).settings()["preprocessing"][0]["name"] == form.preprocessing[1].name


def test_unreadable_rules_and_incomplete_new_rules_are_refused_on_their_field() -> None:
    with pytest.raises(FormError) as caught:
        form_from_post(_post(name="x", rules="[[rules]\n")).settings()
    assert caught.value.field == "rules" and "not TOML" in caught.value.problem
    with pytest.raises(FormError) as caught:
        custom_row(_post(new_rule__name="Footer"))
    assert caught.value.field == "new_rule.pattern"
    row = custom_row(
        _post(
            new_rule__name="Tags",
            new_rule__kind="replace",
            new_rule__pattern=r"\[ext\]",
            new_rule__second="",
        )
    )
    assert row.table() == {"name": "Tags", "enabled": True, "replace": r"\[ext\]", "with": ""}


def test_the_catalogs_problems_land_on_their_fields(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_job(
            {
                "name": "Desk",
                "protocol": "imap",
                "port": 0,
                "oauth2": {"tenant": "x"},
                "rules": [{"name": "r", "action": "explode"}],
                "mystery": 1,
            },
            base=tmp_path,
            smtp=None,
        )
    errors = field_errors(caught.value, "Desk", FIELDS)
    assert set(errors) == {"port", "oauth2.client_id", "rules", GENERAL}
    assert "mystery" in errors[GENERAL]
