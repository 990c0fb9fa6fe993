"""Ingest throughput: deskmail `run-once` against the stdlib protocol floor.

    .venv/bin/python bench/ingest.py [--count 1000] [--reps 3] [--postgres] [--peer django-helpdesk]

Everything runs on loopback. Starts a private Dovecot (tests/support/dovecot.py;
run as root), generates the seeded support-mailbox corpus (bench/corpus.py,
copied from the reference harness ../shared/bench/corpus.py) and then, for
every repetition, alternating:

- the floor: stdlib imaplib, UID FETCH in batches of 100 of BODY.PEEK[] (read
  only), then parsing every message with email.policy.default and decoding
  every leaf part (as ../shared/bench/raw_fetch.py --parse does);
- deskmail end to end: `python -m deskmail run-once` as a subprocess with one
  plain IMAP job (after_processing = "delete") on a fresh Dovecot user freshly
  loaded with the corpus, on a fresh SQLite database (and, with --postgres, a
  fresh PostgreSQL database created on postgres@127.0.0.1:5432 and dropped
  after). msgs/s is messages over the wall time of the whole command
  (interpreter start-up and schema creation included); peak RSS is GNU time's
  maximum resident set size of the command.

After every deskmail run it checks that each corpus message has exactly one
intake record, with outcome "created" for a new request and "updated" on the
right ticket for a reply, and that the mailbox is empty. Any failure stops the
benchmark with a non-zero exit.

Mailboxes are loaded by writing straight into the user's Maildir/new (names as
in ../shared/bench/load.py, so UIDs follow corpus order), then a SELECT and a
FETCH of the sizes make Dovecot index them before anything is timed.
"""

from __future__ import annotations

import argparse
import contextlib
import email
import email.policy
import imaplib
import json
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ is not installed
from tests.support.dovecot import DOVECOT, Dovecot
from tests.support.toml_config import job_table, write_config

HERE = Path(__file__).resolve().parent
PASSWORD_ENV = "DESKMAIL_BENCH_PASSWORD"
POSTGRES_SERVER = "postgres@127.0.0.1:5432"
GNU_TIME = "/usr/bin/time"
BATCH = 100
HEADERS = ("Subject", "From", "To", "Cc", "Date", "Message-ID", "In-Reply-To")


@dataclass
class Series:
    """One measured path: seconds and peak RSS (MiB) per repetition."""

    label: str
    seconds: list[float] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)
    fixed: bool = False  # an empty-mailbox run: no msgs/s

    def rates(self, count: int) -> list[float]:
        return [] if self.fixed else [count / s for s in self.seconds]


# ---- corpus and mailbox -----------------------------------------------------


