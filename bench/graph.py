"""The Graph source's benchmark: a backlog through Microsoft's limits, on loopback.

    .venv/bin/python bench/graph.py [--count 1000] [--seed 42] [--delay 0.02]
        [--budget 167/10] [--modes keep,mark_seen,move] [--fetch-threads 4]
        [--imap-runs 2] [--json FILE]

Starts the Graph fake and the identity-platform fake of the test suite
(tests/support/graph.py, tests/support/identity.py) in this process, with a
delay before every answer (--delay, 20 ms) and Microsoft's per-mailbox limits
enforced: 4 requests in flight (a fifth gets 429) and a budget of requests per
window, each request of a $batch counted (--budget; Microsoft's 10,000 per 600 s
scaled to the same 16.7 per second over 10 s windows, so a run spans several
windows). deskmail learns the same scaled budget: the run-once subprocess
starts with deskmail.sources.graph.client.MICROSOFT_BUDGET replaced (and
FETCH_THREADS with --fetch-threads), nothing else.

For each after-processing mode, a fresh mailbox is loaded with the seeded
corpus (bench/corpus.py) and `python -m deskmail run-once` runs once, as a
subprocess (deskmail compiled to bytecode first, as in bench/ingest.py), on a
fresh SQLite database; measured by bench/measure.py (wall
time, peak RSS of the process tree). Reported: mails per second (over the
whole command, start-up included), requests per mail as the fake counted them,
429 answers, what the budget and the concurrency limit allow for that many
requests per mail, and the share of it reached. Checked after every run: one
intake record per mail with the expected outcome, the expected number of
tickets, and the post-action applied to every mail on the server.

Peak RSS is set beside the IMAP run's on the same corpus, measured the same
way in the same benchmark (bench/ingest.py's `run-once` of a plain-IMAP job on
a private Dovecot, --imap-runs times: before the first Graph mode and after
the last, so a drift of the machine shows), as a ratio to their median.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ is not installed
import ingest  # bench/ingest.py: the corpus
import measure  # bench/measure.py
from tests.support.dovecot import DOVECOT, Dovecot
from tests.support.graph import (
    CLIENT_SECRET,
    CLIENT_SECRET_ENV,
    GraphFake,
    Microsoft365,
    start_graph,
)
from tests.support.identity import identity_platform
from tests.support.toml_config import write_config

MODES = ("keep", "mark_seen", "move")
# Replaces the budget and the fetch threads in the subprocess, then runs the CLI.
BOOT = """
import sys
import deskmail.sources.graph.client as client
import deskmail.sources.graph.source as source
from deskmail.sources.graph.throttle import Budget
client.MICROSOFT_BUDGET = Budget(requests={requests}, seconds={seconds})
source.FETCH_THREADS = {threads}
sys.argv = ["deskmail", *sys.argv[1:]]
from deskmail.entry import run
run()
"""


@dataclass
class Row:
    label: str  # the after-processing mode, or "large" for the large mails
    mode: str
    count: int
    seconds: float
    mails_per_second: float
    requests: int
    requests_per_mail: float
    throttled: int
    allowed_per_second: float  # mails/s the budget and the concurrency limit allow
    share: float  # mails_per_second / allowed_per_second
    peak_rss_mib: float


@dataclass
class ImapRow:
    """The IMAP run-once on the same corpus (bench/ingest.py), for its peak RSS."""

    count: int
    seconds: float
    peak_rss_mib: float
    label: str = "corpus"  # or "large": the large mails


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--delay", type=float, default=0.02, help="seconds per request")
    parser.add_argument("--budget", default="167/10", help="requests/seconds")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--fetch-threads", type=int, default=4)
    parser.add_argument(
        "--imap-runs", type=int, default=2, help="IMAP runs for the RSS beside (0: none)"
    )
    parser.add_argument(
        "--large",
        default="8x15",
        help="COUNTxMIB: that many mails with a MIB attachment, Graph and IMAP (0x0: none)",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    large_count, large_mib = (int(part) for part in args.large.split("x"))
    requests, seconds = (float(part) for part in args.budget.split("/"))
    work = Path(tempfile.mkdtemp(prefix="deskmail-bench-graph-"))
    try:
        corpus = ingest.finish_corpus(
            ingest.start_corpus(args.count, args.seed, work / "corpus"), work / "corpus"
        )
        mails = _mails(corpus)
        large = None
        if large_count:
            large = ingest.make_attachment_mail(
                work / "large", large_mib, args.seed, count=large_count
            )
        # From bytecode, as an installed package (and bench/ingest.py's runs).
        print(ingest.compile_bytecode([ingest.ROOT / "src" / "deskmail"]), flush=True)
        imap_rows: list[ImapRow] = []
        dovecot = Dovecot(shutil.which("dovecot") or DOVECOT, "bench", alt_address=False)
        if args.imap_runs:
            dovecot.start()
        try:
            imap_rows += _imap_runs(dovecot, corpus, work, (args.imap_runs + 1) // 2)
            runs = [(mode, mode, mails, corpus) for mode in args.modes.split(",")]
            if large is not None:
                runs.append(("large", "keep", _mails(large), large))
            rows = _graph_runs(runs, work, requests, seconds, args)
            imap_rows += _imap_runs(dovecot, corpus, work, args.imap_runs // 2)
            if large is not None and args.imap_runs:
                imap_rows += _imap_runs(dovecot, large, work, 1, label="large")
        finally:
            if args.imap_runs:
                dovecot.stop()
        _report(rows, imap_rows, args, large, large_mib)
        if args.json is not None:
            found = {"graph": [asdict(r) for r in rows], "imap": [asdict(r) for r in imap_rows]}
            args.json.write_text(json.dumps(found, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _mails(corpus: ingest.Corpus) -> list[bytes]:
    return [path.read_bytes() for path in sorted(corpus.path.glob("*.eml"))]


def _imap_runs(
    dovecot: Dovecot, corpus: ingest.Corpus, work: Path, runs: int, label: str = "corpus"
) -> list[ImapRow]:
    found = []
    for _ in range(runs):
        print(f"imap: {corpus.count} mails ...", flush=True)
        measured = ingest.run_deskmail(dovecot, work, corpus)  # checked there
        found.append(ImapRow(corpus.count, measured.seconds, measured.tree_mib, label))
    return found


def _graph_runs(
    runs: list[tuple[str, str, list[bytes], ingest.Corpus]],
    work: Path,
    requests: float,
    seconds: float,
    args: argparse.Namespace,
) -> list[Row]:
    """Each (label, after_processing, mails, corpus) on a fresh mailbox, one after another."""
    rows = []
    with identity_platform(_dir(work / "identity")) as platform:
        graph = start_graph(_dir(work / "graph"))
        try:
            app = platform.register(secret=CLIENT_SECRET)
            graph.state.trusted_key = platform.key
            graph.state.delay = args.delay
            graph.state.budget = (int(requests), seconds)
            m365 = Microsoft365(graph, platform, app.client_id)
            for index, (label, mode, mails, corpus) in enumerate(runs):
                if index:  # the last run's requests leave the server's window first
                    time.sleep(seconds + 1)
                row = _run(m365, label, mode, mails, corpus, work, requests, seconds, args)
                rows.append(row)
        finally:
            graph.server.stop()
    return rows


def _dir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


def _run(
    m365: Microsoft365,
    label: str,
    mode: str,
    mails: list[bytes],
    corpus: ingest.Corpus,
    work: Path,
    requests: float,
    seconds: float,
    args: argparse.Namespace,
) -> Row:
    from tests.support.graph import graph_job_settings

    state = m365.state
    address = f"bench-{label}@contoso.example"
    state.add_mailbox(address)
    state.add_folder(address, "Inbox/Support/Done")
    for raw in mails:
        state.deliver(address, "Inbox/Support", raw)
    run_dir = _dir(work / f"run-{label}")
    url = f"sqlite:///{run_dir / 'deskmail.db'}"
    settings = {"after_processing": mode, "user": address, "name": f"Bench {label}"}
    if mode == "move":
        settings["move_to"] = "Inbox/Support/Done"
    job = graph_job_settings(m365, reference_pattern=r"\[support-(?P<number>\d+)\]", **settings)
    config = write_config(run_dir / "deskmail.toml", url, [job], run_dir / "blobs")
    boot = BOOT.format(requests=int(requests), seconds=seconds, threads=args.fetch_threads)
    env = {
        **os.environ,
        CLIENT_SECRET_ENV: CLIENT_SECRET,
        "DESKMAIL_SECRET_KEY_FILE": str(run_dir / "secret.key"),
    }
    before_requests, before_throttled = state.counters.requests, state.counters.throttled
    print(f"graph {label}: {len(mails)} mails ...", flush=True)
    measured = measure.run(
        [sys.executable, "-c", boot, "run-once", "--config", str(config)], env=env
    )
    if measured.returncode != 0:
        sys.stderr.write(measured.stdout.decode("utf-8", "replace")[-3000:])
        sys.stderr.write(measured.stderr.decode("utf-8", "replace")[-3000:])
        raise SystemExit(f"deskmail run-once exited with {measured.returncode}")
    _check(url, corpus, m365.graph, address, mode)
    spent = state.counters.requests - before_requests
    per_mail = spent / len(mails)
    per_second = min(requests / seconds, 4 / args.delay if args.delay else float("inf"))
    allowed = per_second / per_mail
    rate = len(mails) / measured.seconds
    return Row(
        label=label,
        mode=mode,
        count=len(mails),
        seconds=measured.seconds,
        mails_per_second=rate,
        requests=spent,
        requests_per_mail=per_mail,
        throttled=state.counters.throttled - before_throttled,
        allowed_per_second=allowed,
        share=rate / allowed,
        peak_rss_mib=measured.tree_mib,
    )


def _check(url: str, corpus: ingest.Corpus, graph: GraphFake, address: str, mode: str) -> None:
    """One intake record per mail with its expected outcome; the post-action on every mail."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT message_id, outcome, acknowledged_at FROM intake_record")
            ).all()
            tickets = conn.execute(text("SELECT count(*) FROM ticket")).scalar_one()
    finally:
        engine.dispose()
    problems = []
    outcome = {(row.message_id or "").strip("<> "): row.outcome for row in rows}
    for entry in corpus.manifest["messages"]:
        expected = "created" if entry["expect"] == "ticket" else "updated"
        got = outcome.get(entry["message_id"].strip("<> "))
        if got != expected:
            problems.append(f"{entry['file']}: {got}, expected {expected}")
    if len(rows) != corpus.count:
        problems.append(f"{len(rows)} intake records for {corpus.count} mails")
    if any(row.acknowledged_at is None for row in rows):
        problems.append("not every record acknowledged")
    if tickets != corpus.summary["expected_tickets"]:
        problems.append(f"{tickets} tickets, expected {corpus.summary['expected_tickets']}")
    waiting = graph.state.in_folder(address, "Inbox/Support")
    if mode == "mark_seen" and not all(m.is_read for m in waiting):
        problems.append("not every mail marked read")
    if mode == "move" and (waiting or len(graph.state.in_folder(address, "Inbox/Support/Done"))
                           != corpus.count):  # fmt: skip
        problems.append("not every mail moved")
    if problems:
        raise SystemExit("correctness check failed:\n  " + "\n  ".join(problems[:20]))


