"""What serving the web UI costs an idle `deskmail serve`: its RSS with and without [web].

Runs `deskmail serve` on a one-job Maildir configuration (SQLite) twice, once
without a [web] table and once with one; waits for the start and the first
run, asks the UI for a few pages and the API for its lists (so that templates
and the API's models are loaded), then reads VmRSS from /proc after a short
settling time. Several rounds; the medians are reported. Also the server
time of the main reads on that small database (p50/p95 of N requests each).

    .venv/bin/python bench/web_idle.py [--rounds 3] [--requests 200]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.jobs import drop_mail, maildir_config  # noqa: E402

DESKMAIL = [sys.executable, "-m", "deskmail"]
PASSWORD = "bench password, long enough"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def _wait_for(path: Path, needle: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while needle not in path.read_text("utf-8", "replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(path.read_text("utf-8", "replace"))
        time.sleep(0.05)


def one_round(work: Path, with_web: bool, requests: int) -> tuple[float, dict[str, list[float]]]:
    config, mailbox = maildir_config(work, f"sqlite:///{work}/deskmail.db", schedule="1h")
    for number in range(20):
        drop_mail(mailbox, f"m{number}", f"user{number}@example.com", f"Subject {number}")
    port = _free_port()
    if with_web:
        with config.open("a", encoding="utf-8") as file:
            file.write(f"\n[web]\nport = {port}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKMAIL_")}
    subprocess.run(
        [*DESKMAIL, "users", "add", "--admin", "bench", "--config", str(config)],
        env={**env, "DESKMAIL_PASSWORD": PASSWORD},
        check=True,
        capture_output=True,
    )
    log = work / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*DESKMAIL, "serve", "--config", str(config)], env=env, stdout=out, stderr=out
        )
    timings: dict[str, list[float]] = {}
    try:
        _wait_for(log, "deskmail serve: started", process)
        time.sleep(3)  # the first run
        if with_web:
            timings = _exercise(f"http://127.0.0.1:{port}", requests)
        time.sleep(2)
        rss = _rss_mib(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    return rss, timings


def _exercise(url: str, requests: int) -> dict[str, list[float]]:
    with httpx.Client(base_url=url, timeout=30) as client:
        client.get("/login")
        client.headers["X-CSRFToken"] = client.cookies["csrftoken"]
        client.post("/login", data={"name": "bench", "password": PASSWORD})
        token = client.post("/api/v1/tokens", json={"label": "bench"})  # no cookie on the API
        assert token.status_code == 401
        made = client.post("/tokens", data={"label": "bench", "role": "admin"})
        secret = made.text.split('class="secret" readonly value="')[1].split('"')[0]
        api = {"Authorization": f"Bearer {secret}"}
        timings: dict[str, list[float]] = {}
        for name, path, headers in (
            ("jobs page", "/jobs", {}),
            ("GET /api/v1/jobs", "/api/v1/jobs", api),
            ("GET /api/v1/tickets", "/api/v1/tickets?limit=50", api),
        ):
            for _ in range(requests):
                started = time.perf_counter()
                answer = client.get(path, headers=headers)
                timings.setdefault(name, []).append(time.perf_counter() - started)
                assert answer.status_code == 200, answer.text
        return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    without, with_web, timings = [], [], {}
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as work:
            without.append(one_round(Path(work), False, args.requests)[0])
        with tempfile.TemporaryDirectory() as work:
            rss, measured = one_round(Path(work), True, args.requests)
            with_web.append(rss)
            for name, values in measured.items():
                timings.setdefault(name, []).extend(values)
    print("| deskmail serve, idle, one Maildir job | RSS MiB (median) |")
    print("|---|---|")
    print(f"| without [web] | {statistics.median(without):.1f} |")
    print(f"| with [web], after serving the pages below | {statistics.median(with_web):.1f} |")
    added = statistics.median(with_web) - statistics.median(without)
    print(f"| added by the web UI | {added:.1f} |")
    print()
    print("| request (20 tickets, SQLite, loopback, client-side time) | p50 ms | p95 ms |")
    print("|---|---|---|")
    for name, values in timings.items():
        ordered = sorted(values)
        p95 = ordered[int(len(ordered) * 0.95) - 1]
        print(f"| {name} | {statistics.median(ordered) * 1000:.1f} | {p95 * 1000:.1f} |")


if __name__ == "__main__":
    main()
