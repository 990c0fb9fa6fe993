"""No loss, no duplicate: `deskmail run-once` SIGKILLed at every step boundary.

A real subprocess against a real Dovecot mailbox of 32 mails, on SQLite and
PostgreSQL, over IMAP and POP3, and against the Graph fake. Each scenario
kills two runs at the chosen boundary, then lets a third finish, and checks
that every mail produced exactly one ticket or activity, on the right ticket,
and that no mail left the mailbox without one.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from deskmail.config.fate import Fate
from deskmail.intake.faults import CrashPoint
from deskmail.store.engine import Store
from deskmail.store.models import Activity, IntakeRecord, Ticket
from tests.support.corpus import CorpusMail, support_corpus
from tests.support.dovecot import Dovecot
from tests.support.graph import CLIENT_SECRET, Microsoft365, graph_job_settings
from tests.support.toml_config import job_table, write_config

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("kill")]

N_MAILS = 32
# Reached per message or batch; BEFORE_CHECKPOINT once a pass (tested on Graph).
MESSAGE_POINTS = [point for point in CrashPoint if point is not CrashPoint.BEFORE_CHECKPOINT]
DESKMAIL = [sys.executable, "-m", "deskmail"]


def _run(
    config: Path, crash_at: str | None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DESKMAIL_TEST_PASSWORD": Dovecot.password,
        "DESKMAIL_TEST_CLIENT_SECRET": CLIENT_SECRET,
    }
    env.pop("DESKMAIL_CRASH_AT", None)
    if crash_at:
        env["DESKMAIL_CRASH_AT"] = crash_at
    return subprocess.run(
        [*DESKMAIL, "run-once", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _prepare(
    dovecot: Dovecot, tmp_path: Path, database_url: str, protocol: str
) -> tuple[str, Path, list[CorpusMail]]:
    user = dovecot.user("kill")
    corpus = support_corpus(N_MAILS)
    for mail in corpus:
        dovecot.append(user, mail.raw)
    job = dovecot.job(user, protocol, "ssl")
    table = job_table(
        job,
        name="Kill test",
        after_processing="delete",
        password_env="DESKMAIL_TEST_PASSWORD",
        fetch_batch=8,
    )
    config = write_config(tmp_path / "deskmail.toml", database_url, [table])
    return user, config, corpus


def _verify(
    dovecot: Dovecot, user: str, database_url: str, tmp_path: Path, corpus: list[CorpusMail]
) -> None:
    _verify_records(database_url, tmp_path, corpus)
    assert dovecot.count(user) == 0, "every mail was processed, so every mail was deleted"


def _verify_records(database_url: str, tmp_path: Path, corpus: list[CorpusMail]) -> None:
    """One intake record per mail, each on the right ticket, all acknowledged."""
    store = Store(database_url, tmp_path / "blobs")
    try:
        with store.session() as s:
            records = list(s.scalars(select(IntakeRecord)))
            by_id: dict[str, list[IntakeRecord]] = {}
            for r in records:
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
            n_new = sum(m.kind == "new" for m in corpus)
            assert sorted(t.number for t in tickets.values()) == list(range(1, n_new + 1))
            assert len(activities) == N_MAILS - n_new
            assert all(r.acknowledged_at is not None for r in records)
    finally:
        store.dispose()


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
@pytest.mark.parametrize("point", MESSAGE_POINTS)
def test_sigkill_at_step_boundary(
    dovecot: Dovecot, database_url: str, tmp_path: Path, protocol: str, point: CrashPoint
) -> None:
    user, config, corpus = _prepare(dovecot, tmp_path, database_url, protocol)
    for hit in (5, 11):
        killed = _run(config, f"{point.value}:{hit}")
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
        # Nothing lost so far: whatever left the mailbox has its journal row.
        assert dovecot.count(user) >= 0
    final = _run(config, None)
    assert final.returncode == 0, final.stdout + final.stderr
    _verify(dovecot, user, database_url, tmp_path, corpus)
    again = _run(config, None)
    assert "fetched 0, created 0, updated 0" in again.stdout


def test_sigkill_at_random_instants(dovecot: Dovecot, database_url: str, tmp_path: Path) -> None:
    """Kills from outside at random moments, not only at the named boundaries."""
    user, config, corpus = _prepare(dovecot, tmp_path, database_url, "imap")
    rng = random.Random(20261124)
    env = {**os.environ, "DESKMAIL_TEST_PASSWORD": Dovecot.password}
    kills = 0
    for _ in range(12):
        proc = subprocess.Popen(
            [*DESKMAIL, "run-once", "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 1.2))
        if proc.poll() is None:
            proc.kill()
            kills += 1
        proc.wait(timeout=60)
    assert kills >= 1
    final = _run(config, None)
    assert final.returncode == 0, final.stdout + final.stderr
    _verify(dovecot, user, database_url, tmp_path, corpus)


@pytest.mark.parametrize("protocol", ["imap", "pop3"])
def test_two_instances_on_one_mailbox_make_no_duplicate(
    dovecot: Dovecot, database_url: str, tmp_path: Path, protocol: str
) -> None:
    """Two hosts starting the same job at once: the job lock lets one work it (the other
    says so), and the journal's unique key would catch any overlap."""
    user, config, corpus = _prepare(dovecot, tmp_path, database_url, protocol)
    env = {**os.environ, "DESKMAIL_TEST_PASSWORD": Dovecot.password}
    procs = [
        subprocess.Popen(
            [*DESKMAIL, "run-once", "--config", str(config)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    final = _run(config, None)
    assert final.returncode == 0, final.stdout + final.stderr
    _verify(dovecot, user, database_url, tmp_path, corpus)


# ---- the Graph source ---------------------------------------------------------------

GRAPH_MAILBOX = "support@contoso.example"


def _graph_prepare(
    fake: Microsoft365, tmp_path: Path, database_url: str
) -> tuple[Path, list[CorpusMail]]:
    state = fake.state
    state.add_mailbox(GRAPH_MAILBOX)
    state.add_folder(GRAPH_MAILBOX, "Inbox/Support/Done")
    corpus = support_corpus(N_MAILS)
    for mail in corpus:
        state.deliver(GRAPH_MAILBOX, "Inbox/Support", mail.raw)
    table = graph_job_settings(
        fake,
        name="Kill test",
        after_processing="move",
        move_to="Inbox/Support/Done",
        fetch_batch=8,
    )
    return write_config(tmp_path / "deskmail.toml", database_url, [table]), corpus


def _graph_acknowledged_only_after_commit(
    fake: Microsoft365, database_url: str, tmp_path: Path
) -> None:
    """Every mail moved on the server has its committed journal row."""
    moved = {m.immutable_id for m in fake.state.in_folder(GRAPH_MAILBOX, "Inbox/Support/Done")}
    store = Store(database_url, tmp_path / "blobs")
    try:
        with store.session() as s:
            keys = set(s.scalars(select(IntakeRecord.source_key)))
    finally:
        store.dispose()
    recorded = {key.rpartition(":")[2] for key in keys}
    assert moved <= recorded, f"{len(moved - recorded)} moved without a committed record"


@pytest.mark.parametrize("point", list(CrashPoint))
def test_graph_sigkill_at_step_boundary(
    microsoft365: Microsoft365, database_url: str, tmp_path: Path, point: CrashPoint
) -> None:
    graph_fake = microsoft365
    config, corpus = _graph_prepare(graph_fake, tmp_path, database_url)
    hits = (1, 1) if point is CrashPoint.BEFORE_CHECKPOINT else (5, 11)
    for hit in hits:
        killed = _run(config, f"{point.value}:{hit}")
        assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
        _graph_acknowledged_only_after_commit(graph_fake, database_url, tmp_path)
    final = _run(config, None)
    assert final.returncode == 0, final.stdout + final.stderr
    _verify_records(database_url, tmp_path, corpus)
    state = graph_fake.state
    assert state.in_folder(GRAPH_MAILBOX, "Inbox/Support") == []
    assert len(state.in_folder(GRAPH_MAILBOX, "Inbox/Support/Done")) == N_MAILS
    again = _run(config, None)
    assert "fetched 0, created 0, updated 0" in again.stdout
