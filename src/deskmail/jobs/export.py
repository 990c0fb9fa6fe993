"""Jobs written as TOML that deskmail reads back (`deskmail config export`).

A secret is never written: where a job holds one (stored encrypted, or written
in clear in its file), the export names an environment variable instead
(password_env, client_secret_env) with a comment above the job saying which to
set. The file then loads as it is, wherever that variable is set; `config
import` of it stores the reference, not a secret. References a job already
uses (password_env, password_file) are exported as they are.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from typing import Any

from deskmail.config.toml_text import toml_table
from deskmail.jobs.catalog import CatalogJob, JobSource, SecretState
from deskmail.jobs.secrets import SecretSlot, table_at


def export_toml(jobs: list[CatalogJob], now: datetime) -> str:
    """The jobs as [[jobs]] tables, each after a comment saying where it came from."""
    lines = [
        f"# deskmail jobs, exported {now:%Y-%m-%d %H:%M} UTC. Secrets are not exported:",
        "# each job says which environment variable to set instead.",
        "# Read back with: deskmail config import FILE (or add the tables to deskmail.toml).",
    ]
    for job in jobs:
        lines += ["", *_job_lines(job)]
    return "\n".join(lines) + "\n"


def secret_variable(job: str, slot: SecretSlot) -> str:
    """DESKMAIL_<JOB>_<SECRET>, e.g. DESKMAIL_SUPPORT_DESK_PASSWORD: a valid variable name."""
    ascii_name = unicodedata.normalize("NFKD", job).encode("ascii", "ignore").decode()
    words = re.sub(r"[^A-Z0-9]+", "_", ascii_name.upper()).strip("_") or "JOB"
    return f"DESKMAIL_{words}_{slot.value.replace('.', '_').upper()}"


def _job_lines(job: CatalogJob) -> list[str]:
    where = "the database" if job.source is JobSource.DATABASE else f"{job.file}"
    if job.settings is None:
        return [f'# job "{job.name}" from {where} is not exported: {job.problem}']
    table: dict[str, Any] = job.settings.model_dump(
        mode="json", exclude_defaults=True, exclude_none=True
    )
    table = {"name": job.name, **table}
    if not job.enabled:
        table["enabled"] = False
    held = [slot for slot, state in job.secrets.items() if state is SecretState.SET]
    references = {slot: secret_variable(job.name, slot) for slot in held}
    comments = [
        f"# {slot.value}: not exported; set {variable} where this file is used"
        for slot, variable in references.items()
    ]
    for slot, variable in references.items():
        inner = table_at(table, slot.table)
        assert isinstance(inner, dict)  # a held secret's table is there
        inner[f"{slot.key}_env"] = variable  # password_env, client_secret_env
    return [f'# job "{job.name}" from {where}', *comments, *toml_table("[[jobs]]", "jobs", table)]
