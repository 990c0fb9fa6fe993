"""Jobs turned off and on from the web UI: the running daemon follows within a tick."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from deskmail.config.files import load_configuration
from deskmail.daemon.supervisor import Supervisor
from deskmail.daemon.switches import read_switches, set_switch, switched
from deskmail.store.daemon_state import SchedulerHeartbeat
from deskmail.store.engine import Store
from deskmail.store.migrate import upgrade
from tests.support.jobs import maildir_config


def test_a_switch_overrides_the_file_and_keeps_where_the_job_was_written(
    tmp_path: Path, store: Store
) -> None:
    path, _ = maildir_config(tmp_path, store.url)
    config = load_configuration(path)
    assert switched(config, read_switches(store)) == config
    set_switch(store, "Support", False, "alice")
    [job] = switched(config, read_switches(store)).jobs
    assert not job.enabled
    assert job.key("user") == config.jobs[0].key("user") and job.origin_file == path


def test_the_supervisor_stops_and_starts_a_switched_job_and_beats(
    tmp_path: Path, database_url: str
) -> None:
    path, _ = maildir_config(tmp_path, database_url, schedule="1h")
    upgrade(database_url)
    config = load_configuration(path)
    store = Store(database_url, tmp_path / "attachments", path)
    supervisor = Supervisor(path, config, store)
    try:
        supervisor.apply(config)
        assert supervisor.wake("Support") and not supervisor.wake("Other")
        with store.session() as session:
            assert session.scalar(select(SchedulerHeartbeat.instance)) is not None
        set_switch(store, "Support", False, "alice")
        supervisor.tick()
        assert not supervisor.wake("Support")
        set_switch(store, "Support", True, "alice")
        supervisor.tick()
        assert supervisor.wake("Support")
    finally:
        supervisor.shutdown()
    check = Store(database_url, tmp_path / "attachments", path)
    with check.session() as session:
        assert session.scalar(select(SchedulerHeartbeat.instance)) is None  # forgotten at stop
    check.dispose()
