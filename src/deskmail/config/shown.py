"""A job's configuration as it may be shown in an event: in its own file's format,
every secret shown as ***.

A TOML job is written back as its [[jobs]] table; a job read from an Octopus
XML file is that file, as Octopus attaches it ("without passwords").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from deskmail.config.errors import ConfigError
from deskmail.config.models import JobConfig
from deskmail.config.secrets import REDACTED, redact
from deskmail.config.toml_text import toml_table

# An element whose name ends in "password" (<password>, <smtpPassword>), in any case.
_SECRET_ELEMENT = re.compile(r"(<(\w*password)(?:\s[^>]*)?>)(.*?)(</\2\s*>)", re.I | re.S)
# One left open in a broken file: hidden to the end of its line.
_OPEN_SECRET = re.compile(r"(<\w*password(?:\s[^>]*)?>)(?!(?:\*\*\*)?</)([^\r\n]*)", re.I)


@dataclass(frozen=True, slots=True)
class ShownFile:
    name: str
    media_type: str
    data: bytes


def shown_configuration(job: JobConfig) -> ShownFile:
    """The job's settings in the format it was written in, secrets redacted."""
    file = job.origin_file
    if job.from_octopus_xml and file is not None:
        shown = redacted_octopus_file(file)
        if shown is not None:
            return shown
    text = job_as_toml(job)
    return ShownFile(f"{job.name} configuration.toml", "application/toml", text.encode())


def redacted_octopus_file(path: Path) -> ShownFile | None:
    """An Octopus XML file, well-formed or not, its passwords shown as ***; None when it
    cannot be read as text (nothing is attached rather than a password)."""
    from deskmail.config.octopus import read_xml_text  # XML reading: only for XML jobs

    try:
        text = read_xml_text(path)
    except ConfigError:
        return None
    return ShownFile(path.name, "application/xml", redact_octopus_xml(text).encode())


def redact_octopus_xml(text: str) -> str:
    text = _SECRET_ELEMENT.sub(lambda m: f"{m[1]}{REDACTED if m[3].strip() else m[3]}{m[4]}", text)
    return _OPEN_SECRET.sub(lambda m: f"{m[1]}{REDACTED if m[2].strip() else m[2]}", text)


def job_as_toml(job: JobConfig) -> str:
    """The job as a [[jobs]] table of deskmail.toml: every setting, secrets as ***."""
    return "\n".join(toml_table("[[jobs]]", "jobs", redact(job))) + "\n"
