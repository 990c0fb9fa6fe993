"""Configuration problems, each pointing at a file, a key and what is wrong."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


def job_label(index: int | None, name: str | None) -> str:
    """'jobs[2] ("Support")': the index finds the job in the file, the name in the logs."""
    label = "jobs" if index is None else f"jobs[{index}]"
    return f'{label} ("{name}")' if name else label


def job_key(index: int | None, name: str | None, setting: str = "") -> str:
    label = job_label(index, name)
    return f"{label}.{setting}" if setting else label


@dataclass(frozen=True, slots=True)
class Issue:
    key: str  # dotted path such as 'jobs[2] ("Support").security'; "" for the whole file
    problem: str
    line: int | None = None
    column: int | None = None

    def describe(self, file: Path | None) -> str:
        where = str(file) if file is not None else ""
        if where and self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        prefix = ": ".join(part for part in (where, self.key) if part)
        return f"{prefix}: {self.problem}" if prefix else self.problem


class ConfigError(Exception):
    """One or more problems in one configuration file; str() gives one line per problem.

    `key`, `problem`, `line` and `column` are those of the first problem; `issues`
    holds them all.
    """

    def __init__(
        self,
        file: Path | None,
        key: str,
        problem: str,
        *,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.file = file
        self.issues: tuple[Issue, ...] = (Issue(key, problem, line, column),)
        super().__init__(str(self))

    @classmethod
    def many(cls, file: Path | None, issues: Sequence[Issue]) -> ConfigError:
        if not issues:
            raise ValueError("a ConfigError needs at least one issue")
        first = issues[0]
        error = cls(file, first.key, first.problem, line=first.line, column=first.column)
        error.issues = tuple(issues)
        error.args = (str(error),)
        return error

    def __reduce__(self) -> tuple[object, ...]:
        # The default would call ConfigError(message) and fail: rebuild from the issues.
        return (ConfigError.many, (self.file, self.issues))

    @property
    def key(self) -> str:
        return self.issues[0].key

    @property
    def problem(self) -> str:
        return self.issues[0].problem

    @property
    def line(self) -> int | None:
        return self.issues[0].line

    @property
    def column(self) -> int | None:
        return self.issues[0].column

    def __str__(self) -> str:
        return "\n".join(issue.describe(self.file) for issue in self.issues)
