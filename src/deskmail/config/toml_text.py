"""Values and keys written as TOML text (tomllib reads TOML; the standard library writes none).

Used where deskmail writes a job back as TOML: `config import-octopus` and the
configuration attached to an event.
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
