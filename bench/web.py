"""The web UI and API on a big desk: 100,000 tickets and 300,000 activities.

Builds the database with bulk inserts (SQLite and/or PostgreSQL), serves it with
`deskmail web`'s application in a child process whose every answer carries its
own server time (a Server-Timing header added by a thin ASGI wrapper, so the
figure is the application's time, not the client's), then measures:

- the p50/p95 server time of the tickets list page, GET /api/v1/tickets, a
  ticket's page (random tickets), and subject search (page and API; words found
  often, and a word found nowhere, which reads every subject);
- 50 concurrent API clients for 30 s: requests, errors, p95 server time.

    .venv/bin/python bench/web.py                       # both databases, full size
    .venv/bin/python bench/web.py --db sqlite --tickets 10000 --seconds 5   # quick
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.jobs import maildir_config  # noqa: E402

# fmt: off
WORDS = (
    "printer", "toner", "laptop", "battery", "vpn", "password", "reset", "outlook", "mailbox",
    "quota", "disk", "full", "monitor", "screen", "keyboard", "mouse", "network", "wifi", "slow",
    "crash", "error", "update", "licence", "teams", "meeting", "phone", "headset", "badge",
    "access", "folder", "share", "drive", "backup", "restore", "server", "database", "timeout",
    "invoice", "payroll", "report", "excel", "word", "install", "uninstall", "virus", "alert",
    "certificate", "expired", "login", "locked", "account", "new", "starter", "leaver",
)
# fmt: on
PAGE_SEARCH = "printer toner"  # two words found together in about 1 subject in 700
RARE_SEARCH = "zeppelin"  # in no subject: every subject is read
CHUNK = 10_000


# ---- the data --------------------------------------------------------------------------


def build(url: str, tickets: int, activities: int, seed: int = 7) -> float:
    """Fill a fresh database at `url`; returns the seconds it took."""
    from sqlalchemy import create_engine, insert

    from deskmail.store.migrate import upgrade
    from deskmail.store.models import (
        Activity,
        ActivityKind,
        Group,
        Person,
        Site,
        Team,
        Ticket,
        TicketKind,
        TicketStatus,
    )  # fmt: skip

    started = time.perf_counter()
    upgrade(url)
    rng = random.Random(seed)
    engine = create_engine(url)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as connection:
        teams = enumerate(("IT", "HR", "FAC"), 1)
        connection.execute(
            insert(Team), [{"id": i, "name": n, "next_number": tickets + 1} for i, n in teams]
        )
        connection.execute(insert(Group), [{"id": i, "name": f"Group {i}"} for i in range(1, 21)])
        connection.execute(insert(Site), [{"id": i, "name": f"Site {i}"} for i in range(1, 11)])
        connection.execute(
            insert(Person),
            [{"id": i, "name": f"Person {i}", "logon": f"p{i}", "site_id": i % 10 + 1,
              "is_agent": False} for i in range(1, 1001)],
        )  # fmt: skip
        for first in range(0, tickets, CHUNK):
            rows = []
            for n in range(first, min(first + CHUNK, tickets)):
                moment = start + timedelta(seconds=n * 240)
                words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 7)))
                rows.append({
                    "id": n + 1, "team_id": n % 3 + 1, "number": n // 3 + 1,
                    "kind": TicketKind.EVENT if n % 20 == 0 else TicketKind.INCIDENT,
                    "status": (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.CLOSED)[n % 3],
                    "subject": f"{words.capitalize()} #{n}", "description": f"Body of {n}.\n" * 5,
                    "requester_id": n % 1000 + 1, "group_id": n % 20 + 1, "site_id": n % 10 + 1,
                    "token": secrets.token_hex(4), "sender_address": f"user{n % 1000}@example.com",
                    "sender_name": f"Person {n % 1000 + 1}",
                    "created_at": moment, "updated_at": moment + timedelta(hours=n % 48),
                })  # fmt: skip
            connection.execute(insert(Ticket), rows)
        for first in range(0, activities, CHUNK):
            rows = []
            for n in range(first, min(first + CHUNK, activities)):
                ticket = n % tickets + 1
                moment = start + timedelta(seconds=ticket * 240 + 3600 * (n // tickets + 1))
                rows.append({
                    "id": n + 1, "ticket_id": ticket, "kind": ActivityKind.MAIL,
                    "from_address": f"user{ticket % 1000}@example.com", "subject": f"Re: {ticket}",
                    "body": f"Reply {n} to ticket {ticket}.\n" * 8,
                    "body_html": f"<p>Reply {n} to ticket <b>{ticket}</b>.</p>",
                    "occurred_at": moment, "created_at": moment,
                })  # fmt: skip
            connection.execute(insert(Activity), rows)
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE")
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    return time.perf_counter() - started


# ---- the server (child process) --------------------------------------------------------


def serve(config_path: str, port: int) -> None:
    """Run the application with a Server-Timing header on every answer."""
    import uvicorn

    from deskmail.config.files import load_configuration
    from deskmail.store.engine import Store
    from deskmail.web.app import create_app

    config = load_configuration(Path(config_path))
    store = Store(config.database.url, config.storage.attachments_dir, Path(config_path))
    app = create_app(config, store)

    async def timed(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_timed(message: Any) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - started) * 1000
                message.setdefault("headers", []).append(
                    (b"server-timing", f"app;dur={took:.2f}".encode())
                )
            await send(message)

        await app(scope, receive, send_timed)

    uvicorn.run(timed, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(config: Path) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(config), str(port)],
        env={k: v for k, v in os.environ.items() if not k.startswith("DESKMAIL_")},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(30)


# ---- measuring -------------------------------------------------------------------------


def _server_ms(answer: httpx.Response) -> float:
    if answer.status_code != 200:
        raise RuntimeError(f"{answer.request.url}: {answer.status_code} {answer.text[:300]}")
    return float(answer.headers["server-timing"].partition("dur=")[2])


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(url: str, cookie: str, token: str, tickets: int, requests: int, seconds: float,
            clients: int) -> dict[str, Any]:  # fmt: skip
    rng = random.Random(11)
    page = httpx.Client(base_url=url, cookies={"deskmail_session": cookie}, timeout=60)
    api = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
    cases = {
        # Floors: an answer with no store read, and one that only checks the token.
        "GET /healthz (floor)": lambda: page.get("/healthz"),
        "GET /api/v1/me (token check only)": lambda: api.get("/api/v1/me"),
        "tickets list page": lambda: page.get("/tickets"),
        "GET /api/v1/tickets": lambda: api.get("/api/v1/tickets"),
        "GET /api/v1/tickets?status=open&group=Group 3": lambda: api.get(
            "/api/v1/tickets", params={"status": "open", "group": "Group 3"}
        ),
        "events list page": lambda: page.get("/events"),
        "ticket page": lambda: page.get(f"/tickets/{rng.randint(1, tickets)}"),
        "GET /api/v1/tickets/{id}": lambda: api.get(f"/api/v1/tickets/{rng.randint(1, tickets)}"),
        f"search page '{PAGE_SEARCH}'": lambda: page.get("/tickets", params={"q": PAGE_SEARCH}),
        f"search API '{PAGE_SEARCH}'": lambda: api.get(
            "/api/v1/tickets", params={"subject": PAGE_SEARCH}
        ),
        f"search page '{RARE_SEARCH}' (no match)": lambda: page.get(
            "/tickets", params={"q": RARE_SEARCH}
        ),
    }
    results: dict[str, Any] = {}
    for name, call in cases.items():
        for _ in range(5):
            _server_ms(call())  # warm
        times = [_server_ms(call()) for _ in range(requests)]
        results[name] = (statistics.median(times), _p(times, 0.95))
        print(f"  {name}: p50 {results[name][0]:.1f} ms, p95 {results[name][1]:.1f} ms", flush=True)
    page.close()
    api.close()
    results["concurrent"] = _concurrent(url, token, tickets, seconds, clients)
    return results


def _concurrent(
    url: str, token: str, tickets: int, seconds: float, clients: int
) -> dict[str, float]:
    stop = time.monotonic() + seconds
    lock = threading.Lock()
    times: list[float] = []
    errors: list[str] = []

    def client(number: int) -> None:
        rng = random.Random(number)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                          timeout=60) as api:  # fmt: skip
            while time.monotonic() < stop:
                choice = rng.random()
                try:
                    if choice < 0.5:
                        answer = api.get("/api/v1/tickets", params={"limit": 50})
                    elif choice < 0.8:
                        answer = api.get(f"/api/v1/tickets/{rng.randint(1, tickets)}")
                    else:
                        answer = api.get("/api/v1/tickets", params={"subject": rng.choice(WORDS)})
                    took = _server_ms(answer)
                    with lock:
                        times.append(took)
                except Exception as exc:  # counted, not raised: the figure is the error count
                    with lock:
                        errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for error in sorted(set(errors))[:5]:
        print("  error:", error)
    result = {
        "requests": len(times) + len(errors),
        "errors": len(errors),
        "per_second": (len(times) + len(errors)) / seconds,
        "p95": _p(times, 0.95) if times else float("nan"),
    }
    print(f"  {clients} clients for {seconds:.0f} s: {result}", flush=True)
    return result


def run_one(database: str, args: argparse.Namespace) -> dict[str, Any]:
    from deskmail.store.accounts import Role
    from deskmail.store.engine import Store
    from deskmail.web.accounts import add_user
    from deskmail.web.security.sessions import open_session
    from deskmail.web.security.tokens import create_token

    with (
        tempfile.TemporaryDirectory(prefix="deskmail-bench-web-") as work_dir,
        _database(database, Path(work_dir)) as url,
    ):
        work = Path(work_dir)
        print(f"{database}: building {args.tickets:,} tickets, {args.activities:,} activities",
              flush=True)  # fmt: skip
        built = build(url, args.tickets, args.activities)
        print(f"  built in {built:.0f} s", flush=True)
        config, _ = maildir_config(work, url)
        store = Store(url, work / "attachments", config)
        user = add_user(store, "bench", Role.VIEWER, "bench password, long enough")
        cookie = open_session(store, user.id, "127.0.0.1")
        token = create_token(store, user, "bench", Role.VIEWER, None).secret
        store.dispose()
        with server(config) as base:
            results = measure(base, cookie, token, args.tickets, args.requests, args.seconds,
                              args.clients)  # fmt: skip
        results["built"] = built
        return results


@contextmanager
def _database(kind: str, work: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{work}/deskmail.db"
        return
    import psycopg

    name = f"deskmail_bench_{secrets.token_hex(4)}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def report(all_results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    names = [
        name for name in next(iter(all_results.values())) if name not in ("concurrent", "built")
    ]
    heads = list(all_results)
    lines = [
        f"{args.tickets:,} tickets, {args.activities:,} activities; server time in ms,"
        f" p50 / p95 of {args.requests} requests each",
        "",
        "| request | " + " | ".join(heads) + " |",
        "|---|" + "---|" * len(heads),
    ]
    for name in names:
        cells = [f"{all_results[h][name][0]:.1f} / {all_results[h][name][1]:.1f}" for h in heads]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cells = []
    for head in heads:
        c = all_results[head]["concurrent"]
        cells.append(f"{c['requests']:,} requests, {c['errors']} errors, {c['per_second']:.0f}/s,"
                     f" p95 {c['p95']:.1f}")  # fmt: skip
    lines.append(
        f"| {args.clients} API clients, {args.seconds:.0f} s | " + " | ".join(cells) + " |"
    )
    lines.append("| building the data (s) | "
                 + " | ".join(f"{all_results[h]['built']:.0f}" for h in heads) + " |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=300_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    kinds = ("sqlite", "postgresql") if args.db == "both" else (args.db,)
    results = {kind: run_one(kind, args) for kind in kinds}
    print()
    print(report(results, args))


if __name__ == "__main__":
    main()
