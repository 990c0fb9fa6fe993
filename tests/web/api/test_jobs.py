"""GET /api/v1/jobs: each job's state, as the Jobs screen shows it."""

from __future__ import annotations

from deskmail.intake.run import run_job
from deskmail.store.accounts import Role
from tests.support.jobs import drop_mail
from tests.web.conftest import LiveWeb


def test_jobs_show_runs_counts_and_the_last_error(web: LiveWeb) -> None:
    api = web.api(Role.VIEWER)
    [job] = api.get("/api/v1/jobs").json()
    assert job["name"] == "Support" and job["source"] == "file" and job["protocol"] == "maildir"
    assert job["status"] == "never-run" and job["last_run_at"] is None

    drop_mail(web.mailbox, "a", "ann@example.com", "Laptop")
    run_job(web.store, web.config.jobs[0], config=web.config)
    job = api.get("/api/v1/jobs/Support").json()
    assert job["status"] == "ok"
    assert job["last_success_at"] is not None and job["next_run_at"] > job["last_run_at"]
    assert job["last_24h"] == {
        "runs": 1,
        "failed_runs": 0,
        "fetched": 1,
        "created": 1,
        "updated": 0,
        "quarantined": 0,
    }

    # The Maildir disappears: the run fails and its error is shown inline.
    web.mailbox.rename(web.mailbox.with_name("gone"))
    run_job(web.store, web.config.jobs[0], config=web.config)
    job = api.get("/api/v1/jobs/Support").json()
    assert job["status"] == "failing"
    assert job["last_error"]
    assert job["last_24h"]["failed_runs"] == 1
