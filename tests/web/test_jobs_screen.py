"""The Jobs screen's actions: Run now, Test, Enable/Disable and Delete (admins); database
jobs listed beside the file's."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from deskmail.jobs.catalog import JobCatalog
from deskmail.store.accounts import Role
from deskmail.store.daemon_state import JobSwitch
from deskmail.store.models import Run
from deskmail.store.sealing import SECRET_KEY_ENV
from tests.support.jobs import drop_mail
from tests.web.conftest import LiveWeb
from tests.web.test_job_editor import maildir_form, new_mailbox


def test_run_now_runs_the_job_in_the_background(web: LiveWeb) -> None:
    drop_mail(web.mailbox, "a", "ann@example.com", "Laptop")
    client = web.browser_client(Role.ADMIN)
    answer = client.post("/jobs/Support/run")
    assert answer.status_code == 303
    assert "started" in answer.headers["location"]
    for _ in range(200):
        with web.store.session() as session:
            if session.scalar(select(func.count()).where(Run.status == "ok")):
                break
        time.sleep(0.05)
    else:
        raise AssertionError("the run did not happen")
    assert "1 created" in client.get("/jobs").text


def test_disable_and_enable_are_kept_as_a_switch(web: LiveWeb) -> None:
    client = web.browser_client(Role.ADMIN)
    assert client.post("/jobs/Support/switch", data={"enabled": "false"}).status_code == 303
    with web.store.session() as session:
        switch = session.get(JobSwitch, "Support")
        assert switch is not None and not switch.enabled and switch.changed_by == "admin-user"
    page = client.get("/jobs").text
    assert "status-disabled" in page and ">Enable</button>" in page
    client.post("/jobs/Support/switch", data={"enabled": "true"})
    assert "status-never-run" in client.get("/jobs").text
    assert client.post("/jobs/Nope/switch", data={"enabled": "true"}).status_code == 404


def test_an_open_jobs_screen_shows_a_new_run_without_a_reload(web: LiveWeb) -> None:
    from playwright.sync_api import expect

    from deskmail.intake.run import run_job

    page = web.page(Role.VIEWER)
    page.goto("/jobs")
    expect(page.get_by_text("never run")).to_be_visible()
    page.evaluate("window.notReloaded = true")
    drop_mail(web.mailbox, "a", "ann@example.com", "Laptop")
    run_job(web.store, web.config.jobs[0], config=web.config)
    expect(page.locator(".status-ok")).to_be_visible(timeout=20_000)
    assert page.evaluate("window.notReloaded") is True


@pytest.fixture
def _secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_KEY_ENV, Fernet.generate_key().decode())


@pytest.mark.usefixtures("_secret_key")
def test_delete_and_disable_a_database_job(web: LiveWeb, tmp_path: Path) -> None:
    client = web.browser_client(Role.ADMIN)
    box = new_mailbox(tmp_path, "drop")
    assert client.post("/jobs/new", data=maildir_form(box)).status_code == 303
    assert client.post("/jobs/Drop/switch", data={"enabled": "false"}).status_code == 303
    job = JobCatalog(web.config, web.store).get("Drop")
    assert job.enabled is False and job.revision == 2
    assert "status-disabled" in client.get("/jobs").text.split('data-job="Drop"')[1]
    assert client.post("/jobs/Drop/delete").status_code == 303
    assert 'data-job="Drop"' not in client.get("/jobs").text
    assert client.post("/jobs/Drop/delete").status_code == 404


def test_test_names_the_step_that_failed(web: LiveWeb) -> None:
    client = web.browser_client(Role.ADMIN)
    passed = client.post("/jobs/Support/test")
    assert passed.status_code == 200 and "Support: connection test passed" in passed.text
    web.mailbox.rename(web.mailbox.with_name("gone"))
    failed = client.post("/jobs/Support/test")
    assert "Support: connection test failed at step folder" in failed.text
    assert "Hint:" in failed.text
    assert client.post("/jobs/Nope/test").status_code == 404
