"""Several `deskmail serve` on one PostgreSQL database; one SIGKILLed while mail arrives.

    .venv/bin/python bench/failover.py [--mailboxes 300] [--instances 3] [--rate 2]
                                       [--before 30] [--after 60] [--keep DIR]

Starts a private Dovecot (bench/scale.py's, limits raised; run as root) with
one user per mailbox and one plain IMAP listener per instance, a fresh
PostgreSQL database (postgres@127.0.0.1:5432, dropped afterwards), and
--instances `deskmail serve` processes with the same N IMAP IDLE jobs
(schedule "1h": only the push makes tickets) and the default [cluster]
settings (lease 15 s, renewed every 5 s). Each instance reaches Dovecot on a
listener of its own, so Dovecot's log says which instance opened each session.

Once the jobs are spread (every instance at its share, every held job's IDLE
session on), mail arrives at --rate mails a second to random mailboxes; after
--before seconds the first instance is SIGKILLed; mail goes on for --after
seconds more. Reports:

- take-over: seconds from the kill until every job the dead instance held is
  leased by a live one, and until each of them has its IDLE session on again;
- push latency (APPEND -> ticket committed, polled on another connection):
  p50 / max before the kill, and the worst of the mails sent to the dead
  instance's mailboxes after the kill (target: under 30 s);
- exactly once: one ticket and one journal row per mail sent;
- no job held twice: overlapping spans in the lease history, and mailboxes
  that Dovecot served on two instances' listeners at overlapping times.

Prints one Markdown table row at the end (bench/README.md, README "Several instances").
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
from idle_latency import percentile, probe  # bench/idle_latency.py
from scale import PASSWORD_ENV, ScaleDovecot, _append, inotify_instances  # bench/scale.py
from sqlalchemy import func, select, text

from deskmail.store.engine import Store
from deskmail.store.migrate import upgrade
from deskmail.store.models import IntakeRecord, Ticket

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ is not installed
from tests.support.dovecot import DOVECOT
from tests.support.dovecot import _free_port as free_port
from tests.support.toml_config import job_table, write_config

SERVER = "postgres@127.0.0.1:5432"
POLL = 0.05


class FailoverDovecot(ScaleDovecot):
    """One extra plain IMAP listener per instance, and the local port in each login line."""

    def __init__(self, binary: str, name: str, instances: int) -> None:
        super().__init__(binary, name)
        self.instance_ports = [free_port() for _ in range(instances)]

    def _render_config(self, uid: int, gid: int) -> str:
        extra = "".join(
            f"  inet_listener imap_i{n} {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n"
            for n, port in enumerate(self.instance_ports)
        )
        rendered = super()._render_config(uid, gid)
        rendered = rendered.replace("service imap-login {\n", "service imap-login {\n" + extra, 1)
        rendered = rendered.replace("lip=%l ", "lip=%l lport=%{lport} ", 1)
        return rendered + 'log_timestamp = "%Y-%m-%d %H:%M:%S.%{usecs} "\n'


@dataclass
class Sent:
    subject: str
    job: str
    at: float  # monotonic, just before the APPEND


def _database() -> str:
    name = f"deskmail_failover_{secrets.token_hex(4)}"
    with psycopg.connect(f"postgresql://{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def _drop(name: str) -> None:
    with psycopg.connect(f"postgresql://{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')


def _holders(store: Store) -> dict[str, str]:
    """Live leases: job -> holder."""
    with store.session() as session:
        rows = session.execute(
            text(
                "SELECT job, holder FROM job_lease WHERE holder IS NOT NULL AND expires_at > now()"
            )
        ).all()
    return {str(job): str(holder) for job, holder in rows}


def _instance_pids(store: Store) -> dict[str, int]:
    with store.session() as session:
        return {
            str(i): int(p) for i, p in session.execute(text("SELECT id, pid FROM daemon_instance"))
        }


_IDLE_ON = re.compile(r"job (Mailbox \d+): waiting for new mail")


def _idle_on(log: Path, since: int = 0) -> set[str]:
    with open(log, "rb") as file:
        file.seek(since)
        return set(_IDLE_ON.findall(file.read().decode("utf-8", "replace")))


def _lease_overlaps(store: Store) -> int:
    with store.session() as session:
        return int(
            session.scalar(
                text(
                    "SELECT count(*) FROM lease_history a JOIN lease_history b"
                    " ON a.job = b.job AND a.id < b.id AND a.holder <> b.holder"
                    " AND a.held_from < COALESCE(b.held_until, 'infinity')"
                    " AND b.held_from < COALESCE(a.held_until, 'infinity')"
                )
            )
            or 0
        )


_LOGIN = re.compile(
    r"^(\S+ \S+) imap-login: Info: Login: user=<([^>]+)>.*?lport=(\d+).*?session=<([^>]+)>"
)
_END = re.compile(r"^(\S+ \S+) imap\(([^)]+)\)<\d+><([^>]+)>: Info: (?:Logged out|Disconnected)")


def _dovecot_overlaps(log: str, ports: dict[int, int]) -> tuple[int, int]:
    """(sessions seen, mailboxes served by two instances' listeners at overlapping times)."""
    starts: dict[str, tuple[str, int, datetime]] = {}
    spans: dict[str, list[tuple[datetime, datetime, int]]] = {}
    for line in log.splitlines():
        if match := _LOGIN.match(line):
            when, user, port, session = match.groups()
            if int(port) in ports:
                starts[session] = (user, ports[int(port)], datetime.fromisoformat(when))
        elif (match := _END.match(line)) and match.group(3) in starts:
            user, instance, began = starts.pop(match.group(3))
            ended = datetime.fromisoformat(match.group(1))
            spans.setdefault(user, []).append((began, ended, instance))
    end_of_log = datetime.max
    for session, (user, instance, began) in starts.items():  # still open (or killed silently)
        spans.setdefault(user, []).append((began, end_of_log, instance))
        del session
    overlapping = 0
    for sessions in spans.values():
        sessions.sort()
        if any(
            b[2] != a[2] and b[0] < a[1] for i, a in enumerate(sessions) for b in sessions[i + 1 :]
        ):
            overlapping += 1
    return sum(len(s) for s in spans.values()), overlapping


def run(args: argparse.Namespace, work: Path, dovecot: FailoverDovecot, database: str) -> str:
    url = f"postgresql+psycopg://{SERVER}/{database}"
    upgrade(url)
    store = Store(url, work / "blobs")
    users = [f"fail{n:04d}" for n in range(args.mailboxes)]
    names = [f"Mailbox {n:04d}" for n in range(args.mailboxes)]
    job_of = dict(zip(users, names, strict=True))
    configs = []
    for instance, port in enumerate(dovecot.instance_ports):
        tables = [
            job_table(
                dovecot.job(user, security="none", port=port),
                name=name,
                schedule="1h",
                idle=True,
                after_processing="delete",
                password_env=PASSWORD_ENV,
            )
            for user, name in zip(users, names, strict=True)
        ]
        configs.append(
            write_config(work / f"instance-{instance}.toml", url, tables, work / "blobs")
        )
    logs = [config.with_suffix(".log") for config in configs]
    daemons = []
    started = time.monotonic()
    for config, log in zip(configs, logs, strict=True):
        with open(log, "wb") as out:
            daemons.append(
                subprocess.Popen(
                    [sys.executable, "-m", "deskmail", "-v", "serve", "--config", str(config)],
                    env={**os.environ, PASSWORD_ENV: dovecot.password},
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
    port_of = {port: n for n, port in enumerate(dovecot.instance_ports)}
    stop_sending = threading.Event()
    sent: list[Sent] = []
    seen: dict[str, float] = {}
    try:
        share = -(-args.mailboxes // args.instances)
        while True:  # spread, and every held job's IDLE session on
            if any(d.poll() is not None for d in daemons):
                raise SystemExit("a deskmail serve exited early; see " + str(work))
            holders, pids = _holders(store), _instance_pids(store)
            by_pid: dict[int, set[str]] = {}
            for job, holder in holders.items():
                by_pid.setdefault(pids.get(holder, -1), set()).add(job)
            spread = len(holders) == args.mailboxes and all(
                args.mailboxes // args.instances <= len(by_pid.get(d.pid, set())) <= share
                for d in daemons
            )
            if spread and all(
                by_pid.get(d.pid, set()) <= _idle_on(log)
                for d, log in zip(daemons, logs, strict=True)
            ):
                break
            if time.monotonic() - started > 600:
                raise SystemExit("not spread after 600 s; see " + str(work))
            time.sleep(1.0)
        ready = time.monotonic() - started
        print(
            f"spread after {ready:.1f} s: "
            + ", ".join(f"pid {d.pid} {len(by_pid.get(d.pid, set()))}" for d in daemons),
            flush=True,
        )

        def collect() -> None:
            last = 0
            while not stop_sending.is_set() or len(seen) < len(sent):
                with store.session() as session:
                    rows = session.execute(
                        select(Ticket.id, Ticket.subject)
                        .where(Ticket.id > last)
                        .order_by(Ticket.id)
                    ).all()
                now = time.monotonic()
                for ticket_id, subject in rows:
                    seen.setdefault(subject, now)
                    last = max(last, ticket_id)
                if stop_sending.is_set() and time.monotonic() > deadline[0]:
                    return
                time.sleep(POLL)

        def send() -> None:
            rng, n = random.Random(7), 0
            while not stop_sending.is_set():
                user = rng.choice(users)
                subject = f"Steady {n}"
                at = _append(dovecot, user, probe(n, subject))
                sent.append(Sent(subject, job_of[user], at))
                n += 1
                stop_sending.wait(max(0.0, at + 1 / args.rate - time.monotonic()))

        deadline = [float("inf")]
        collector = threading.Thread(target=collect, daemon=True)
        sender = threading.Thread(target=send, daemon=True)
        collector.start()
        sender.start()
        time.sleep(args.before)
        victim = daemons[0]
        victim_jobs = by_pid.get(victim.pid, set())
        survivors = list(zip(daemons[1:], logs[1:], strict=True))
        offsets = [log.stat().st_size for _d, log in survivors]
        load = os.getloadavg()
        victim.kill()
        killed = time.monotonic()
        victim.wait(10)
        print(f"killed pid {victim.pid} (held {len(victim_jobs)} jobs)", flush=True)
        leased_at = idle_at = None
        while time.monotonic() - killed < args.after or idle_at is None:
            if leased_at is None:
                holders, pids = _holders(store), _instance_pids(store)
                if all(
                    pids.get(holders.get(job, ""), victim.pid) != victim.pid for job in victim_jobs
                ):
                    leased_at = time.monotonic() - killed
                    print(f"  every job leased again after {leased_at:.1f} s", flush=True)
            if leased_at is not None and idle_at is None:
                on = set().union(
                    *(
                        _idle_on(log, offset)
                        for (_d, log), offset in zip(survivors, offsets, strict=True)
                    )
                )
                if victim_jobs <= on:
                    idle_at = time.monotonic() - killed
                    print(f"  every job's IDLE on again after {idle_at:.1f} s", flush=True)
            if time.monotonic() - killed > 300:
                break
            time.sleep(0.2)
        stop_sending.set()
        sender.join(30)
        deadline[0] = time.monotonic() + 180
        collector.join(200)
        missing = [m.subject for m in sent if m.subject not in seen]
        latencies = {m.subject: seen[m.subject] - m.at for m in sent if m.subject in seen}
        before = [latencies[m.subject] for m in sent if m.at < killed and m.subject in latencies]
        during = [
            latencies[m.subject]
            for m in sent
            if m.at >= killed and m.job in victim_jobs and m.subject in latencies
        ]
        time.sleep(5)  # a late duplicate would show now
        with store.session() as session:
            tickets = session.scalar(select(func.count()).select_from(Ticket)) or 0
            distinct = session.scalar(select(func.count(func.distinct(Ticket.subject)))) or 0
            journal = session.scalar(select(func.count()).select_from(IntakeRecord)) or 0
        exactly_once = tickets == distinct == journal == len(sent) and not missing
        lease_overlaps = _lease_overlaps(store)
        sessions, dovecot_overlaps = _dovecot_overlaps(dovecot.log_since(0), port_of)
        print(
            f"sent {len(sent)} mails, {tickets} tickets, {distinct} subjects, {journal} journal"
            f" rows, {len(missing)} missing:",
            "exactly once" if exactly_once else "NOT exactly once",
            flush=True,
        )
        print(
            f"push before the kill: p50 {1000 * statistics.median(before):.0f} ms,"
            f" p95 {1000 * percentile(before, 95):.0f} ms, max {1000 * max(before):.0f} ms;"
            f" {len(during)} mails to the dead instance's mailboxes after the kill:"
            f" max {max(during, default=0):.1f} s",
            flush=True,
        )
        print(
            f"lease history: {lease_overlaps} overlapping spans; Dovecot: {sessions} sessions,"
            f" {dovecot_overlaps} mailboxes served by two instances at once",
            flush=True,
        )
        for daemon in daemons[1:]:
            daemon.terminate()
        codes = [daemon.wait(60) for daemon in daemons[1:]]
        print(f"survivors stopped, exit codes {codes}", flush=True)
        return (
            f"| {args.mailboxes} | {args.instances} | {args.rate:g}/s | {ready:.0f} s"
            f" | {len(victim_jobs)} | {leased_at:.1f} s | {idle_at:.1f} s"
            f" | {1000 * statistics.median(before):.0f} ms / {max(before):.1f} s"
            f" | {max(during, default=0):.1f} s ({len(during)} mails)"
            f" | {len(sent)} sent, {tickets} tickets, {journal} journal rows:"
            f" {'yes' if exactly_once else 'NO'}"
            f" | {lease_overlaps} / {dovecot_overlaps} of {sessions} sessions"
            f" | {load[0]:.2f} |"
        )
    finally:
        stop_sending.set()
        for daemon in daemons:
            if daemon.poll() is None:
                daemon.kill()
                daemon.wait(10)
        store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mailboxes", type=int, default=300)
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--rate", type=float, default=2.0, help="mails a second (default 2)")
    parser.add_argument(
        "--before", type=float, default=30.0, help="seconds of mail before the kill"
    )
    parser.add_argument("--after", type=float, default=60.0, help="seconds of mail after the kill")
    parser.add_argument("--keep", type=Path, help="keep the files (serve logs, Dovecot's) here")
    args = parser.parse_args()
    dovecot = FailoverDovecot(shutil.which("dovecot") or DOVECOT, "failover", args.instances)
    dovecot.start()
    database = _database()
    try:
        with inotify_instances(2 * args.mailboxes + 256):
            if args.keep is not None:
                args.keep.mkdir(parents=True, exist_ok=True)
                row = run(args, args.keep, dovecot, database)
            else:
                with tempfile.TemporaryDirectory(prefix="deskmail-failover-") as temp:
                    row = run(args, Path(temp), dovecot, database)
    finally:
        dovecot.stop()
        _drop(database)
    print()
    print(
        "| mailboxes | instances | mail | spread after start | jobs of the killed one"
        " | leased again | IDLE on again | push before: p50 / max | worst push to its mailboxes"
        " after the kill | exactly once | overlaps: lease history / Dovecot | load (1 min) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(row)


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
