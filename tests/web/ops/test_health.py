"""/healthz, /readyz (503 with reasons), /metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from deskmail.config.models import WebConfig
from deskmail.daemon.heartbeat import Heartbeat
from deskmail.intake.run import run_job
from deskmail.store.daemon_state import SchedulerHeartbeat
from deskmail.store.models import Run
from deskmail.web.ops.readiness import readiness
from tests.support.jobs import drop_mail
from tests.web.conftest import LiveWeb


def test_healthz_and_readyz_answer_without_login(web: LiveWeb) -> None:
    client = web.client()
    assert client.get("/healthz").json() == {"status": "ok"}
    run_job(web.store, web.config.jobs[0], config=web.config)
    assert client.get("/readyz").json() == {"ready": True, "issues": []}


def test_readyz_names_a_job_that_has_not_succeeded_for_too_long(web: LiveWeb) -> None:
    run_job(web.store, web.config.jobs[0], config=web.config)
    long_ago = datetime.now(UTC) - timedelta(hours=5)
    with web.store.transaction() as session:
        session.execute(update(Run).values(started_at=long_ago, finished_at=long_ago))
    answer = web.client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["issues"] == ["job Support: no successful run for 300 minutes"]


def test_readyz_under_serve_needs_a_fresh_scheduler_heartbeat(web: LiveWeb) -> None:
    settings = WebConfig()
    run_job(web.store, web.config.jobs[0], config=web.config)
    found = readiness(web.store, web.config, settings, runs_jobs=True)
    assert found.issues == ["scheduler: no heartbeat yet"]
    beat = Heartbeat(web.store)
    beat.beat()
    assert readiness(web.store, web.config, settings, runs_jobs=True).ready
    with web.store.transaction() as session:
        session.execute(
            update(SchedulerHeartbeat).values(beat_at=datetime.now(UTC) - timedelta(minutes=10))
        )
    [issue] = readiness(web.store, web.config, settings, runs_jobs=True).issues
    assert issue.startswith("scheduler: last heartbeat 6")
    beat.forget()


def test_metrics_count_runs_messages_and_failures(web: LiveWeb) -> None:
    drop_mail(web.mailbox, "a", "ann@example.com", "Laptop")
    run_job(web.store, web.config.jobs[0], config=web.config)
    web.mailbox.rename(web.mailbox.with_name("gone"))
    run_job(web.store, web.config.jobs[0], config=web.config)
    text = web.client().get("/metrics").text
    assert 'deskmail_runs_total{job="Support",outcome="ok"} 1.0' in text
    assert 'deskmail_runs_total{job="Support",outcome="failed"} 1.0' in text
    assert 'deskmail_messages_total{job="Support",outcome="created"} 1.0' in text
    assert 'deskmail_job_last_success_timestamp_seconds{job="Support"}' in text
    assert 'deskmail_run_duration_seconds_count{job="Support"} 2.0' in text
    assert 'deskmail_fetch_errors_total{job="Support",step="folder"} 1.0' in text
