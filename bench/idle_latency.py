"""IMAP IDLE push latency: from an APPEND to the committed ticket, with `deskmail serve` running.

    .venv/bin/python bench/idle_latency.py [--mails 20] [--database-url URL]

Starts a private Dovecot (tests/support/dovecot.py; run as root), a fresh
SQLite database (or the given empty database), and `deskmail serve` with one
IMAP job (implicit TLS, idle = true, schedule = "1h", so only the push can
make tickets). Then, one mail at a time: APPEND a mail with a unique subject
over a session of its own, and poll the database (another connection, so
only committed rows count) until that ticket is there. The next mail waits
for the run to finish, so each figure is one push on an idle daemon.
Prints every latency, then the median, p95, minimum and maximum, and the
same for the server alone (APPEND -> EXISTS on a bare IDLE session), whose
difference is deskmail's own share.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import Select, func, select

from deskmail.daemon.idle import announces_new_mail
from deskmail.store.engine import Store
from deskmail.store.migrate import upgrade
from deskmail.store.models import Run, Ticket

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ is not installed
from tests.support.dovecot import DOVECOT, Dovecot, make_mail
from tests.support.toml_config import job_table, write_config

PASSWORD_ENV = "DESKMAIL_BENCH_PASSWORD"
POLL = 0.002  # seconds between database polls: well below what is measured


def _wait_count(store: Store, query: Select[int], at_least: int, what: str) -> None:
    """Poll a COUNT query until it reaches at_least."""
    deadline = time.monotonic() + 30
    while True:
        with store.session() as session:
            if (session.scalar(query) or 0) >= at_least:
                return
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(POLL)


def server_floor(dovecot: Dovecot, mails: int) -> list[float]:
    """APPEND -> "* n EXISTS" on a bare IDLE session: what the server alone takes.

    Dovecot 2.3 waits about half a second after a mailbox change before it
    tells IDLE sessions (measured: 501-505 ms on every mail), so that a burst
    of changes becomes one notification.
    """
    user = dovecot.user("floor")
    latencies = []
    with dovecot.imap(user) as watcher, dovecot.imap(user) as writer:
        for n in range(mails):
            watcher.idle()
            started = time.perf_counter()
            writer.append("INBOX", make_mail(f"Floor probe {n}"))
            while not announces_new_mail(watcher.idle_check(timeout=30)):
                pass
            latencies.append(time.perf_counter() - started)
            watcher.idle_done()
    return latencies


def deskmail_latency(dovecot: Dovecot, mails: int, url: str, work: Path) -> list[float]:
    """APPEND -> ticket committed, with `deskmail serve` running (a subprocess)."""
    upgrade(url)
    store = Store(url, work / "blobs")
    user = dovecot.user("latency")
    job = job_table(
        dovecot.job(user), name="Push", schedule="1h", idle=True, password_env=PASSWORD_ENV
    )
    config = write_config(work / "deskmail.toml", url, [job])
    output = work / "serve.log"
    with open(output, "wb") as log:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "deskmail", "-v", "serve", "--config", str(config)],
            env={**os.environ, PASSWORD_ENV: dovecot.password},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        runs = select(func.count()).where(Run.finished_at.is_not(None))
        _wait_count(store, runs, 1, "the daemon's first pass")
        while "waiting for new mail" not in output.read_text("utf-8", "replace"):
            time.sleep(0.05)  # IDLE is on
        latencies = []
        with dovecot.imap(user) as client:
            for n in range(mails):
                subject = f"Latency probe {n}"
                ticket = select(func.count()).where(Ticket.subject == subject)
                started = time.perf_counter()
                client.append("INBOX", make_mail(subject))
                _wait_count(store, ticket, 1, f"ticket {n}")
                latencies.append(time.perf_counter() - started)
                _wait_count(store, runs, n + 2, f"run {n} to finish")  # first pass + one per mail
                print(f"  mail {n + 1:3d}: {latencies[-1] * 1000:7.1f} ms", flush=True)
        return latencies
    finally:
        daemon.terminate()
        daemon.wait(30)
        store.dispose()


def _summary(what: str, latencies: list[float]) -> str:
    ms = sorted(latency * 1000 for latency in latencies)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return (
        f"{what} over {len(ms)} mails: median {statistics.median(ms):.1f} ms,"
        f" p95 {p95:.1f} ms, min {ms[0]:.1f} ms, max {ms[-1]:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=20, help="how many pushes (default 20)")
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    args = parser.parse_args()
    dovecot = Dovecot(shutil.which("dovecot") or DOVECOT, "bench")
    dovecot.start()
    try:
        with tempfile.TemporaryDirectory(prefix="deskmail-idle-") as work:
            url = args.database_url or f"sqlite:///{Path(work) / 'deskmail.db'}"
            pushed = deskmail_latency(dovecot, args.mails, url, Path(work))
        floor = server_floor(dovecot, args.mails)
    finally:
        dovecot.stop()
    print(_summary("APPEND -> committed ticket (deskmail serve)", pushed))
    print(_summary("APPEND -> IDLE EXISTS (Dovecot alone)      ", floor))
    own = statistics.median(pushed) - statistics.median(floor)
    print(f"deskmail's own share of the median: {own * 1000:.1f} ms")


if __name__ == "__main__":
    main()