def _report(
    rows: list[Row],
    imap_rows: list[ImapRow],
    args: argparse.Namespace,
    large: ingest.Corpus | None,
    large_mib: int,
) -> None:
    modes = [row for row in rows if row.label != "large"]
    print()
    print(
        f"Graph fake: {args.delay * 1000:.0f} ms per request, 4 concurrent,"
        f" budget {args.budget} requests/s window; {args.fetch_threads} fetch thread(s)"
    )
    print()
    print(
        "| after_processing | mails | seconds | mails/s | requests/mail | 429s"
        " | allowed mails/s | share | peak RSS MiB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in modes:
        print(
            f"| {row.mode} | {row.count:,} | {row.seconds:.1f} | {row.mails_per_second:.2f}"
            f" | {row.requests_per_mail:.3f} | {row.throttled} | {row.allowed_per_second:.2f}"
            f" | {row.share:.0%} | {row.peak_rss_mib:.1f} |"
        )
    corpus_runs = [row for row in imap_rows if row.label == "corpus"]
    if corpus_runs:
        imap = statistics.median(row.peak_rss_mib for row in corpus_runs)
        print()
        runs = ", ".join(f"{row.peak_rss_mib:.1f}" for row in corpus_runs)
        print(
            f"IMAP run-once, same corpus ({len(corpus_runs)} run(s): {runs} MiB; median {imap:.1f})"
        )
        print()
        print("| after_processing | Graph peak RSS MiB | IMAP peak RSS MiB | Graph / IMAP |")
        print("|---|---:|---:|---:|")
        for row in modes:
            print(
                f"| {row.mode} | {row.peak_rss_mib:.1f} | {imap:.1f}"
                f" | {row.peak_rss_mib / imap:.3f} |"
            )
    graph_large = [row for row in rows if row.label == "large"]
    imap_large = [row for row in imap_rows if row.label == "large"]
    if large is None or not graph_large:
        return
    print()
    print(
        f"Large mails: {large.count} requests, each with a {large_mib} MiB"
        f" attachment ({large.summary['total_bytes'] / 1e6:.1f} MB of mail), keep"
    )
    print()
    print("| source | seconds | peak RSS MiB | / IMAP |")
    print("|---|---:|---:|---:|")
    imap_mib = imap_large[0].peak_rss_mib if imap_large else None
    for name, seconds, mib in [
        ("graph", graph_large[0].seconds, graph_large[0].peak_rss_mib),
        *[("imap", row.seconds, row.peak_rss_mib) for row in imap_large],
    ]:
        ratio = f"{mib / imap_mib:.3f}" if imap_mib else "-"
        print(f"| {name} | {seconds:.1f} | {mib:.1f} | {ratio} |")


if __name__ == "__main__":
    main()