def make_corpus(count: int, seed: int, out: Path) -> dict[str, object]:
    subprocess.run(
        [sys.executable, str(HERE / "corpus.py"), "-n", str(count), "--seed", str(seed),
         "-o", str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    manifest: dict[str, object] = json.loads((out / "manifest.json").read_text("utf-8"))
    return manifest


def load_mailbox(dovecot: Dovecot, user: str, corpus: Path) -> None:
    """Write the corpus into user's Maildir/new (after ../shared/bench/load.py), then index."""
    with dovecot.imap(user):  # the first login and SELECT create the Maildir
        pass
    maildir = dovecot.base / "mail" / user / "Maildir"
    if not (maildir / "new").is_dir():
        raise SystemExit(f"{maildir}/new is missing")
    st = maildir.stat()
    host = socket.gethostname().replace("/", "\\057").replace(":", "\\072")
    sec, pid = int(time.time()), os.getpid()
    files = sorted(corpus.glob("*.eml"))
    for n, path in enumerate(files):
        data = path.read_bytes().replace(b"\r\n", b"\n")
        vsize = len(data) + data.count(b"\n")  # the size with CRLF line ends
        # usec = n keeps the names, and so the UIDs, in corpus order
        name = (
            f"{sec + n // 1_000_000}.M{n % 1_000_000}P{pid}Q{n + 1}.{host},S={len(data)},W={vsize}"
        )
        tmp = maildir / "tmp" / name
        tmp.write_bytes(data)
        os.chown(tmp, st.st_uid, st.st_gid)
        os.rename(tmp, maildir / "new" / name)
    with dovecot.imap(user) as client:  # SELECT syncs the Maildir and assigns UIDs
        uids = client.search("ALL")
        if uids:
            client.fetch(uids, ["RFC822.SIZE"])  # builds the index/cache before timing
    if len(uids) != len(files):
        raise SystemExit(f"loaded {len(files)} files but INBOX has {len(uids)}")


# ---- the floor ---------------------------------------------------------------


def fetch_all(dovecot: Dovecot, user: str) -> tuple[list[bytes], float]:
    """imaplib UID FETCH (BODY.PEEK[]) in batches; returns the messages and the FETCH seconds."""
    imap = imaplib.IMAP4("127.0.0.1", dovecot.imap_port)
    imap.login(user, dovecot.password)
    imap.select("INBOX", readonly=True)
    _typ, data = imap.uid("SEARCH", "ALL")
    uids = data[0].split()
    msgs: list[bytes] = []
    started = time.perf_counter()
    for i in range(0, len(uids), BATCH):
        chunk = b",".join(uids[i : i + BATCH]).decode()
        typ, data = imap.uid("FETCH", chunk, "(BODY.PEEK[])")
        if typ != "OK":
            raise SystemExit(f"UID FETCH failed: {data!r}")
        msgs.extend(part[1] for part in data if isinstance(part, tuple))
    seconds = time.perf_counter() - started
    imap.close()
    imap.logout()
    return msgs, seconds


def parse_all(msgs: list[bytes]) -> float:
    """Parse like an ingester (after ../shared/bench/raw_fetch.py): headers, body, every part."""
    started = time.perf_counter()
    for raw in msgs:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        for header in HEADERS:
            str(msg.get(header, ""))
        msg.get_body(preferencelist=("plain", "html"))
        for part in msg.walk():
            if part.is_multipart():
                continue
            part.get_content_disposition()
            try:
                part.get_content()
            except (LookupError, ValueError):
                part.get_payload(decode=True)
    return time.perf_counter() - started


# ---- deskmail ----------------------------------------------------------------


@contextlib.contextmanager
def postgresql_database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards."""
    name = f"deskmail_bench_{secrets.token_hex(4)}"
    admin = f"postgresql://{POSTGRES_SERVER}/postgres"
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{POSTGRES_SERVER}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_deskmail(
    dovecot: Dovecot, corpus: Path | None, url: str, work: Path, manifest: dict[str, object]
) -> tuple[float, float]:
    """One `run-once` on a freshly loaded user; checked; returns (seconds, peak RSS MiB).

    Without a corpus the mailbox is empty: the command's fixed cost (start-up,
    schema creation, login).
    """
    user = dovecot.user("ingest")
    if corpus is not None:
        load_mailbox(dovecot, user, corpus)
    else:
        with dovecot.imap(user):
            pass
    job = job_table(
        dovecot.job(user, "imap", "none"),
        name="Bench",
        after_processing="delete",
        password_env=PASSWORD_ENV,
        # The corpus's replies carry "[support-N]" (django-helpdesk's form, N = the
        # ticket number in delivery order): what a site moving over would configure.
        reference_pattern=r"\[support-(?P<number>\d+)\]",
    )
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=work))
    config = write_config(run_dir / "deskmail.toml", url, [job], run_dir / "blobs")
    rss_file = run_dir / "rss"
    command = [sys.executable, "-m", "deskmail", "run-once", "--config", str(config)]
    if os.access(GNU_TIME, os.X_OK):
        command = [GNU_TIME, "-f", "%M", "-o", str(rss_file), *command]
    env = {**os.environ, PASSWORD_ENV: dovecot.password}
    before = _children_maxrss()
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout.decode("utf-8", "replace")[-3000:])
        sys.stderr.write(done.stderr.decode("utf-8", "replace")[-3000:])
        raise SystemExit(f"deskmail run-once exited with {done.returncode}")
    if rss_file.exists():
        rss_mib = int(rss_file.read_text().split()[-1]) / 1024
    else:  # RUSAGE_CHILDREN is a maximum over all children: only a lower bound
        rss_mib = max(_children_maxrss(), before) / 1024
    if corpus is not None:
        check(url, manifest, dovecot, user)
    shutil.rmtree(run_dir, ignore_errors=True)
    return seconds, rss_mib


def _children_maxrss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def check(url: str, manifest: dict[str, object], dovecot: Dovecot, user: str) -> None:
    """Exactly one intake record per corpus message, the right outcome and ticket; INBOX empty."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT message_id, outcome, ticket_id FROM intake_record")
            ).all()
    finally:
        engine.dispose()
    by_id: dict[str, list[tuple[str, int | None]]] = {}
    for message_id, outcome, ticket_id in rows:
        by_id.setdefault((message_id or "").strip("<> "), []).append((outcome, ticket_id))
    messages = manifest["messages"]
    assert isinstance(messages, list)
    problems: list[str] = []
    ticket_of: dict[int, int | None] = {}  # corpus ticket number -> deskmail ticket id
    for entry in messages:
        found = by_id.get(entry["message_id"].strip("<> "), [])
        if len(found) != 1:
            problems.append(f"{entry['file']}: {len(found)} intake records")
            continue
        outcome, ticket_id = found[0]
        want = "created" if entry["expect"] == "ticket" else "updated"
        if outcome != want:
            problems.append(f"{entry['file']}: outcome {outcome}, expected {want}")
        if entry["expect"] == "ticket":
            ticket_of[entry["ticket"]] = ticket_id
        elif ticket_of.get(entry["ticket"]) != ticket_id:
            problems.append(f"{entry['file']}: reply on ticket {ticket_id}, not the referenced one")
    if len(rows) != len(messages):
        problems.append(f"{len(rows)} intake records for {len(messages)} messages")
    left = dovecot.count(user)
    if left:
        problems.append(f"{left} messages left in the mailbox")
    if problems:
        raise SystemExit("correctness check failed:\n  " + "\n  ".join(problems[:20]))


