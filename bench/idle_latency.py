"""IMAP IDLE push latency: from an APPEND to the committed ticket, with `deskmail serve` running.

    .venv/bin/python bench/idle_latency.py [--mails 100] [--database-url URL]

Starts a private Dovecot (tests/support/dovecot.py; run as root), a fresh
SQLite database (or the given empty database), and `deskmail serve` with one
IMAP job (implicit TLS, idle = true, schedule = "1h", so only the push can
make tickets). Then, one mail at a time: APPEND a mail with a unique subject
over a session of its own, and poll the database (another connection, so
only committed rows count) until that ticket is there. The next mail waits
for the run to finish, so each figure is one push on an idle daemon.
Prints every latency, then the median, p95, minimum and maximum, and the
same for the server alone (APPEND -> EXISTS on a bare IDLE session), whose
difference is deskmail's own share, and the daemon's peak RSS (its process
tree, sampled as bench/measure.py does).

bench/ingest.py --latency N (and --all, with 100 mails) runs the same two
measurements on its own Dovecot as part of the full benchmark.
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

import measure  # bench/measure.py
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


def probe(n: int, subject: str) -> bytes:
    """A small new request from a sender of its own.

    One sender per mail, as from many customers: deskmail groups a sender's
    mail on their last ticket past new_tickets_per_sender_per_hour (30), so
    more than 30 probes from one address would stop making tickets.
    """
    sender = f"Customer {n} <customer{n}@example.com>".encode("ascii")
    return make_mail(subject).replace(b"Alice Example <alice@example.com>", sender, 1)


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


def deskmail_latency(
    dovecot: Dovecot, mails: int, url: str, work: Path, *, verbose: bool = True
) -> tuple[list[float], float]:
    """APPEND -> ticket committed, with `deskmail serve` running (a subprocess).

    Returns the latencies (seconds) and the daemon's peak RSS in MiB (its
    process tree, sampled from the start to the last mail).
    """
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
        with measure.TreeSampler(daemon.pid) as sampler:
            runs = select(func.count()).where(Run.finished_at.is_not(None))
            _wait_count(store, runs, 1, "the daemon's first pass")
            deadline = time.monotonic() + 30
            while "waiting for new mail" not in output.read_text("utf-8", "replace"):
                if daemon.poll() is not None or time.monotonic() > deadline:
                    tail = output.read_text("utf-8", "replace")[-3000:]
                    raise SystemExit(f"deskmail serve never started IDLE; its log:\n{tail}")
                time.sleep(0.05)  # IDLE is on
            latencies = []
            with dovecot.imap(user) as client:
                for n in range(mails):
                    subject = f"Latency probe {n}"
                    ticket = select(func.count()).where(Ticket.subject == subject)
                    started = time.perf_counter()
                    client.append("INBOX", probe(n, subject))
                    _wait_count(store, ticket, 1, f"ticket {n}")
                    latencies.append(time.perf_counter() - started)
                    # the first pass + one run per mail
                    _wait_count(store, runs, n + 2, f"run {n} to finish")
                    if verbose:
                        print(f"  mail {n + 1:3d}: {latencies[-1] * 1000:7.1f} ms", flush=True)
                    elif (n + 1) % 25 == 0:
                        print(f"  {n + 1} mails pushed", flush=True)
        return latencies, sampler.peak_mib
    finally:
        daemon.terminate()
        daemon.wait(30)
        store.dispose()


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between the closest ranks (p50 = the median)."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(what: str, latencies: list[float]) -> str:
    ms = [latency * 1000 for latency in latencies]
    return (
        f"{what} over {len(ms)} mails: median {statistics.median(ms):.1f} ms,"
        f" p95 {percentile(ms, 95):.1f} ms, min {min(ms):.1f} ms, max {max(ms):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=100, help="how many pushes (default 100)")
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    args = parser.parse_args()
    dovecot = Dovecot(shutil.which("dovecot") or DOVECOT, "bench")
    dovecot.start()
    try:
        with tempfile.TemporaryDirectory(prefix="deskmail-idle-") as work:
            url = args.database_url or f"sqlite:///{Path(work) / 'deskmail.db'}"
            pushed, rss_mib = deskmail_latency(dovecot, args.mails, url, Path(work))
        floor = server_floor(dovecot, args.mails)
    finally:
        dovecot.stop()
    print(summary("APPEND -> committed ticket (deskmail serve)", pushed))
    print(summary("APPEND -> IDLE EXISTS (Dovecot alone)      ", floor))
    own = statistics.median(pushed) - statistics.median(floor)
    print(f"deskmail's own share of the median: {own * 1000:.1f} ms")
    print(f"deskmail serve peak RSS (process tree): {rss_mib:.0f} MiB")


if __name__ == "__main__":
    main()
