"""The one-line summary per job that run-once prints."""

from __future__ import annotations

from deskmail.config.fate import Fate
from deskmail.intake.process import MessageOutcome
from deskmail.intake.run import RunSummary


def summary_line(summary: RunSummary) -> str:
    counts = (
        f"fetched {summary.fetched}, created {summary.created}, updated {summary.updated}, "
        f"quarantined {summary.quarantined}"
    )
    if summary.duplicates:
        counts += f", duplicates {summary.duplicates}"
    if summary.ignored:
        counts += f", ignored {summary.ignored}"
    if summary.denied:
        counts += f", denied {summary.denied}"
    if summary.sent:
        counts += f", sent {summary.sent}"
    if summary.skipped:
        counts += f", skipped {summary.skipped}"
    status = "ok" if summary.ok else f"FAILED: {summary.failure}"
    return f"{summary.job}: {counts}, {summary.seconds:.2f} s - {status}"


def outcome_line(outcome: MessageOutcome) -> str:
    verb = {
        Fate.CREATED: "created",
        Fate.UPDATED: "updated",
        Fate.DUPLICATE: "duplicate of",
        Fate.QUARANTINED: "QUARANTINED",
        Fate.SKIPPED: "skipped",
        Fate.IGNORED: "ignored",
        Fate.DENIED: "denied (automatic reply due)",
    }[outcome.result]
    target = outcome.ticket or outcome.error
    sender = f" from {outcome.sender}" if outcome.sender else ""
    return f'  {verb} {target}: "{outcome.subject}"{sender}'
