"""A refused job's problems, each put next to the editor's field it concerns.

The catalog names a key as the configuration file would ('jobs ("Support").port',
'jobs ("Support").rules[0].conditions[1].op'); the field is the dotted key after the
job's label, or the nearest field above it. A processing rule's problem goes where
`inside` puts it (the rule builder's field, labelled with the rule's number and name).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from deskmail.config.errors import ConfigError, job_key

GENERAL = ""  # a problem no field of the form holds: shown above the form


# A key within the job ('rules[0].name') -> (field, label said before the problem), or None.
Inside = Callable[[str], tuple[str, str] | None]


def field_errors(
    error: ConfigError, name: str | None, fields: Iterable[str], inside: Inside | None = None
) -> dict[str, str]:
    """Field -> its problems (joined), for the fields of the form; GENERAL for the rest."""
    known = set(fields)
    found: dict[str, list[str]] = {}
    for issue in error.issues:
        placed = inside(_within(issue.key, name)) if inside is not None else None
        if placed is not None:
            found.setdefault(placed[0], []).append(f"{placed[1]}: {issue.problem}")
            continue
        where = field_of(issue.key, name, known)
        shown = issue.problem if where else f"{issue.key}: {issue.problem}"
        found.setdefault(where, []).append(shown)
    return {where: "; ".join(problems) for where, problems in found.items()}


def _within(key: str, name: str | None) -> str:
    """The key after the job's label ('rules[0].name'), or "" for a key of no job."""
    for prefix in (job_key(None, name) + ".", "jobs."):
        if key.startswith(prefix):
            return key.removeprefix(prefix)
    return ""


def field_of(key: str, name: str | None, known: set[str]) -> str:
    """The form field a catalog key names, or GENERAL."""
    for prefix in (job_key(None, name) + ".", "jobs."):
        if key.startswith(prefix):
            key = key.removeprefix(prefix)
            break
    else:
        return GENERAL
    key = key.split("[", 1)[0]  # rules[0].name -> rules
    while key:
        if key in known:
            return key
        key = key.rpartition(".")[0]
    return GENERAL
