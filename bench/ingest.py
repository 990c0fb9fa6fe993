"""deskmail's performance benchmark, in one command, on loopback.

    .venv/bin/python bench/ingest.py --all          # everything (what `make bench` runs)
    .venv/bin/python bench/ingest.py [--count 1000] [--reps 3] [--seed 42] [--postgres]
        [--peer django-helpdesk] [--latency [N]] [--memory] [--memory-sizes 1000,10000]
        [--attachment-mib 25] [--subject-search] [--json FILE] [--profile FILE]

Starts a private Dovecot (tests/support/dovecot.py, as the test suite does;
run as root), generates the seeded support-mailbox corpus (bench/corpus.py,
copied from the reference harness ../shared/bench/corpus.py), and measures,
alternating within every repetition so that drift in the machine hits all
paths alike:

- the protocol floor: stdlib imaplib, UID FETCH in batches of 100 of
  BODY.PEEK[] (read only); then the same messages parsed with
  email.policy.default, the usual headers read and every leaf part decoded
  (as ../shared/bench/raw_fetch.py --parse does);
- deskmail end to end: `python -m deskmail run-once` as a subprocess with one
  plain IMAP job (after_processing = "delete") on a fresh Dovecot user freshly
  loaded with the corpus, on a fresh SQLite database, then the same on an
  empty mailbox (the command's fixed cost), and with --postgres on a fresh
  PostgreSQL database (created on postgres@127.0.0.1:5432, dropped after);
- with --peer django-helpdesk: django-helpdesk 2.6.1's `manage.py get_email`
  (installed from PyPI into its own venv under /tmp, see peer_helpdesk.py) on
  the same Dovecot, the corpus loaded fresh for it too, from a pristine
  database every time; and once per repetition on an empty mailbox.

msgs/s is messages over the wall time of the whole command (interpreter
start-up, schema creation, login, everything, expunge); for the floor the
FETCH loop only (login apart), and fetch + parse for the parse floor.

Memory, for every command: **peak RSS** is the peak of the summed VmRSS of the
process and all its descendants, sampled from /proc every 20 ms, so that
`run-once --parse-worker`'s second process is counted; **peak PSS**
the same for Pss, which counts the pages the worker still shares with its
parent once: what the command costs. Next to them GNU time's %M (`/usr/bin/time
-f %M`, the kernel's maximum resident set size of the main process). See
bench/measure.py. The floor runs inside this process and keeps every message
on purpose: no RSS for it.

Then, once each, after the repetitions:

- --memory: deskmail run-once (SQLite) at 1,000 and 10,000 messages
  (--memory-sizes), and on one mail carrying a 25 MiB attachment
  (--attachment-mib): its peak RSS above the empty-mailbox run, and how many
  times the attachment's size that is;
- --latency N (100 when given without N, and under --all): push latency with
  `deskmail serve` on an IDLE-capable job, from an IMAP APPEND to the
  committed ticket, one mail at a time, p50 and p95; and the Dovecot-alone
  floor, APPEND -> EXISTS on a bare IDLE session (bench/idle_latency.py, which
  also runs alone);
- --profile FILE: one more SQLite run under `python -m cProfile -o FILE`
  (not timed) and its top 25 functions by cumulative time.

With --subject-search, each repetition also runs deskmail on SQLite twice on a
database made beforehand by `deskmail db upgrade` (not timed), once as made and
once with the subject-search triggers and their FTS5 table dropped (the bench's
switch; the product always has them), in alternating order: the ratio of the
two, of the medians and of each repetition's pair, in wall and CPU seconds.

Correctness is checked after every deskmail run: each corpus message has
exactly one intake record, "created" with a ticket of its own for a new
request, "updated" with a mail activity on the ticket of the message it
refers to for a reply; no other intake records and no other tickets; every
record acknowledged and the mailbox empty. Any failure stops the benchmark
with a non-zero exit. The peer is checked likewise (tickets, follow-ups on
the right tickets, mailbox empty) and its problems are reported.

Ends with one Markdown table (median and min-max over the repetitions), the
ratios, and a header of machine facts; --json FILE writes it all as JSON.

Mailboxes are loaded by writing straight into the user's Maildir/new (names as
in ../shared/bench/load.py, so UIDs follow corpus order), then a SELECT and a
FETCH of the sizes make Dovecot index them before anything is timed.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import datetime
import email
import email.policy
import email.utils
import hashlib
import imaplib
import json
import os
import pstats
import random
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import create_engine, text

from deskmail.store import subject_search

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ is not installed
import idle_latency  # bench/idle_latency.py
import measure  # bench/measure.py
import peer_helpdesk  # bench/peer_helpdesk.py
from tests.support.dovecot import DOVECOT, Dovecot
from tests.support.toml_config import job_table, write_config

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PASSWORD_ENV = "DESKMAIL_BENCH_PASSWORD"
POSTGRES_SERVER = "postgres@127.0.0.1:5432"
BATCH = 100
HEADERS = ("Subject", "From", "To", "Cc", "Date", "Message-ID", "In-Reply-To")
MIB = 1024 * 1024

# The rows of the report
FLOOR_FETCH = "floor: stdlib UID FETCH x100 (BODY.PEEK[])"
FLOOR_PARSE = "floor: stdlib fetch + parse"
SQLITE = "deskmail run-once, SQLite"
POSTGRES = "deskmail run-once, PostgreSQL"
EMPTY = "deskmail run-once, SQLite, empty mailbox (fixed cost)"
PEER = "django-helpdesk get_email"
PEER_EMPTY = "django-helpdesk get_email, empty mailbox (fixed cost)"
MEMORY_PREFIX = "memory: deskmail run-once, SQLite,"
WORKER = "deskmail run-once --parse-worker, SQLite"
PEER_NAME = "django-helpdesk"
# --subject-search: both with the schema made beforehand by `deskmail db upgrade` (not
# timed), the second with the SQLite subject-search triggers and table dropped from it.
SEARCH_ON = "deskmail run-once, SQLite, schema made first"
SEARCH_OFF = "deskmail run-once, SQLite, schema made first, no subject-search triggers"
LATENCY = "push latency: APPEND -> committed ticket (deskmail serve)"
LATENCY_FLOOR = "push latency floor: APPEND -> IDLE EXISTS (Dovecot alone)"


@dataclass
class Series:
    """One measured path: seconds and peak RSS (MiB) per run."""

    label: str
    count: int  # messages per run
    # "rate": msgs/s; "fixed": an empty mailbox; "single": one mail; "latency": one per mail
    kind: str = "rate"
    seconds: list[float] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)  # process tree, sampled
    pss_mib: list[float] = field(default_factory=list)  # process tree, sampled
    max_rss_mib: list[float] = field(default_factory=list)  # GNU time %M
    cpu_seconds: list[float] = field(default_factory=list)  # GNU time %U + %S

    def rates(self) -> list[float]:
        return [self.count / s for s in self.seconds] if self.kind == "rate" else []

    def add(self, measured: measure.Measured) -> None:
        self.seconds.append(measured.seconds)
        self.rss_mib.append(measured.tree_mib)
        self.pss_mib.append(measured.tree_pss_mib)
        if measured.max_rss_mib is not None:
            self.max_rss_mib.append(measured.max_rss_mib)
        if measured.cpu_seconds is not None:
            self.cpu_seconds.append(measured.cpu_seconds)

    def median(self, what: str = "seconds") -> float:
        values: list[float] = self.rates() if what == "rate" else getattr(self, what)
        return statistics.median(values)


@dataclass
class Corpus:
    path: Path
    manifest: dict[str, Any]

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    @property
    def summary(self) -> dict[str, Any]:
        summary: dict[str, Any] = self.manifest["summary"]
        return summary

    @property
    def count(self) -> int:
        return int(self.summary["count"])


def say(line: str) -> None:
    print(line, flush=True)


# ---- corpus and mailbox -----------------------------------------------------


def start_corpus(count: int, seed: int, out: Path) -> subprocess.Popen[bytes]:
    """corpus.py in the background: corpora are made before anything is timed, side by side."""
    command = [sys.executable, str(HERE / "corpus.py"), "-n", str(count), "--seed", str(seed)]
    return subprocess.Popen([*command, "-o", str(out)], stdout=subprocess.DEVNULL)


def finish_corpus(process: subprocess.Popen[bytes], out: Path) -> Corpus:
    if process.wait() != 0:
        raise SystemExit(f"corpus.py failed for {out}")
    return Corpus(out, json.loads((out / "manifest.json").read_text("utf-8")))


def make_attachment_mail(out: Path, mib: int, seed: int, count: int = 1) -> Corpus:
    """count requests, each carrying an attachment of mib MiB (random, so incompressible),
    base64."""
    out.mkdir(parents=True)
    entries, total = [], 0
    for n in range(1, count + 1):
        msg = EmailMessage()
        msg["From"] = "Dana Whitfield <dana.whitfield@contoso.example>"
        msg["To"] = "Support <support@helpdesk.example>"
        msg["Subject"] = "Full diagnostics capture from the failing server"
        msg["Date"] = email.utils.format_datetime(
            datetime.datetime(2026, 11, 24, 9, 30, tzinfo=datetime.UTC)
        )
        suffix = f"-{n}" if count > 1 else ""
        message_id = f"<bench-attachment-{mib}mib-{seed}{suffix}@contoso.example>"
        msg["Message-ID"] = message_id
        msg.set_content("Hello,\n\nthe capture you asked for is attached.\n\nDana\n")
        payload = random.Random(seed + n - 1).randbytes(mib * MIB)
        msg.add_attachment(
            payload, maintype="application", subtype="octet-stream", filename="capture.bin"
        )
        data = msg.as_bytes(policy=email.policy.default.clone(linesep="\n"))
        name = f"{n:06d}.eml"
        (out / name).write_bytes(data)
        entry = {"file": name, "kind": "attach", "message_id": message_id,
                 "expect": "ticket", "ticket": n, "attachment_bytes": len(payload)}  # fmt: skip
        entries.append(entry)
        total += len(data)
    summary = {"count": count, "seed": seed, "total_bytes": total, "expected_tickets": count,
               "expected_followups": 0}  # fmt: skip
    manifest = {"summary": summary, "messages": entries}
    (out / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    return Corpus(out, manifest)


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
        found = len(uids)
        if uids:
            client.fetch(uids, ["RFC822.SIZE"])  # builds the index/cache before timing
    if found != len(files):
        raise SystemExit(f"loaded {len(files)} files but INBOX has {found}")


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
    dovecot: Dovecot,
    work: Path,
    corpus: Corpus | None,
    *,
    postgres: bool = False,
    profile: Path | None = None,
    parse_worker: bool = False,
    schema_first: bool = False,
    search_triggers: bool = True,
) -> measure.Measured:
    """One `run-once` on a freshly loaded user and a fresh database; checked.

    Without a corpus the mailbox is empty: the command's fixed cost (start-up,
    schema creation, login). With profile, the run is under cProfile. With
    schema_first the database is made by `deskmail db upgrade` before the timed
    command, and without search_triggers (SQLite) its subject-search triggers and
    table are dropped then: the bench's switch, the product always has them.
    """
    user = dovecot.user("ingest")
    if corpus is not None:
        load_mailbox(dovecot, user, corpus.path)
    else:
        with dovecot.imap(user):
            pass
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=work))
    try:
        with contextlib.ExitStack() as stack:
            if postgres:
                url = stack.enter_context(postgresql_database())
            else:
                url = f"sqlite:///{run_dir / 'deskmail.db'}"
            measured = _run_once(
                dovecot, user, url, run_dir, profile, parse_worker, schema_first, search_triggers
            )
            if corpus is not None:
                check(url, corpus, dovecot, user)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    return measured


def _run_once(
    dovecot: Dovecot,
    user: str,
    url: str,
    run_dir: Path,
    profile: Path | None,
    parse_worker: bool = False,
    schema_first: bool = False,
    search_triggers: bool = True,
) -> measure.Measured:
    job = job_table(
        dovecot.job(user, "imap", "none"),
        name="Bench",
        after_processing="delete",
        password_env=PASSWORD_ENV,
        # The corpus's replies carry "[support-N]" (django-helpdesk's form, N = the
        # ticket number in delivery order): what a site moving over would configure.
        reference_pattern=r"\[support-(?P<number>\d+)\]",
    )
    config = write_config(run_dir / "deskmail.toml", url, [job], run_dir / "blobs")
    env = {**os.environ, PASSWORD_ENV: dovecot.password}
    if schema_first:
        upgrade = [sys.executable, "-m", "deskmail", "db", "upgrade", "--config", str(config)]
        subprocess.run(upgrade, env=env, check=True, capture_output=True)
        if not search_triggers:
            drop_subject_search(url)
    python = [sys.executable, "-m", "cProfile", "-o", str(profile)] if profile else [sys.executable]
    command = [*python, "-m", "deskmail", "run-once", "--config", str(config)]
    if parse_worker:
        command.append("--parse-worker")
    measured = measure.run(command, env=env)
    if measured.returncode != 0:
        sys.stderr.write(measured.stdout.decode("utf-8", "replace")[-3000:])
        sys.stderr.write(measured.stderr.decode("utf-8", "replace")[-3000:])
        raise SystemExit(f"deskmail run-once exited with {measured.returncode}")
    return measured


def drop_subject_search(url: str) -> None:
    """The SQLite subject-search index and its triggers, gone (store/subject_search.py)."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in subject_search.SQLITE_DROP:
                connection.execute(text(statement))
            left = connection.execute(
                text("SELECT count(*) FROM sqlite_master WHERE name LIKE 'ticket_subject_search%'")
            ).scalar_one()
    finally:
        engine.dispose()
    if left:
        raise SystemExit(f"the subject-search table or triggers are still there ({left})")


