"""One `deskmail serve` with N IMAP IDLE jobs: readiness, memory, threads, idle CPU, push, burst.

    .venv/bin/python bench/scale.py [--sizes 10,100,1000] [--mails 100] [--idle-seconds 60]
                                    [--database-url URL]

For each N: starts a private Dovecot (tests/support/dovecot.py; run as root)
with its process and connection limits raised for N users, a fresh SQLite
database (or the given empty one, wiped between sizes is up to you), and
`deskmail serve` with N IMAP jobs (one user each, implicit TLS, idle = true,
schedule = "1h", so only the push makes tickets). Then reports:

- ready: seconds from starting serve until every job's IDLE session is on
  (its "waiting for new mail" log line), and until every job's first pass
  has finished;
- RSS (VmRSS) and thread count of serve once settled, and its peak RSS;
- idle CPU: serve's user + system time over --idle-seconds with no mail,
  after the first passes and a 10 s settle, as a percentage of one core;
- push latency: --mails mails, one at a time, each to a random mailbox:
  APPEND -> ticket committed (polled on another connection), p50 / p95 / max,
  beside Dovecot's own APPEND -> EXISTS delay on a bare IDLE session;
- burst: one mail to every mailbox at once (16 appending threads): seconds
  from the first APPEND until all N tickets are committed, and a check that
  each was ticketed exactly once (N tickets, N distinct subjects, N journal
  rows), also after a further 5 s.

Prints one Markdown table row per N at the end (the table in README "Limits").
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import measure  # bench/measure.py
from idle_latency import percentile, probe, server_floor  # bench/idle_latency.py
from imapclient import IMAPClient
from sqlalchemy import func, select

from deskmail.store.engine import Store
from deskmail.store.migrate import upgrade
from deskmail.store.models import IntakeRecord, Run, Ticket

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ is not installed
from tests.support.dovecot import DOVECOT, Dovecot
from tests.support.toml_config import job_table, write_config

PASSWORD_ENV = "DESKMAIL_BENCH_PASSWORD"
POLL = 0.005
SETTLE = 10.0
BURST_THREADS = 16
_TICK = os.sysconf("SC_CLK_TCK")

# What a thousand users need of Dovecot: one imap process per session (each
# job holds an IDLE session and opens one per pass), and login processes in
# high-performance mode (service_count = 0) so TLS sessions do not each keep one.
LIMITS = """
default_process_limit = 5000
default_client_limit = 20000
default_vsz_limit = 0
service imap {
  process_limit = 5000
  client_limit = 1
}
service imap-login {
  service_count = 0
  process_min_avail = 2
  client_limit = 5000
}
"""


INOTIFY_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")


@contextlib.contextmanager
def inotify_instances(at_least: int) -> Iterator[None]:
    """Dovecot watches each IDLE session's mailbox with an inotify instance of the mail
    user; past the limit (128 by default) it logs "Inotify instance limit ... exceeded"
    and looks only every 30 s, so pushes wait up to 30 s for the server, not for us.
    Raised for the run, put back after."""
    before = int(INOTIFY_INSTANCES.read_text())
    if before < at_least:
        INOTIFY_INSTANCES.write_text(str(at_least))
    try:
        yield
    finally:
        if before < at_least:
            INOTIFY_INSTANCES.write_text(str(before))


class ScaleDovecot(Dovecot):
    """The test fixture's Dovecot with the limits raised for thousands of sessions."""

    def _render_config(self, uid: int, gid: int) -> str:
        return super()._render_config(uid, gid) + LIMITS


@dataclass
class Figures:
    jobs: int
    ready: float  # every IDLE session on, s
    first_passes: float  # every job's first pass finished, s
    rss_mib: float
    peak_rss_mib: float
    threads: int
    idle_cpu: float  # % of one core
    p50: float  # ms
    p95: float
    worst: float
    floor_p50: float  # Dovecot alone, ms
    burst: float  # s until all N ticketed
    burst_append: float  # s the APPENDs themselves took
    start_cpu: float  # serve's CPU seconds until every IDLE session was on
    burst_cpu: float  # serve's CPU seconds for the burst
    exactly_once: bool


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def _count(store: Store, query: object) -> int:
    with store.session() as session:
        return int(session.scalar(query) or 0)  # type: ignore[call-overload]


