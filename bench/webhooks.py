"""Webhooks: what the outbox costs intake, and how fast the queue is posted.

Takes the seeded corpus (bench/corpus.py) in from a Maildir with run_job, in
this process, on a fresh database each time: with no webhook endpoint (the
outbox only reads the empty endpoint list, once per transaction), then with
one endpoint subscribed to every kind (a message row and a delivery row per
ticket or activity), the two interleaved. Then posts that queue to a local
receiver (the tests' tests/support/webhook_receiver.py) with
`Deliverer.deliver_due` and reports deliveries per second. Wall and CPU time
(this process's): on a shared machine the CPU time is the steadier figure. The
median of --repeat runs; nothing here asserts a time.

    .venv/bin/python bench/webhooks.py [--count 1000] [--repeat 3] [--postgres]
"""

from __future__ import annotations

import argparse
import logging
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ is not installed
from cryptography.fernet import Fernet, MultiFernet
from tests.support.webhook_receiver import Receiver

from deskmail.config.models import JobConfig
from deskmail.intake.run import run_job
from deskmail.store.engine import Store
from deskmail.store.migrate import upgrade
from deskmail.webhooks.delivery import Deliverer
from deskmail.webhooks.endpoints import add_endpoint

HERE = Path(__file__).resolve().parent
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'{secrets.token_hex(4)}.db'}"
        return
    import psycopg

    name = f"deskmail_bench_{secrets.token_hex(6)}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{POSTGRES}/{name}"
    finally:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def maildir_with(corpus: Path, folder: Path) -> Path:
    box = folder / f"box-{secrets.token_hex(4)}"
    for sub in ("new", "cur", "tmp"):
        (box / sub).mkdir(parents=True)
    for mail in sorted(corpus.glob("*.eml")):
        shutil.copy(mail, box / "new" / mail.name)
    return box


def one_run(kind: str, corpus: Path, folder: Path, endpoints: int, receiver: Receiver) -> dict:
    keys = MultiFernet([Fernet(Fernet.generate_key())])
    with database(kind, folder) as url:
        upgrade(url)
        store = Store(url, folder / f"blobs-{secrets.token_hex(4)}")
        try:
            for _ in range(endpoints):
                with store.transaction() as session:
                    add_endpoint(session, keys, receiver.url, ["*"])
            job = JobConfig(
                name="Bench",
                protocol="maildir",
                path=maildir_with(corpus, folder),
                after_processing="keep",
                fallback_user="helpdesk",
            )
            started, cpu = time.perf_counter(), time.process_time()
            summary = run_job(store, job)
            intake = time.perf_counter() - started
            row = {
                "intake_s": intake,
                "intake_cpu_s": time.process_time() - cpu,
                "tickets": summary.created,
                "activities": summary.updated,
            }
            if endpoints:
                received = len(receiver.received)
                started, cpu = time.perf_counter(), time.process_time()
                with Deliverer(store, keys) as deliverer:
                    report = deliverer.deliver_due()
                posting = time.perf_counter() - started
                row["post_cpu_s"] = time.process_time() - cpu
                assert report.failed == 0 and len(receiver.received) - received == report.delivered
                row |= {"delivered": report.delivered, "post_s": posting}
            return row
        finally:
            store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL too")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    kinds = ["sqlite", "postgresql"] if args.postgres else ["sqlite"]
    with tempfile.TemporaryDirectory(prefix="deskmail-bench-webhooks-") as temporary:
        folder = Path(temporary)
        corpus = folder / "corpus"
        command = [sys.executable, str(HERE / "corpus.py"), "-n", str(args.count)]
        subprocess.run(
            [*command, "--seed", str(args.seed), "-o", str(corpus)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        receiver = Receiver()
        try:
            print(
                "| database | endpoints | intake wall s | intake CPU s | deliveries"
                " | posted/s (wall) | CPU ms per delivery |"
            )
            print("|---|---|---|---|---|---|---|")
            for kind in kinds:
                # Interleaved, so that a change of the machine's load touches both alike.
                rows: dict[int, list[dict]] = {0: [], 1: []}
                for _ in range(args.repeat):
                    for endpoints in (0, 1):
                        rows[endpoints].append(one_run(kind, corpus, folder, endpoints, receiver))
                for endpoints, runs in rows.items():
                    wall = statistics.median(r["intake_s"] for r in runs)
                    cpu = statistics.median(r["intake_cpu_s"] for r in runs)
                    posted = delivered = per_delivery = "-"
                    if endpoints:
                        count = runs[0]["delivered"]
                        delivered = str(count)
                        posted = f"{count / statistics.median(r['post_s'] for r in runs):.0f}"
                        post_cpu = statistics.median(r["post_cpu_s"] for r in runs)
                        per_delivery = f"{1000 * post_cpu / count:.2f}"
                    print(
                        f"| {kind} | {endpoints} | {wall:.2f} | {cpu:.2f} | {delivered}"
                        f" | {posted} | {per_delivery} |",
                        flush=True,
                    )
        finally:
            receiver.close()


if __name__ == "__main__":
    main()
