"""`deskmail jobs list`: every job, where it lives, and whether its secrets are set."""

from __future__ import annotations

from deskmail.jobs.catalog import CatalogJob, JobSource
from deskmail.report.text import cut


def jobs_table(jobs: list[CatalogJob]) -> str:
    if not jobs:
        return "no jobs: add a [[jobs]] table to the file, or `deskmail config import` one"
    rows = [("NAME", "SOURCE", "PROTOCOL", "STATE", "REVISION", "SECRETS")]
    for job in jobs:
        protocol = job.settings.protocol.value if job.settings is not None else "?"
        state = "enabled" if job.enabled else "disabled"
        revision = str(job.revision) if job.source is JobSource.DATABASE else "-"
        secrets = ", ".join(f"{slot.value} {state.value}" for slot, state in job.secrets.items())
        rows.append((cut(job.name, 40), job.source.value, protocol, state, revision, secrets))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    lines = [
        "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=False))
        + f"  {row[-1]}"
        for row in rows
    ]
    lines += [f"{job.name}: cannot be read: {job.problem}" for job in jobs if job.problem]
    return "\n".join(line.rstrip() for line in lines)