def _wait(check: object, what: str, timeout: float, daemon: subprocess.Popen[bytes]) -> float:
    """Poll check() until true; the monotonic time it became true."""
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if daemon.poll() is not None:
            raise SystemExit(f"deskmail serve exited while waiting for {what}")
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL)
    return time.monotonic()


def _append(dovecot: Dovecot, user: str, raw: bytes) -> float:
    """APPEND over a session of its own; the monotonic time just before the APPEND."""
    client = IMAPClient("127.0.0.1", dovecot.imap_port, ssl=False, timeout=30)
    try:
        client.login(user, dovecot.password)
        started = time.monotonic()
        client.append("INBOX", raw)
        return started
    finally:
        client.logout()


def _source(args: argparse.Namespace) -> dict[str, str]:
    """--deskmail-src: serve runs that checkout's deskmail (the design before, side by side)."""
    if args.deskmail_src is None:
        return {}
    return {"PYTHONPATH": str(args.deskmail_src.resolve())}


def run_size(dovecot: Dovecot, jobs: int, args: argparse.Namespace, work: Path) -> Figures:
    url = args.database_url or f"sqlite:///{work / 'deskmail.db'}"
    upgrade(url)
    store = Store(url, work / "blobs")
    users = [f"scale{jobs}x{n:04d}" for n in range(jobs)]
    tables = [
        job_table(
            dovecot.job(user),
            name=f"Mailbox {n:04d}",
            schedule="1h",
            idle=True,
            password_env=PASSWORD_ENV,
        )
        for n, user in enumerate(users)
    ]
    config = write_config(work / "deskmail.toml", url, tables)
    output = work / "serve.log"
    started = time.monotonic()
    with open(output, "wb") as log:
        daemon = subprocess.Popen(
            [sys.executable, "-m", "deskmail", "-v", "serve", "--config", str(config)],
            env={**os.environ, PASSWORD_ENV: dovecot.password, **_source(args)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        with measure.TreeSampler(daemon.pid, interval=0.2) as sampler:

            def idling() -> bool:
                return output.read_text("utf-8", "replace").count("waiting for new mail") >= jobs

            ready = _wait(idling, "every IDLE session", 300, daemon) - started
            start_cpu = _cpu_seconds(daemon.pid)
            print(
                f"  N={jobs}: every IDLE session on after {ready:.1f} s"
                f" (serve used {start_cpu:.1f} CPU-s until then)",
                flush=True,
            )
            runs = select(func.count()).select_from(Run).where(Run.finished_at.is_not(None))
            passes = _wait(lambda: _count(store, runs) >= jobs, "first passes", 600, daemon)
            print(f"  N={jobs}: every first pass done after {passes - started:.1f} s", flush=True)
            time.sleep(SETTLE)
            cpu_before, clock = _cpu_seconds(daemon.pid), time.monotonic()
            time.sleep(args.idle_seconds)
            idle_cpu = 100 * (_cpu_seconds(daemon.pid) - cpu_before) / (time.monotonic() - clock)
            rss_mib, threads = measure.vmrss_kib(daemon.pid) / 1024, _threads(daemon.pid)
            print(
                f"  N={jobs}: idle CPU {idle_cpu:.2f}% of a core, RSS {rss_mib:.0f} MiB,"
                f" {threads} threads",
                flush=True,
            )

            rng = random.Random(jobs)
            latencies = []
            for n in range(args.mails):
                subject = f"Push {jobs} {n}"
                query = select(func.count()).select_from(Ticket).where(Ticket.subject == subject)
                sent = _append(dovecot, rng.choice(users), probe(n, subject))
                done = _wait(lambda q=query: _count(store, q) >= 1, subject, 60, daemon)  # type: ignore[misc]
                latencies.append(done - sent)
            ms = [latency * 1000 for latency in latencies]
            print(
                f"  N={jobs}: push p50 {statistics.median(ms):.0f} ms,"
                f" p95 {percentile(ms, 95):.0f} ms, max {max(ms):.0f} ms",
                flush=True,
            )

            burst_subjects = (
                select(func.count())
                .select_from(Ticket)
                .where(Ticket.subject.like(f"Burst {jobs} %"))
            )
            first, burst_cpu = time.monotonic(), _cpu_seconds(daemon.pid)
            with ThreadPoolExecutor(BURST_THREADS) as pool:
                list(
                    pool.map(
                        lambda pair: _append(
                            dovecot, pair[1], probe(10_000 + pair[0], f"Burst {jobs} {pair[0]}")
                        ),
                        enumerate(users),
                    )
                )
            appended = time.monotonic() - first
            burst_done = _wait(
                lambda: _count(store, burst_subjects) >= jobs, "the burst", 600, daemon
            )
            burst = burst_done - first
            burst_cpu = _cpu_seconds(daemon.pid) - burst_cpu
            time.sleep(5)  # a late duplicate would show now
            with store.session() as session:
                tickets = session.scalar(burst_subjects) or 0
                distinct = session.scalar(
                    select(func.count(func.distinct(Ticket.subject))).where(
                        Ticket.subject.like(f"Burst {jobs} %")
                    )
                )
                journal = session.scalar(select(func.count()).select_from(IntakeRecord))
            exactly_once = tickets == distinct == jobs and journal == jobs + args.mails
            print(
                f"  N={jobs}: burst of {jobs} ticketed in {burst:.1f} s (APPENDs took"
                f" {appended:.1f} s); {tickets} tickets, {distinct} subjects,"
                f" {journal} journal rows:",
                "exactly once" if exactly_once else "NOT exactly once",
                f"; serve used {burst_cpu:.1f} CPU-s ({1000 * burst_cpu / jobs:.0f} ms a mail)",
                flush=True,
            )
        floor = server_floor(dovecot, 20)
        return Figures(
            jobs=jobs,
            ready=ready,
            first_passes=passes - started,
            rss_mib=rss_mib,
            peak_rss_mib=sampler.peak_mib,
            threads=threads,
            idle_cpu=idle_cpu,
            p50=statistics.median(ms),
            p95=percentile(ms, 95),
            worst=max(ms),
            floor_p50=statistics.median(floor) * 1000,
            burst=burst,
            burst_append=appended,
            start_cpu=start_cpu,
            burst_cpu=burst_cpu,
            exactly_once=exactly_once,
        )
    finally:
        daemon.terminate()
        try:
            code = daemon.wait(60)
            print(f"  N={jobs}: serve stopped, exit code {code}", flush=True)
        except subprocess.TimeoutExpired:
            daemon.kill()
            print(f"  N={jobs}: serve did not stop within 60 s; killed", flush=True)
        store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="10,100,1000", help="mailbox counts (default 10,100,1000)"
    )
    parser.add_argument("--mails", type=int, default=100, help="push-latency mails (default 100)")
    parser.add_argument("--idle-seconds", type=float, default=60.0, help="idle CPU window (60)")
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    parser.add_argument("--keep", type=Path, help="keep each size's files (serve.log...) here")
    parser.add_argument(
        "--deskmail-src", type=Path, help="run serve from this src/ (e.g. an older checkout's)"
    )
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    rows = []
    for jobs in sizes:
        dovecot = ScaleDovecot(shutil.which("dovecot") or DOVECOT, f"scale{jobs}")
        dovecot.start()
        try:
            with inotify_instances(2 * jobs + 256):
                if args.keep is not None:
                    work = args.keep / f"n{jobs}"
                    work.mkdir(parents=True)
                    rows.append(run_size(dovecot, jobs, args, work))
                else:
                    with tempfile.TemporaryDirectory(prefix="deskmail-scale-") as temp:
                        rows.append(run_size(dovecot, jobs, args, Path(temp)))
        finally:
            dovecot.stop()
    print()
    print(
        "| mailboxes | all IDLE on | first passes done | RSS (peak) | threads | idle CPU"
        " | push p50 / p95 / max (Dovecot alone p50) | burst: all ticketed (APPENDs took)"
        " | exactly once | serve CPU: start, burst a mail |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row.jobs:,} | {row.ready:.1f} s | {row.first_passes:.1f} s"
            f" | {row.rss_mib:.0f} MiB ({row.peak_rss_mib:.0f}) | {row.threads}"
            f" | {row.idle_cpu:.2f}% | {row.p50:.0f} / {row.p95:.0f} / {row.worst:.0f} ms"
            f" ({row.floor_p50:.0f} ms) | {row.burst:.1f} s ({row.burst_append:.1f} s)"
            f" | {'yes' if row.exactly_once else 'NO'}"
            f" | {row.start_cpu:.1f} s, {1000 * row.burst_cpu / row.jobs:.0f} ms |"
        )


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
