"""A change-reading source's place: kept per job and scope, saved only after a whole pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from deskmail.intake.run import run_job
from deskmail.intake.sync_state import StoredSyncState
from deskmail.sources.maildir import MaildirSource
from deskmail.store.engine import Store
from tests.support.jobs import drop_mail, maildir_job


def test_places_are_kept_per_job_and_scope_and_replaced(store: Store) -> None:
    support, billing = StoredSyncState(store, "Support"), StoredSyncState(store, "Billing")
    assert support.load("inbox") is None
    support.save("inbox", "delta-1")
    support.save("archive", "delta-a")
    billing.save("inbox", "other")
    support.save("inbox", "delta-2")
    assert (support.load("inbox"), support.load("archive")) == ("delta-2", "delta-a")
    assert billing.load("inbox") == "other"


def _mailbox(tmp_path: Path, count: int) -> Path:
    mailbox = tmp_path / "mailbox"
    for sub in ("new", "cur", "tmp"):
        (mailbox / sub).mkdir(parents=True)
    for n in range(count):
        drop_mail(mailbox, f"m{n}", "alice@example.com", f"Request {n}")
    return mailbox


@pytest.fixture
def checkpoints(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many messages each checkpoint of a Maildir pass came after (its real one does
    nothing: a Maildir is listed whole at every pass)."""
    seen: list[int] = []
    taken: list[int] = [0]
    fetch = MaildirSource.fetch

    def counting_fetch(source: MaildirSource, keys: list[str]):  # type: ignore[no-untyped-def]
        for fetched in fetch(source, keys):
            taken[0] += 1
            yield fetched

    monkeypatch.setattr(MaildirSource, "fetch", counting_fetch)
    monkeypatch.setattr(MaildirSource, "checkpoint", lambda _source: seen.append(taken[0]))
    return seen


def test_a_whole_pass_ends_with_a_checkpoint(
    store: Store, tmp_path: Path, checkpoints: list[int]
) -> None:
    job = maildir_job(_mailbox(tmp_path, 3), fetch_batch=2)
    assert run_job(store, job).created == 3
    assert checkpoints == [3]  # once, after the last batch's commit
    assert run_job(store, job).fetched == 0
    assert checkpoints == [3, 3]  # an empty pass keeps its place too


def test_a_pass_cut_short_saves_no_place(
    store: Store, tmp_path: Path, checkpoints: list[int]
) -> None:
    job = maildir_job(_mailbox(tmp_path, 3), fetch_batch=1)
    summary = run_job(store, job, should_stop=lambda: True)
    assert summary.created == 1
    assert checkpoints == []
