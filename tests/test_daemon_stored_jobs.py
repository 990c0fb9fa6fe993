"""daemon/stored_jobs.py in-process, on both databases: what the daemon runs of the
catalog's jobs as they change, what it keeps when a change cannot be loaded, and one
report for all instances."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from deskmail.config.loader import load_config
from deskmail.config.models import DeskmailConfig
from deskmail.daemon.stored_jobs import StoredJobs
from deskmail.jobs.catalog import JobCatalog
from deskmail.store.engine import Store
from deskmail.store.models import StoredJob, Ticket
from deskmail.store.sealing import SECRET_KEY_ENV
from tests.support.toml_config import write_config


@pytest.fixture(autouse=True)
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_KEY_ENV, Fernet.generate_key().decode())


def _config(tmp_path: Path, store: Store, *file_jobs: str) -> DeskmailConfig:
    jobs = [{"name": name, "protocol": "maildir", "path": str(tmp_path)} for name in file_jobs]
    return load_config(write_config(tmp_path / "deskmail.toml", store.url, jobs))


def _names(stored: StoredJobs, config: DeskmailConfig) -> list[tuple[str, str]]:
    return [(job.name, job.schedule) for job in stored.running(config).jobs]


def _events(store: Store) -> list[str]:
    with store.session() as session:
        return list(session.scalars(select(Ticket.subject)))


def test_the_daemon_follows_additions_changes_and_deletions(tmp_path: Path, store: Store) -> None:
    config = _config(tmp_path, store, "Filed")
    catalog = JobCatalog(config, store)
    stored = StoredJobs(store)
    assert stored.refresh(config) is False  # nothing in the database
    catalog.create({"name": "Drop", "protocol": "maildir", "path": str(tmp_path)})
    assert stored.refresh(config) is True
    assert _names(stored, config) == [("Filed", "5m"), ("Drop", "5m")]
    assert stored.refresh(config) is False  # no revision moved: nothing read again
    catalog.update("Drop", {"schedule": "1h"})
    assert stored.refresh(config) is True
    assert _names(stored, config) == [("Filed", "5m"), ("Drop", "1h")]
    catalog.delete("Drop")
    assert stored.refresh(config) is True
    assert _names(stored, config) == [("Filed", "5m")]


def test_a_revision_that_cannot_be_loaded_keeps_the_last_good_one_and_is_reported_once(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    config = _config(tmp_path, store)
    JobCatalog(config, store).create({"name": "Drop", "protocol": "maildir", "path": "x"})
    first, second = StoredJobs(store), StoredJobs(store)  # two instances on one database
    for instance in (first, second):
        instance.refresh(config)
    with store.transaction() as session:
        session.execute(
            update(StoredJob).values(settings='{"protocol": "maildir", "future": 1}', revision=2)
        )
    for instance in (first, second):
        assert instance.refresh(config) is True
        assert _names(instance, config) == [("Drop", "5m")]  # the last good settings
    assert _events(store) == ['Configuration error: job "Drop" revision 2 refused']
    assert caplog.text.count('job "Drop" (database, revision 2) cannot be loaded') == 2
    assert "future: unknown key" in caplog.text


def test_a_file_job_taking_a_database_jobs_name_wins(tmp_path: Path, store: Store) -> None:
    config = _config(tmp_path, store)
    JobCatalog(config, store).create({"name": "Drop", "protocol": "maildir", "path": "x"})
    stored = StoredJobs(store)
    stored.refresh(config)
    reloaded = _config(tmp_path, store, "drop")
    stored.forget_revisions()  # as SIGHUP does
    stored.refresh(reloaded)
    assert [job.name for job in stored.running(reloaded).jobs] == ["drop"]
    assert _events(store) == []
