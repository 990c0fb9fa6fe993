"""Checks shared by the configuration models (models.py imports rules.py, so they live here)."""

from __future__ import annotations

import unicodedata

from pydantic import BaseModel, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError


def printable(value: str) -> str:
    """Refuse control characters.

    Names and folders end up in log lines, event subjects and IMAP commands:
    a CR or LF there could forge a line or a command.
    """
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValueError("must not contain control characters (tabs, line breaks, ...)")
    return value


def setting_errors(model: BaseModel, problems: list[tuple[str, str]]) -> ValidationError:
    """(key, problem) pairs as one validation error, so that a file is fixed in one round;
    an empty key is about the whole table. The loader words each as file, key, problem."""
    return ValidationError.from_exception_data(
        type(model).__name__,
        [
            InitErrorDetails(
                type=PydanticCustomError("job_setting", problem),
                loc=(key,) if key else (),
                input=getattr(model, key, None) if key else None,
            )
            for key, problem in problems
        ],
    )
