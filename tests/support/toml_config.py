"""Writing deskmail TOML files from tests (the real loader reads them back)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from deskmail.config.models import JobConfig


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):  # e.g. preprocessing = [{ name = "...", ... }, ...]
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, Mapping):  # an inline table, as an item of a list
        items = [f"{key} = {_value(item)}" for key, item in value.items() if item is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


def _table(header: str, items: Mapping[str, Any]) -> list[str]:
    lines = [header]
    nested = []
    for key, value in items.items():
        if isinstance(value, Mapping):
            nested.append((key, value))
        elif value is not None:
            lines.append(f"{key} = {_value(value)}")
    for key, value in nested:
        lines += _table(f"[{header.strip('[]')}.{key}]", value)
    return lines


def job_table(job: JobConfig, **overrides: Any) -> dict[str, Any]:
    data = job.model_dump(
        mode="json", exclude_none=True, exclude_defaults=True, exclude={"password"}
    )
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def write_config(
    path: Path, database_url: str, jobs: list[dict[str, Any]], attachments_dir: Path | None = None
) -> Path:
    lines = ["[database]", f"url = {_value(database_url)}", ""]
    lines += [
        "[storage]",
        f"attachments_dir = {_value(attachments_dir or path.parent / 'blobs')}",
        "",
    ]
    for job in jobs:
        lines += _table("[[jobs]]", job)
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