def check(url: str, corpus: Corpus, dovecot: Dovecot, user: str) -> None:
    """Exactly one ticket or activity per corpus message, on the right ticket; nothing left."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT message_id, outcome, ticket_id, activity_id, acknowledged_at"
                    " FROM intake_record"
                )
            ).all()
            tickets = conn.execute(text("SELECT count(*) FROM ticket")).scalar_one()
            activities: dict[int, int] = dict(
                conn.execute(text("SELECT id, ticket_id FROM activity WHERE kind = 'mail'")).all()
            )
            stored = {size for (size,) in conn.execute(text("SELECT size FROM attachment"))}
    finally:
        engine.dispose()
    by_id: dict[str, list[Any]] = {}
    for row in rows:
        by_id.setdefault((row.message_id or "").strip("<> "), []).append(row)
    messages = corpus.manifest["messages"]
    problems: list[str] = []
    ticket_of: dict[int, int | None] = {}  # corpus ticket number -> deskmail ticket id
    created: set[int | None] = set()
    for entry in messages:
        found = by_id.get(entry["message_id"].strip("<> "), [])
        if len(found) != 1:
            problems.append(f"{entry['file']}: {len(found)} intake records")
            continue
        row = found[0]
        if row.acknowledged_at is None:
            problems.append(f"{entry['file']}: not acknowledged")
        if entry["expect"] == "ticket":
            if row.outcome != "created":
                problems.append(f"{entry['file']}: outcome {row.outcome}, expected created")
            elif row.ticket_id in created:
                problems.append(f"{entry['file']}: created ticket {row.ticket_id} again")
            ticket_of[entry["ticket"]] = row.ticket_id
            created.add(row.ticket_id)
        else:
            if row.outcome != "updated":
                problems.append(f"{entry['file']}: outcome {row.outcome}, expected updated")
            elif activities.get(row.activity_id) != row.ticket_id:
                problems.append(f"{entry['file']}: no mail activity on ticket {row.ticket_id}")
            if ticket_of.get(entry["ticket"]) != row.ticket_id:
                problems.append(
                    f"{entry['file']}: on ticket {row.ticket_id}, not the referenced one"
                )
        if "attachment_bytes" in entry and entry["attachment_bytes"] not in stored:
            problems.append(f"{entry['file']}: its {entry['attachment_bytes']} B file not stored")
    if len(rows) != len(messages):
        problems.append(f"{len(rows)} intake records for {len(messages)} messages")
    if tickets != corpus.summary["expected_tickets"]:
        problems.append(f"{tickets} tickets, expected {corpus.summary['expected_tickets']}")
    left = dovecot.count(user)
    if left:
        problems.append(f"{left} messages left in the mailbox")
    if problems:
        raise SystemExit("correctness check failed:\n  " + "\n  ".join(problems[:20]))


def print_profile(path: Path, top: int = 25) -> list[str]:
    """The top functions by cumulative time, printed and returned."""
    import io

    out = io.StringIO()
    pstats.Stats(str(path), stream=out).sort_stats("cumulative").print_stats(top)
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    keep = [line for line in lines[start:] if line]
    say("\n".join(keep))
    return keep


# ---- machine facts -----------------------------------------------------------


def _command(*args: str) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=20)
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def deskmail_commit() -> str:
    """HEAD, and a hash of the uncommitted changes under src/ if there are any."""
    commit = _command("git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD") or "?"
    dirty = _command("git", "-C", str(ROOT), "status", "--porcelain", "--", "src")
    if dirty:
        diff = subprocess.run(
            ["git", "-C", str(ROOT), "diff", "HEAD", "--", "src"], capture_output=True
        ).stdout
        changed = len(dirty.splitlines())
        commit += (
            f" + uncommitted changes in src/ ({changed} files, diff sha256"
            f" {hashlib.sha256(diff).hexdigest()[:12]})"
        )
    return commit


def compile_bytecode(folders: list[Path]) -> str:
    """Both programs run from compiled bytecode, as an installed package does.

    pip compiles a package's .pyc files when it installs it (the peer's, and
    the libraries both use); deskmail's editable install and the peer's
    generated project are sources that Python compiles on import and caches,
    unless PYTHONDONTWRITEBYTECODE is set, when it compiles them again in
    every run (~0.07 s of deskmail's start-up here).
    """
    for folder in folders:
        if not compileall.compile_dir(folder, quiet=1):
            raise SystemExit(f"compileall failed for {folder}")
    names = ", ".join(folder.name for folder in folders)
    unset = "unset" if "PYTHONDONTWRITEBYTECODE" not in os.environ else "set"
    return f"compiled before timing ({names}); PYTHONDONTWRITEBYTECODE {unset}"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as /proc/loadavg gives them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine_facts(dovecot_binary: str) -> dict[str, str]:
    cpu = "?"
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / MIB:.0f} GiB"
    os_name = "?"
    with contextlib.suppress(OSError), open("/etc/os-release") as handle:
        for line in handle:
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip().strip('"')
    try:
        with psycopg.connect(f"postgresql://{POSTGRES_SERVER}/postgres", connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            postgres = str(row[0]) if row else "?"
    except psycopg.Error as exc:
        postgres = f"not reachable ({type(exc).__name__})"
    return {
        "date_utc": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "cpu": cpu,
        "cores": f"{os.cpu_count()} ({len(os.sched_getaffinity(0))} usable)",
        "memory": memory,
        "os": os_name,
        "python": sys.version.split()[0],
        "dovecot": _command(dovecot_binary, "--version") or "?",
        "postgresql_server": postgres,
        "deskmail_commit": deskmail_commit(),
        "loadavg_start": load_average(),
    }


# ---- report ------------------------------------------------------------------


def _span(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    median = format(statistics.median(values), fmt)
    if len(values) == 1:
        return median
    return f"{median} ({format(min(values), fmt)}-{format(max(values), fmt)})"


def _key(label: str) -> str:
    """A JSON key from a label: "SQLite --parse-worker" -> "sqlite_parse_worker"."""
    return "_".join(label.lower().replace("-", " ").split())


def _row(s: Series) -> str:
    if s.kind == "latency":
        ms = [v * 1000 for v in s.seconds]
        seconds = (
            f"p50 {statistics.median(ms):.0f} ms ({min(ms):.0f}-{max(ms):.0f}),"
            f" p95 {idle_latency.percentile(ms, 95):.0f} ms"
        )
        rss = f"{_span(s.rss_mib, '.0f')} | {_span(s.pss_mib, '.0f')}"
        return f"| {s.label} | {s.count} mails | - | {seconds} | {rss} | - |"
    rate = _span(s.rates(), ",.0f")
    return (
        f"| {s.label} | {s.count:,} | {rate} | {_span(s.seconds, '.3f')}"
        f" | {_span(s.rss_mib, '.0f')} | {_span(s.pss_mib, '.0f')}"
        f" | {_span(s.max_rss_mib, '.0f')} |"
    )


def report(
    facts: dict[str, str], corpus: Corpus, reps: int, series: list[Series], extra: dict[str, Any]
) -> dict[str, float]:
    """Prints the header, the table and the ratios; returns the ratios."""
    by = {s.label: s for s in series}
    say("")
    say("## deskmail benchmark")
    say("")
    for key, fact in facts.items():
        say(f"- {key.replace('_', ' ')}: {fact}")
    summary = corpus.summary
    say(
        f"- corpus: N = {corpus.count:,} messages, seed {summary['seed']},"
        f" {summary['total_bytes'] / 1e6:.1f} MB, {summary['expected_tickets']} requests"
        f" + {summary['expected_followups']} replies, {summary['attachments']} attachments;"
        f" {reps} repetition(s), alternating"
    )
    say("")
    say("median (min-max) over the runs; msgs/s = messages / seconds of the whole command;")
    say("peak RSS / PSS = summed VmRSS / Pss of the process tree, sampled every 20 ms")
    say("(PSS counts a page shared by n processes 1/n in each: a forked worker's shared")
    say("pages once); %M = GNU time's maximum RSS of the command's main process")
    say("")
    say("| path | N | msgs/s | seconds | peak RSS MiB | peak PSS MiB | %M MiB |")
    say("|---|---|---|---|---|---|---|")
    for s in series:
        say(_row(s))
    say("")
    ratios: dict[str, float] = {}

    def ratio(name: str, value: float, line: str) -> None:
        ratios[name] = round(value, 4)
        say(f"- {line}")

    floor = by.get(FLOOR_PARSE)
    peer = by.get(PEER)
    deskmail = ((SQLITE, "SQLite"), (WORKER, "SQLite --parse-worker"), (POSTGRES, "PostgreSQL"))
    for other, name, what in ((floor, "floor", "floor fetch+parse"), (peer, "peer", PEER_NAME)):
        for label, short in deskmail:
            if label in by and other:
                value = by[label].median("rate") / other.median("rate")
                ratio(
                    f"deskmail_{_key(short)}_over_{name}",
                    value,
                    f"deskmail {short} / {what} (msgs/s): **{value:.2f}**",
                )
    if POSTGRES in by:
        value = by[POSTGRES].median() / by[SQLITE].median()
        ratio(
            "postgresql_over_sqlite_seconds", value, f"PostgreSQL / SQLite (seconds): {value:.2f}"
        )
    if SEARCH_ON in by and SEARCH_OFF in by:
        on, off = by[SEARCH_ON].median(), by[SEARCH_OFF].median()
        value = on / off
        ratio(
            "subject_search_on_over_off_seconds",
            value,
            f"SQLite with / without the subject-search triggers (seconds): **{value:.3f}**"
            f" ({on:.2f} / {off:.2f} s; the triggers' share of the run: {(on - off) / on:.1%})",
        )
        # Each repetition's two runs are neighbours: their ratio cancels slower drift.
        pairs = [a / b for a, b in zip(by[SEARCH_ON].seconds, by[SEARCH_OFF].seconds, strict=True)]
        value = statistics.median(pairs)
        ratio(
            "subject_search_on_over_off_paired",
            value,
            f"the same, median of each repetition's pair: **{value:.3f}**"
            f" ({min(pairs):.3f}-{max(pairs):.3f})",
        )
        on_cpu, off_cpu = by[SEARCH_ON].cpu_seconds, by[SEARCH_OFF].cpu_seconds
        if on_cpu and len(on_cpu) == len(off_cpu):
            pairs = [a / b for a, b in zip(on_cpu, off_cpu, strict=True)]
            value = statistics.median(pairs)
            ratio(
                "subject_search_on_over_off_cpu_paired",
                value,
                f"the same in CPU seconds (%U + %S), median of the pairs: **{value:.3f}**"
                f" ({min(pairs):.3f}-{max(pairs):.3f}; medians {statistics.median(on_cpu):.2f}"
                f" / {statistics.median(off_cpu):.2f} s)",
            )
    memory = [s for s in series if s.label.startswith(MEMORY_PREFIX) and s.kind == "rate"]
    if len(memory) >= 2:
        small, large = memory[0], memory[-1]
        value = large.median("rss_mib") / small.median("rss_mib")
        ratio(
            f"rss_{large.count}_over_{small.count}",
            value,
            f"peak RSS {large.count:,} / {small.count:,} messages: {value:.2f}"
            f" ({large.median('rss_mib'):.0f} / {small.median('rss_mib'):.0f} MiB)",
        )
        value = large.median("pss_mib") / small.median("pss_mib")
        ratio(
            f"pss_{large.count}_over_{small.count}",
            value,
            f"peak PSS {large.count:,} / {small.count:,} messages: {value:.2f}"
            f" ({large.median('pss_mib'):.0f} / {small.median('pss_mib'):.0f} MiB)",
        )
    big = by.get(extra.get("attachment_label", ""))
    empty = by.get(EMPTY)
    if big and empty:
        above = big.median("rss_mib") - empty.median("rss_mib")
        mib = extra["attachment_mib"]
        gnu = ""
        if big.max_rss_mib and empty.max_rss_mib:
            gnu_above = big.median("max_rss_mib") - empty.median("max_rss_mib")
            gnu = f"; by %M {gnu_above:.0f} MiB = {gnu_above / mib:.1f} x"
        ratio(
            "attachment_rss_above_empty_mib",
            above,
            f"one mail with a {mib} MiB attachment: peak RSS {above:.0f} MiB above the"
            f" empty-mailbox run = **{above / mib:.1f} x** the attachment{gnu}",
        )
        ratios["attachment_rss_above_empty_x"] = round(above / mib, 2)
    if empty and SQLITE in by and floor:
        net = by[SQLITE].median() - empty.median()
        value = corpus.count / net / floor.median("rate")
        ratio(
            "deskmail_sqlite_net_over_floor",
            value,
            f"deskmail SQLite with its fixed cost ({empty.median():.2f} s) subtracted:"
            f" {corpus.count / net:,.0f} msgs/s, {value:.2f} of the floor",
        )
    peer_empty = by.get(PEER_EMPTY)
    if peer and peer_empty:
        net = peer.median() - peer_empty.median()
        say(
            f"- django-helpdesk with its fixed cost ({peer_empty.median():.2f} s) subtracted:"
            f" {corpus.count / net:,.0f} msgs/s"
        )
    push, server = by.get(LATENCY), by.get(LATENCY_FLOOR)
    for name, found in (("latency", push), ("latency_floor", server)):
        if found:
            ms = [v * 1000 for v in found.seconds]
            ratios[f"{name}_p50_ms"] = round(statistics.median(ms), 1)
            ratios[f"{name}_p95_ms"] = round(idle_latency.percentile(ms, 95), 1)
    if push and server:
        own = (push.median() - server.median()) * 1000
        ratio(
            "latency_own_share_p50_ms",
            own,
            f"push latency, deskmail's own share of p50: {own:.0f} ms",
        )
    return ratios


# ---- main --------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="corpus size (default 1000)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--seed", type=int, default=42, help="corpus seed (default 42)")
    parser.add_argument("--postgres", action="store_true", help="also on PostgreSQL")
    parser.add_argument("--peer", choices=["django-helpdesk"], help="also measure a peer")
    parser.add_argument(
        "--latency", type=int, nargs="?", const=100, metavar="N",
        help="push latency over N mails (100 without N)",
    )  # fmt: skip
    parser.add_argument("--memory", action="store_true", help="the memory-growth runs")
    parser.add_argument(
        "--subject-search", action="store_true",
        help="what the SQLite subject-search triggers cost: run-once with and without them",
    )  # fmt: skip
    parser.add_argument(
        "--memory-sizes", default="1000,10000", metavar="N,N",
        help="corpus sizes of the memory runs (default 1000,10000)",
    )  # fmt: skip
    parser.add_argument(
        "--attachment-mib", type=int, default=25, help="the big attachment (default 25 MiB)"
    )
    parser.add_argument(
        "--all", action="store_true",
        help="= --postgres --peer django-helpdesk --latency 100 --memory",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results here")
    parser.add_argument(
        "--profile", type=Path, metavar="FILE",
        help="one more SQLite run under cProfile (not timed); prints the top 25",
    )  # fmt: skip
    args = parser.parse_args()
    if args.all:
        args.postgres = True
        args.peer = args.peer or "django-helpdesk"
        args.latency = max(args.latency or 100, 100)
        args.memory = True
    args.sizes = sorted({int(n) for n in args.memory_sizes.split(",") if n.strip()})
    if args.reps < 1 or args.count < 1 or (args.latency is not None and args.latency < 1):
        parser.error("--count, --reps and --latency must be at least 1")
    if args.memory and (not args.sizes or min(args.sizes) < 1 or args.attachment_mib < 1):
        parser.error("--memory-sizes and --attachment-mib must be positive")
    return args


class Bench:
    """One benchmark: its Dovecot, corpora, peer and every series measured."""

    def __init__(self, args: argparse.Namespace, work: Path, dovecot: Dovecot) -> None:
        self.args = args
        self.work = work
        self.dovecot = dovecot
        count = args.count
        self.fetch = Series(FLOOR_FETCH, count)
        self.floor = Series(FLOOR_PARSE, count)
        self.sqlite = Series(SQLITE, count)
        self.worker = Series(WORKER, count)
        self.postgres = Series(POSTGRES, count)
        self.empty = Series(EMPTY, 0, "fixed")
        self.search_on = Series(SEARCH_ON, count)
        self.search_off = Series(SEARCH_OFF, count)
        self.peer = Series(PEER, count)
        self.peer_empty = Series(PEER_EMPTY, 0, "fixed")
        self.memory: list[Series] = []
        self.latency: list[Series] = []
        self.extra: dict[str, Any] = {"attachment_mib": args.attachment_mib}
        self.peer_runs: list[dict[str, Any]] = []
        self.profile_top: list[str] = []
        self.corpora: dict[int, Corpus] = {}
        self.big: Corpus | None = None
        self.helpdesk: peer_helpdesk.Helpdesk | None = None
        self.floor_user = ""

    @property
    def corpus(self) -> Corpus:
        return self.corpora[self.args.count]

    def make_corpora(self) -> None:
        """Every corpus first, side by side (nothing is being timed yet)."""
        args = self.args
        say(f"generating corpora (seed {args.seed}) in {self.work}")
        sizes = [args.count] + ([n for n in args.sizes if n != args.count] if args.memory else [])
        started = {n: start_corpus(n, args.seed, self.work / f"corpus-{n}") for n in sizes}
        for n, process in started.items():
            self.corpora[n] = finish_corpus(process, self.work / f"corpus-{n}")
        for n, corpus in self.corpora.items():
            s = corpus.summary
            say(
                f"corpus {n:,}: {s['total_bytes'] / 1e6:.1f} MB, {s['expected_tickets']} requests"
                f" + {s['expected_followups']} replies, {s['attachments']} attachments"
            )
        if args.memory:
            self.big = make_attachment_mail(
                self.work / "attachment", args.attachment_mib, args.seed
            )
            size = self.big.summary["total_bytes"]
            say(f"one mail with a {args.attachment_mib} MiB attachment: {size:,} bytes")

    def setup(self, facts: dict[str, str]) -> None:
        """The peer (venv, project, database) and the floor's mailbox, before any timing."""
        compiled = [ROOT / "src" / "deskmail"]
        if self.args.peer:
            self.helpdesk = peer_helpdesk.Helpdesk(self.work / "helpdesk", self.dovecot)
            say(f"peer: {self.helpdesk.setup()}")
            versions = f"django-helpdesk {self.helpdesk.version}, Django {self.helpdesk.django}"
            say(f"peer: {versions}")
            facts["peer"] = versions
            compiled.append(self.helpdesk.project)
        facts["bytecode"] = compile_bytecode(compiled)
        self.floor_user = self.dovecot.user("floor")
        load_mailbox(self.dovecot, self.floor_user, self.corpus.path)

    def repetition(self, rep: int) -> None:
        """Every path once, in the same order each time."""
        dovecot, work, corpus = self.dovecot, self.work, self.corpus
        msgs, fetch_s = fetch_all(dovecot, self.floor_user)
        if len(msgs) != corpus.count:
            raise SystemExit(f"fetched {len(msgs)} of {corpus.count} messages")
        parse_s = parse_all(msgs)
        del msgs
        self.fetch.seconds.append(fetch_s)
        self.floor.seconds.append(fetch_s + parse_s)
        say(f"rep {rep}: floor fetch {fetch_s:.3f} s, + parse {parse_s:.3f} s")
        m = run_deskmail(dovecot, work, corpus)
        self.sqlite.add(m)
        say(f"rep {rep}: deskmail SQLite {_fmt(m)}, checked")
        m = run_deskmail(dovecot, work, corpus, parse_worker=True)
        self.worker.add(m)
        say(f"rep {rep}: deskmail SQLite --parse-worker {_fmt(m)}, checked")
        m = run_deskmail(dovecot, work, None)
        self.empty.add(m)
        say(f"rep {rep}: deskmail SQLite, empty mailbox {_fmt(m)}")
        if self.args.subject_search:
            # One before the other, the order swapped each repetition.
            for on in (True, False) if rep % 2 else (False, True):
                m = run_deskmail(dovecot, work, corpus, schema_first=True, search_triggers=on)
                (self.search_on if on else self.search_off).add(m)
                without = "" if on else ", no subject-search triggers"
                say(f"rep {rep}: deskmail SQLite, schema made first{without} {_fmt(m)}, checked")
        if self.args.postgres:
            m = run_deskmail(dovecot, work, corpus, postgres=True)
            self.postgres.add(m)
            say(f"rep {rep}: deskmail PostgreSQL {_fmt(m)}, checked")
        if self.helpdesk is not None:
            user = dovecot.user("peer")
            load_mailbox(dovecot, user, corpus.path)
            run = self.helpdesk.run(user, corpus.manifest_path)
            self.peer.add(run.measured)
            self.peer_runs.append(_peer_record(rep, run, corpus.count))
            say(f"rep {rep}: django-helpdesk {_fmt(run.measured)}, {_peer_line(run)}")
            user = dovecot.user("peerempty")
            with dovecot.imap(user):
                pass
            run = self.helpdesk.run(user, None)
            self.peer_empty.add(run.measured)
            self.peer_runs.append(_peer_record(rep, run, 0))
            say(f"rep {rep}: django-helpdesk, empty mailbox {_fmt(run.measured)}")

    def memory_runs(self) -> None:
        """run-once (SQLite) at every memory size, then on the one mail with a big attachment."""
        for n in self.args.sizes:
            s = Series(f"{MEMORY_PREFIX} {n:,} msgs", n)
            s.add(run_deskmail(self.dovecot, self.work, self.corpora[n]))
            self.memory.append(s)
            say(f"memory: deskmail SQLite, {n:,} messages {_fmt_series(s)}, checked")
        assert self.big is not None
        mib = self.args.attachment_mib
        s = Series(f"{MEMORY_PREFIX} 1 mail, {mib} MiB attachment", 1, "single")
        s.add(run_deskmail(self.dovecot, self.work, self.big))
        self.memory.append(s)
        self.extra["attachment_label"] = s.label
        say(f"memory: deskmail SQLite, {mib} MiB attachment {_fmt_series(s)}, checked")

    def latency_runs(self, mails: int) -> None:
        """Push latency with deskmail serve (fresh SQLite), then Dovecot alone."""
        say(f"push latency: deskmail serve, {mails} mails, one at a time")
        with tempfile.TemporaryDirectory(prefix="latency-", dir=self.work) as tmp:
            url = f"sqlite:///{Path(tmp) / 'deskmail.db'}"
            pushed, rss = idle_latency.deskmail_latency(
                self.dovecot, mails, url, Path(tmp), verbose=False
            )
        self.latency.append(Series(LATENCY, mails, "latency", seconds=pushed, rss_mib=[rss]))
        say(f"push latency: {idle_latency.summary('deskmail', pushed)}")
        say(f"push latency: deskmail serve peak RSS {rss:.0f} MiB")
        say(f"push latency floor: Dovecot alone, {mails} mails")
        server = idle_latency.server_floor(self.dovecot, mails)
        self.latency.append(Series(LATENCY_FLOOR, mails, "latency", seconds=server))
        say(f"push latency floor: {idle_latency.summary('Dovecot', server)}")

    def profile_run(self, path: Path) -> None:
        say(f"profile: one more deskmail SQLite run under cProfile (not timed) -> {path}")
        run_deskmail(self.dovecot, self.work, self.corpus, profile=path.absolute())
        self.profile_top = print_profile(path)

    def series(self) -> list[Series]:
        args = self.args
        found = [self.fetch, self.floor, self.sqlite, self.worker]
        found += [self.search_on, self.search_off] if args.subject_search else []
        found += [self.postgres] if args.postgres else []
        found += [self.peer] if args.peer else []
        found += [self.empty] + ([self.peer_empty] if args.peer else [])
        return found + self.memory + self.latency


def main() -> None:
    args = parse_args()
    began = time.perf_counter()
    binary = shutil.which("dovecot") or DOVECOT
    facts = machine_facts(binary)
    dovecot = Dovecot(binary, "bench", alt_address=False)
    with tempfile.TemporaryDirectory(prefix="deskmail-bench-") as tmp:
        bench = Bench(args, Path(tmp), dovecot)
        bench.make_corpora()
        dovecot.start()
        try:
            bench.setup(facts)
            for rep in range(1, args.reps + 1):
                bench.repetition(rep)
            if args.memory:
                bench.memory_runs()
            if args.latency:
                bench.latency_runs(args.latency)
            if args.profile:
                bench.profile_run(args.profile)
        finally:
            dovecot.stop()
    facts["loadavg_end"] = load_average()
    if deskmail_commit() != facts["deskmail_commit"]:  # the code measured is not one version
        facts["deskmail_commit_at_end"] = f"{deskmail_commit()} (CHANGED DURING THE RUN)"
    facts["wall_time"] = f"{time.perf_counter() - began:.0f} s for the whole benchmark"
    series = bench.series()
    ratios = report(facts, bench.corpus, args.reps, series, bench.extra)
    if args.peer:
        _print_peer(bench.peer_runs)
    if args.json:
        result = {
            "machine": facts,
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "corpus": bench.corpus.summary,
            "series": [
                {**asdict(s), "median_seconds": s.median(), "median_msgs_per_s": (
                    s.median("rate") if s.kind == "rate" else None)}
                for s in series
            ],
            "ratios": ratios,
            "peer_runs": bench.peer_runs,
            "profile_top": bench.profile_top,
        }  # fmt: skip
        args.json.write_text(json.dumps(result, indent=1), "utf-8")
        say(f"\nresults written to {args.json}")


def _fmt(m: measure.Measured) -> str:
    gnu = f", %M {m.max_rss_mib:.0f} MiB" if m.max_rss_mib is not None else ""
    return f"{m.seconds:.3f} s, peak RSS {m.tree_mib:.0f} MiB, PSS {m.tree_pss_mib:.0f} MiB{gnu}"


def _fmt_series(s: Series) -> str:
    gnu = f", %M {s.max_rss_mib[-1]:.0f} MiB" if s.max_rss_mib else ""
    return (
        f"{s.seconds[-1]:.3f} s, peak RSS {s.rss_mib[-1]:.0f} MiB, PSS {s.pss_mib[-1]:.0f} MiB{gnu}"
    )


def _peer_record(rep: int, run: peer_helpdesk.PeerRun, count: int) -> dict[str, Any]:
    return {
        "rep": rep,
        "count": count,
        "empty_mailbox": count == 0,
        "seconds": run.measured.seconds,
        "returncode": run.measured.returncode,
        "tickets": run.check.get("tickets"),
        "followups": run.check.get("followups"),
        "followups_on_existing": run.check.get("followups_on_existing"),
        "attachments": run.check.get("attachments"),
        "left_in_mailbox": run.left,
        "starttls": run.starttls,
        "problems": run.problems,
        "log": run.log,
    }


def _peer_line(run: peer_helpdesk.PeerRun) -> str:
    c = run.check
    state = "checked" if not run.problems else f"{len(run.problems)} PROBLEMS"
    return (
        f"{c.get('tickets')} tickets + {c.get('followups_on_existing')} follow-ups on existing"
        f" tickets, {run.left} left, STARTTLS {'yes' if run.starttls else 'NO'}, {state}"
    )


def _print_peer(records: list[dict[str, Any]]) -> None:
    full = [r for r in records if not r["empty_mailbox"]]
    say("")
    say("django-helpdesk, what it made of the mailbox:")
    for r in full:
        levels = ", ".join(f"{k} {v}" for k, v in sorted(r["log"]["levels"].items())) or "none"
        say(
            f"- rep {r['rep']}: {r['tickets']} tickets + {r['followups_on_existing']} follow-ups"
            f" on existing tickets = {r['tickets'] + r['followups_on_existing']} of {r['count']}"
            f" messages ({r['followups']} follow-ups in all), {r['attachments']}"
            f" attachments stored, {r['left_in_mailbox']} left in the mailbox, STARTTLS"
            f" {'yes' if r['starttls'] else 'no'}, exit {r['returncode']};"
            f" log: {levels}, tracebacks {r['log']['tracebacks']};"
            f" check: {'ok' if not r['problems'] else '; '.join(r['problems'][:5])}"
        )
    if full:
        for message, times in full[-1]["log"]["top"]:
            say(f"  - log, {times}x: {message}")
    for r in records:
        if r["empty_mailbox"] and r["problems"]:
            say(f"- empty-mailbox rep {r['rep']}: {'; '.join(r['problems'][:5])}")


if __name__ == "__main__":
    main()
