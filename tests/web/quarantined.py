"""Quarantined messages for the web tests: mail whose apply step fails while a fault is
on (the mail's subject holds BOOM), taken in by a real run of the Maildir job."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select

from deskmail.config.fate import Fate
from deskmail.intake import process
from deskmail.intake.run import run_job
from deskmail.store.models import IntakeRecord
from tests.support.jobs import drop_mail
from tests.web.conftest import LiveWeb


@contextmanager
def apply_fails(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """While open, apply fails for every mail whose subject contains BOOM."""
    real = process.apply_plan

    def explode(session: Any, batch: Any, blobs: Any, context: Any, content: Any, plan: Any) -> Any:
        if "BOOM" in content.message.subject:
            raise RuntimeError("simulated failure in apply")
        return real(session, batch, blobs, context, content, plan)

    with monkeypatch.context() as patch:
        patch.setattr(process, "apply_plan", explode)
        yield


def quarantine(web: LiveWeb, monkeypatch: pytest.MonkeyPatch, *subjects: str) -> list[int]:
    """Deliver one mail per subject and run the job while apply fails: their journal ids."""
    for number, subject in enumerate(subjects):
        drop_mail(web.mailbox, f"q{number}", f"Sender {number} <s{number}@example.com>", subject)
    with apply_fails(monkeypatch):
        summary = run_job(web.store, web.config.jobs[0], config=web.config)
    assert summary.quarantined == len(subjects), summary
    with web.store.session() as session:
        return list(
            session.scalars(
                select(IntakeRecord.id)
                .where(IntakeRecord.outcome == Fate.QUARANTINED)
                .order_by(IntakeRecord.id)
            )
        )
