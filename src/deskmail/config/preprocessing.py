"""Preprocessing rules (Alloy's Preprocessing Rules tab) as configured.

An ordered list per job. A rule is either a built-in (named by `builtin`,
e.g. "outlook") or user-defined with exactly one of cut_from,
remove_between, replace. The engine lives in preprocess/.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PreprocessRuleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str
    enabled: bool = True
    builtin: str | None = None
    cut_from: str | None = None  # regex: drop everything from the first match on
    remove_between: tuple[str, str] | None = None  # regexes: drop each block start..end
    replace: str | None = None  # regex
    replacement: str = Field(default="", alias="with")
