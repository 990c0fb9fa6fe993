"""Values and keys written as TOML text (tomllib reads TOML; the standard library writes none).

Used where deskmail writes a job back as TOML: `config import-octopus`, `config export`
and the configuration attached to an event.
"""

from __future__ import annotations

import json
import re


def toml_value(value: object) -> str:
    """A bool, number, string, list or inline table as TOML; None values in a table are left
    out (TOML has no null)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = [f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(pairs) + " }" if pairs else "{}"
    # A JSON string is a TOML basic string, once DEL (which JSON leaves as is) is escaped.
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_key(key: str) -> str:
    """A bare key where TOML allows one, else a quoted key."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def toml_table(header: str, path: str, values: dict[str, object]) -> list[str]:
    """The lines of a table (`header` such as "[[jobs]]", at dotted `path`): plain values
    first, then its sub-tables and arrays of tables; None values are left out."""
    lines = [header]
    later: list[str] = []
    for key, value in values.items():
        if value is None:
            continue  # TOML has no null: an unset setting is left out
        if isinstance(value, dict):
            later += ["", *toml_table(f"[{path}.{key}]", f"{path}.{key}", value)]
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                later += ["", *toml_table(f"[[{path}.{key}]]", f"{path}.{key}", item)]
        else:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    return lines + later
