"""Preprocessing rules (Alloy's Preprocessing Rules tab) as configured.

An ordered list per job. A rule is either a built-in (named by `builtin`,
e.g. "outlook") or user-defined with exactly one of cut_from,
remove_between, replace. The engine lives in preprocess/.

Everything a rule could get wrong is refused here, when the file is loaded,
so that a typo in a regex is reported with its key instead of failing on the
first mail.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from deskmail.config.user_patterns import UserPatternError, compile_user_pattern

_KINDS = ("builtin", "cut_from", "remove_between", "replace")

# The `builtin` values, in the recommended order: named here so that loading a
# configuration needs no preprocessing code (preprocess/builtins/ has one module
# each, and a test keeps the two lists the same).
BUILTIN_KEYS = (
    "outlook",
    "gmail",
    "thunderbird",
    "forwarded",
    "mobile",
    "signature",
    "disclaimer",
    "quoted",
)


def compile_user_regex(source: str) -> Any:
    """Compile a regex from the config under RE2 (config/user_patterns.py: linear time, so
    no rule can hang a run), ^ and $ matching at every line, as people expect of a mail
    body; ValueError (in plain words) if RE2 cannot run it."""
    try:
        return compile_user_pattern(source, ignore_case=False, multiline=True)
    except UserPatternError as exc:
        raise ValueError(f"'{source}' is not a valid regular expression: {exc}") from None


def check_replacement(pattern: Any, template: str) -> None:
    """Refuse a replacement whose backreferences or escapes re.sub would reject.

    re only checks a template when something matches, so it is expanded here
    against an empty stand-in with the same groups.
    """
    names = {index: name for name, index in pattern.groupindex.items()}
    groups = (
        f"(?P<{names[index]}>)" if index in names else "()"
        for index in range(1, pattern.groups + 1)
    )
    stand_in = re.compile("".join(groups)).match("")
    assert stand_in is not None  # empty groups always match the empty text
    try:
        stand_in.expand(template)
    except (re.error, IndexError) as exc:
        problem = _describe(exc) if isinstance(exc, re.error) else str(exc.args[0])
        raise ValueError(
            f"'{template}' is not a valid replacement: {problem}"
            " (\\1 or \\g<name> refer to groups; write a backslash as \\\\)"
        ) from None


def _describe(exc: re.error) -> str:
    return exc.msg if exc.pos is None else f"{exc.msg} at position {exc.pos}"


class PreprocessRuleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str
    enabled: bool = True
    builtin: str | None = None
    cut_from: str | None = None  # regex: drop everything from the first match on
    remove_between: tuple[str, str] | None = None  # regexes: drop each block start..end
    replace: str | None = None  # regex
    replacement: str = Field(default="", alias="with")

    @field_validator("builtin")
    @classmethod
    def _known_builtin(cls, value: str | None) -> str | None:
        if value is not None and value not in BUILTIN_KEYS:
            close = difflib.get_close_matches(value.lower(), BUILTIN_KEYS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            known = ", ".join(BUILTIN_KEYS)
            raise ValueError(f"unknown built-in rule {value!r} (known: {known}){hint}")
        return value

    @field_validator("cut_from", "replace")
    @classmethod
    def _valid_regex(cls, value: str | None) -> str | None:
        if value is not None:
            compile_user_regex(value)
        return value

    @field_validator("remove_between")
    @classmethod
    def _valid_regexes(cls, value: tuple[str, str] | None) -> tuple[str, str] | None:
        if value is not None:
            for which, source in zip(("start", "end"), value, strict=True):
                try:
                    compile_user_regex(source)
                except ValueError as exc:
                    raise ValueError(f"{which}: {exc}") from None
        return value

    @field_validator("replacement")
    @classmethod
    def _valid_replacement(cls, value: str, info: ValidationInfo) -> str:
        source = info.data.get("replace")
        if source is None:
            if "replace" in info.data:  # valid and absent; an invalid one is reported already
                raise ValueError("is only used with replace")
            return value
        check_replacement(compile_user_regex(source), value)
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> PreprocessRuleConfig:
        given = [kind for kind in _KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            found = f" (has {' and '.join(given)})" if given else ""
            raise ValueError(f"needs exactly one of {', '.join(_KINDS)}{found}")
        return self
