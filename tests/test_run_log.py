"""A run's log lines are kept with the run: from INFO up, bounded, secrets replaced, and
only the records of that run (not of another job running at the same time)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy import select

from deskmail.intake.run import run_job
from deskmail.intake.run_log import MAX_CHARS, MAX_LINES, capturing
from deskmail.store.engine import Store
from deskmail.store.models import Run, RunLogLine
from tests.support.jobs import drop_mail, maildir_job

log = logging.getLogger("deskmail.tests.run_log")


def _lines(store: Store, run_id: int) -> list[RunLogLine]:
    with store.session() as session:
        return list(
            session.scalars(
                select(RunLogLine).where(RunLogLine.run_id == run_id).order_by(RunLogLine.id)
            )
        )


def _only_run(store: Store) -> Run:
    with store.session() as session:
        (run,) = session.scalars(select(Run))
        return run


def test_a_run_keeps_its_info_lines_and_its_failure(store: Store, tmp_path: Path) -> None:
    mailbox = tmp_path / "gone"  # never created: the run fails at the folder step
    summary = run_job(store, maildir_job(mailbox))
    assert not summary.ok
    run = _only_run(store)
    assert run.step == "folder" and run.status == "failed"
    lines = _lines(store, run.id)
    levels = [line.level for line in lines]
    assert logging.ERROR in levels and logging.INFO in levels
    assert logging.DEBUG not in levels  # held back, as a terminal without -vv would
    assert any("fetched 0, created 0" in line.message for line in lines)


def test_a_good_run_has_no_step(store: Store, tmp_path: Path) -> None:
    mailbox = tmp_path / "mailbox"
    for sub in ("new", "cur", "tmp"):
        (mailbox / sub).mkdir(parents=True)
    drop_mail(mailbox, "a", "ann@example.com", "Hello")
    assert run_job(store, maildir_job(mailbox)).created == 1
    run = _only_run(store)
    assert run.step is None and run.status == "ok"
    assert _lines(store, run.id)


def test_lines_are_bounded_and_secrets_replaced(store: Store) -> None:
    with store.transaction() as session:
        run = Run(job="Support")
        session.add(run)
        session.flush()
        run_id = run.id
    with capturing({"hunter2"}) as kept:
        log.info("logging in with hunter2")
        log.warning("long: %s", "x" * (MAX_CHARS * 2))
        for number in range(MAX_LINES + 50):
            log.info("line %d", number)
        log.error("the last word")
    log.info("after the run: not kept")
    with store.transaction() as session:
        kept.save(session, run_id)
    lines = _lines(store, run_id)
    assert len(lines) == MAX_LINES + 1  # the kept lines and a note of how many were left out
    assert lines[0].message == "logging in with ***"
    assert len(lines[1].message) == MAX_CHARS
    assert lines[-2].message == "53 more log lines of this run were not kept (see the log file)"
    assert lines[-1].message == "the last word" and lines[-1].level == logging.ERROR
    assert all("not kept" not in line.message or "more log lines" in line.message for line in lines)


def test_each_run_keeps_only_its_own_records() -> None:
    seen: dict[str, list[str]] = {}
    ready = threading.Barrier(2)

    def one(name: str) -> None:
        with capturing(()) as kept:
            ready.wait()
            for number in range(20):
                log.info("%s %d", name, number)
        seen[name] = [line.message for line in kept.lines]

    threads = [threading.Thread(target=one, args=(name,)) for name in ("alpha", "beta")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen["alpha"] == [f"alpha {n}" for n in range(20)]
    assert seen["beta"] == [f"beta {n}" for n in range(20)]
    # Outside any run the package logger is back at its own level.
    assert logging.getLogger("deskmail").level == logging.NOTSET
