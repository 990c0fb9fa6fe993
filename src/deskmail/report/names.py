"""`deskmail check`'s lines about names the store does not know (apply/names.py)."""

from __future__ import annotations

from collections.abc import Sequence

from deskmail.apply.names import unmatched_names
from deskmail.config.models import DeskmailConfig, JobConfig
from deskmail.store.engine import SchemaVersionError
from deskmail.store.readonly import read_only


def unmatched_name_lines(config: DeskmailConfig, jobs: Sequence[JobConfig]) -> list[str]:
    """One "JOB: warning: ..." line per unmatched name. The database is only read: a
    missing one is not created (every name is then unknown, as to a first run)."""
    try:
        with read_only(config) as reading:
            return [
                f"{job.name}: warning: {unmatched}"
                for job in jobs
                for unmatched in unmatched_names(reading.session, job)
            ]
    except SchemaVersionError as exc:
        return [f"warning: names of people, groups and sites not checked: {exc}"]
