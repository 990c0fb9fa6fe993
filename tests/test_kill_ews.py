"""No loss, no duplicate on an EWS mailbox: `deskmail run-once` SIGKILLed at every step boundary.

The method of test_kill.py, on the EWS fake: a real subprocess with exchangelib,
32 mails in Inbox/Support, SQLite and PostgreSQL. Each scenario kills two runs
at the chosen boundary, then lets a third finish: every mail made exactly one
ticket or activity, on the right ticket; no mail left the folder (to Deleted
Items) without its committed journal row; nothing was hard-deleted; and a run
after that takes in nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from deskmail.config.fate import Fate
from deskmail.intake.faults import CrashPoint
from deskmail.store.engine import Store
from deskmail.store.models import Activity, IntakeRecord, Ticket
from tests.support.corpus import CorpusMail, support_corpus
from tests.support.ews import PASSWORD, EwsFake, ews_fake, ews_job
from tests.support.toml_config import write_config

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("kill")]

N_MAILS = 32
DESKMAIL = [sys.executable, "-m", "deskmail"]


def _run(config: Path, crash_at: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DESKMAIL_EWS_PASSWORD": PASSWORD}
    env.pop("DESKMAIL_CRASH_AT", None)
    if crash_at:
        env["DESKMAIL_CRASH_AT"] = crash_at
    return subprocess.run(
        [*DESKMAIL, "run-once", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[EwsFake]:
    with ews_fake(tmp_path / "ews") as running:
        running.mailbox.add_folder("Inbox/Support")
        yield running


def _prepare(
    fake: EwsFake, tmp_path: Path, database_url: str, after_processing: str
) -> tuple[Path, list[CorpusMail]]:
    corpus = support_corpus(N_MAILS)
    for mail in corpus:
        fake.mailbox.deliver(mail.raw, "Inbox/Support")
    table = ews_job(
        fake,
        name="Kill test",
        folder="Inbox/Support",
        after_processing=after_processing,
        fetch_batch=8,
    )
    return write_config(tmp_path / "deskmail.toml", database_url, [table]), corpus


def _message_id(raw: bytes) -> str:
    from email.parser import BytesHeaderParser

    return str(BytesHeaderParser().parsebytes(raw)["Message-ID"]).strip().strip("<>")


def _committed_message_ids(database_url: str, tmp_path: Path) -> set[str]:
    store = Store(database_url, tmp_path / "blobs")
    try:
        with store.session() as s:
            return {r.message_id or "" for r in s.scalars(select(IntakeRecord))}
    finally:
        store.dispose()


def _verify(database_url: str, tmp_path: Path, corpus: list[CorpusMail]) -> None:
    store = Store(database_url, tmp_path / "blobs")
    try:
        with store.session() as s:
            by_id: dict[str, list[IntakeRecord]] = {}
            for r in s.scalars(select(IntakeRecord)):
                by_id.setdefault(r.message_id or "", []).append(r)
            tickets = {t.id: t for t in s.scalars(select(Ticket))}
            activities = {a.id: a for a in s.scalars(select(Activity))}
            for mail in corpus:
                got = by_id.get(mail.message_id, [])
                assert len(got) == 1, f"{mail.message_id}: {len(got)} intake records"
                record = got[0]
                if mail.kind == "new":
                    assert record.outcome is Fate.CREATED
                    assert record.ticket_id is not None
                    assert tickets[record.ticket_id].number == mail.ticket
                else:
                    assert record.outcome is Fate.UPDATED
                    assert record.activity_id is not None
                    assert activities[record.activity_id].ticket.number == mail.ticket
                assert record.acknowledged_at is not None
            n_new = sum(m.kind == "new" for m in corpus)
            assert sorted(t.number for t in tickets.values()) == list(range(1, n_new + 1))
            assert len(activities) == N_MAILS - n_new
    finally:
        store.dispose()


@pytest.mark.parametrize("after_processing", ["delete", "keep"])
@pytest.mark.parametrize("point", list(CrashPoint))
def test_sigkill_at_step_boundary_on_ews(
    fake: EwsFake, database_url: str, tmp_path: Path, point: CrashPoint, after_processing: str
) -> None:
    config, corpus = _prepare(fake, tmp_path, database_url, after_processing)
    # The place is saved once a pass: killed before it twice, the SyncState never moves.
    hits = (1, 1) if point is CrashPoint.BEFORE_CHECKPOINT else (5, 11)
    for hit in hits:
        killed = _run(config, f"{point.value}:{hit}")
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
        # Whatever left the folder has its committed journal row (DURING_ACK: the
        # server acted and the process died before writing that it did; the row
        # itself was committed before the acknowledgement).
        deleted = {
            _message_id(item.mime)
            for item in fake.mailbox.items.values()
            if item.folder == fake.mailbox.deleted.id
        }
        assert deleted <= _committed_message_ids(database_url, tmp_path)
    final = _run(config, None)
    assert final.returncode == 0, final.stdout + final.stderr
    _verify(database_url, tmp_path, corpus)
    assert fake.mailbox.hard_deletes == []
    left = fake.mailbox.in_folder("Inbox/Support")
    assert len(left) == (0 if after_processing == "delete" else N_MAILS)
    again = _run(config, None)
    assert "fetched 0, created 0, updated 0" in again.stdout, again.stdout + again.stderr
