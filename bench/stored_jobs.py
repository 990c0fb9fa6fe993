"""What following the database's jobs costs `deskmail serve`, and how soon a change runs.

    .venv/bin/python bench/stored_jobs.py [--jobs 200] [--postgres]

With N database jobs (Maildir, one with a sealed password in every ten):
  - the poll with nothing changed (StoredJobs.refresh: one query of the revisions),
    the time of one call, median and p95 over 500 calls;
  - the first read of every job (each validated, its secrets opened), once;
  - one changed job read again after its update;
  - `deskmail serve` itself: from the catalog's update of a job's schedule to the
    daemon's log line that restarted it, median over 10 changes (PostgreSQL: heard
    by LISTEN/NOTIFY; SQLite: the 2-second poll).
SQLite in a temp dir, or a fresh PostgreSQL database on 127.0.0.1:5432 (dropped after).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from cryptography.fernet import Fernet

from deskmail.config.loader import load_config
from deskmail.daemon.stored_jobs import StoredJobs
from deskmail.jobs.catalog import JobCatalog
from deskmail.store.engine import Store
from deskmail.store.migrate import upgrade
from deskmail.store.sealing import SECRET_KEY_ENV

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def _settings(n: int, folder: Path) -> dict[str, object]:
    if n % 10 == 0:  # a job with a password of its own, sealed
        return {
            "name": f"Job {n}",
            "protocol": "imap",
            "server": "mail.invalid",
            "user": "u",
            "password": secrets.token_urlsafe(16),
            "enabled": False,
        }
    return {"name": f"Job {n}", "protocol": "maildir", "path": str(folder), "enabled": False}


def _serve_pickup(config: Path, catalog: JobCatalog, folder: Path, changes: int) -> list[float]:
    """Seconds from each update to the daemon's line that restarted the job."""
    log = config.with_suffix(".log")
    env = {**os.environ}
    env.pop("DESKMAIL_DATABASE_URL", None)
    with open(log, "wb") as out:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "deskmail", "-v", "serve", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    catalog.create({"name": "Watched", "protocol": "maildir", "path": str(folder), "idle": False})
    took = []
    try:
        _wait(log, "job Watched: started", 1)
        for n in range(changes):
            started = time.monotonic()
            catalog.update("Watched", {"schedule": f"{n + 2}h"})
            _wait(log, "job Watched: started", n + 2)
            took.append(time.monotonic() - started)
    finally:
        daemon.terminate()
        daemon.wait(60)
    return took


def _wait(log: Path, needle: str, count: int) -> None:
    deadline = time.monotonic() + 60
    while log.read_text("utf-8", "replace").count(needle) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {needle!r} x{count}")
        time.sleep(0.005)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault(SECRET_KEY_ENV, Fernet.generate_key().decode())
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp) / "mailbox"
        for sub in ("new", "cur", "tmp"):
            (folder / sub).mkdir(parents=True)
        name = f"deskmail_bench_{secrets.token_hex(4)}"
        if args.postgres:
            with psycopg.connect(
                f"{POSTGRES}/postgres".replace("+psycopg", ""), autocommit=True
            ) as a:
                a.execute(f'CREATE DATABASE "{name}"')
            url = f"{POSTGRES}/{name}"
        else:
            url = f"sqlite:///{temp}/deskmail.db"
        try:
            _run(url, Path(temp), folder, args.jobs)
        finally:
            if args.postgres:
                with psycopg.connect(
                    f"{POSTGRES}/postgres".replace("+psycopg", ""), autocommit=True
                ) as a:
                    a.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(url: str, temp: Path, folder: Path, jobs: int) -> None:
    upgrade(url)
    config_file = temp / "deskmail.toml"
    config_file.write_text(f'[database]\nurl = "{url}"\n')
    config = load_config(config_file)
    store = Store(url, temp / "blobs")
    catalog = JobCatalog(config, store)
    for n in range(jobs):
        catalog.create(_settings(n, folder))
    stored = StoredJobs(store)
    started = time.perf_counter()
    stored.refresh(config)
    first = time.perf_counter() - started
    polls = []
    for _ in range(500):
        started = time.perf_counter()
        stored.refresh(config)
        polls.append(time.perf_counter() - started)
    catalog.update("Job 1", {"schedule": "1h"})
    started = time.perf_counter()
    stored.refresh(config)
    one = time.perf_counter() - started
    pickup = _serve_pickup(config_file, catalog, folder, 10)
    store.dispose()
    polls.sort()
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"| {backend}, {jobs} database jobs | time |")
    print("|---|---|")
    print(
        f"| poll, nothing changed (median / p95 of 500) | {_ms(statistics.median(polls))} /"
        f" {_ms(polls[int(len(polls) * 0.95)])} |"
    )
    print(f"| first read of every job (validated, secrets opened) | {_ms(first)} |")
    print(f"| one changed job read again | {_ms(one)} |")
    print(
        f"| serve: update to restarted job (median / max of 10) |"
        f" {statistics.median(pickup):.2f} s / {max(pickup):.2f} s |"
    )


if __name__ == "__main__":
    main()