# ---- report ------------------------------------------------------------------


def _span(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    median = format(statistics.median(values), fmt)
    if len(values) == 1:
        return median
    return f"{median} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def report(count: int, total_bytes: int, series: list[Series], reps: int) -> None:
    print()
    print(f"N = {count} messages, {total_bytes / 1e6:.1f} MB; {reps} repetition(s);")
    print("median (min-max); msgs/s = messages / seconds")
    print()
    print("| path | msgs/s | seconds | peak RSS MiB |")
    print("|---|---|---|---|")
    for s in series:
        rss = _span(s.rss_mib, ".0f")
        print(
            f"| {s.label} | {_span(s.rates(count), ',.0f')} | {_span(s.seconds, '.3f')} | {rss} |"
        )
    print()
    rates = {s.label: statistics.median(s.rates(count)) for s in series if not s.fixed}
    secs = {s.label: statistics.median(s.seconds) for s in series}
    floor = rates["stdlib fetch + parse"]
    for s in series:
        if s.label.startswith("deskmail") and not s.fixed:
            print(f"ratio {s.label} / fetch+parse floor (msgs/s): {rates[s.label] / floor:.2f}")
    fixed = [s for s in series if s.fixed]
    if fixed:
        net = secs["deskmail run-once, SQLite"] - secs[fixed[0].label]
        print(
            f"deskmail SQLite with the fixed cost subtracted: {count / net:,.0f} msgs/s,"
            f" ratio to the floor {count / net / floor:.2f}"
        )
    if "deskmail run-once, PostgreSQL" in secs:
        ratio = secs["deskmail run-once, PostgreSQL"] / secs["deskmail run-once, SQLite"]
        print(f"ratio PostgreSQL / SQLite (seconds): {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="corpus size (default 1000)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--seed", type=int, default=42, help="corpus seed (default 42)")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL")
    parser.add_argument("--peer", choices=["django-helpdesk"], help="also measure a peer")
    args = parser.parse_args()

    if args.peer:
        print(f"--peer {args.peer}: not implemented yet (see ../shared/bench/)", file=sys.stderr)
    fetch = Series("stdlib UID FETCH x100 (BODY.PEEK[])")
    floor = Series("stdlib fetch + parse")
    sqlite = Series("deskmail run-once, SQLite")
    postgres = Series("deskmail run-once, PostgreSQL")
    empty = Series("deskmail run-once, SQLite, empty mailbox (fixed cost)", fixed=True)

    dovecot = Dovecot(shutil.which("dovecot") or DOVECOT, "bench", alt_address=False)
    with tempfile.TemporaryDirectory(prefix="deskmail-ingest-") as tmp:
        work = Path(tmp)
        corpus = work / "corpus"
        manifest = make_corpus(args.count, args.seed, corpus)
        summary = manifest["summary"]
        assert isinstance(summary, dict)
        print(
            f"corpus: {summary['count']} messages, {summary['total_bytes']} bytes,"
            f" {summary['expected_tickets']} requests + {summary['expected_followups']} replies",
            flush=True,
        )
        dovecot.start()
        try:
            floor_user = dovecot.user("floor")
            load_mailbox(dovecot, floor_user, corpus)
            for rep in range(1, args.reps + 1):
                msgs, fetch_s = fetch_all(dovecot, floor_user)
                if len(msgs) != args.count:
                    raise SystemExit(f"fetched {len(msgs)} of {args.count} messages")
                parse_s = parse_all(msgs)
                del msgs
                fetch.seconds.append(fetch_s)
                floor.seconds.append(fetch_s + parse_s)
                print(
                    f"rep {rep}: floor fetch {fetch_s:.3f} s, + parse {parse_s:.3f} s", flush=True
                )
                seconds, rss = run_deskmail(
                    dovecot, corpus, f"sqlite:///{work / f'sqlite-{rep}.db'}", work, manifest
                )
                sqlite.seconds.append(seconds)
                sqlite.rss_mib.append(rss)
                print(
                    f"rep {rep}: deskmail SQLite {seconds:.3f} s, {rss:.0f} MiB, checked",
                    flush=True,
                )
                seconds, rss = run_deskmail(
                    dovecot, None, f"sqlite:///{work / f'empty-{rep}.db'}", work, manifest
                )
                empty.seconds.append(seconds)
                empty.rss_mib.append(rss)
                if args.postgres:
                    with postgresql_database() as url:
                        seconds, rss = run_deskmail(dovecot, corpus, url, work, manifest)
                    postgres.seconds.append(seconds)
                    postgres.rss_mib.append(rss)
                    print(
                        f"rep {rep}: deskmail PostgreSQL {seconds:.3f} s, {rss:.0f} MiB, checked",
                        flush=True,
                    )
        finally:
            dovecot.stop()
    series = [fetch, floor, sqlite] + ([postgres] if args.postgres else [])
    series.append(empty)
    report(args.count, int(summary["total_bytes"]), series, args.reps)
    if args.peer:
        print(f"peer {args.peer}: not implemented yet")


if __name__ == "__main__":
    main()
