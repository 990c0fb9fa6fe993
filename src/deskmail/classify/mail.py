"""What the steps of classify/steps.py read: one parsed, preprocessed mail and its job."""

from __future__ import annotations

from dataclasses import dataclass

from deskmail.config.models import JobConfig
from deskmail.parse.message import ParsedMessage


@dataclass(frozen=True, slots=True)
class Mail:
    job: JobConfig
    message: ParsedMessage
    text: str  # the body after preprocessing: what rules and the ticket see
    # The raw bytes' SHA-256; None when there is no journal to ask (`deskmail explain`).
    sha256: str | None = None
