"""What the SQLite subject-search triggers cost a ticket insert, alone (store/subject_search.py).

    .venv/bin/python bench/subject_search.py [--count 1000] [--seed 42] [--reps 30]

`ingest.py --subject-search` measures the whole `run-once` with and without
the triggers; on a busy machine its noise is larger than their cost. This
measures only what they add: the seeded corpus's subjects (bench/corpus.py)
inserted as ticket rows, in one transaction as an intake batch writes them, into
a fresh SQLite file with deskmail's schema (store/migrate.py create_fresh, as
a first run makes it) with its triggers, and into the same schema
with the triggers and their FTS5 table dropped; alternating, `--reps` times
each, fresh files each time. Prints the medians and the cost per ticket.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import statistics
import tempfile
import time
from pathlib import Path

import ingest  # bench/ingest.py: the corpus, and the switch that drops the triggers
from sqlalchemy import create_engine, text

from deskmail.store.migrate import create_fresh

COLUMNS = "id, team_id, number, kind, status, subject, description, token, created_at, updated_at"


def subjects(corpus: Path) -> list[str]:
    """The subjects of the corpus's new requests (replies make no ticket)."""
    found = []
    for path in sorted(corpus.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if not message["In-Reply-To"]:
            found.append(str(message["Subject"] or ""))
    return found


def insert(url: str, titles: list[str]) -> float:
    """Seconds to insert one ticket per subject in one transaction, as a batch does."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO team (id, name, next_number) VALUES (1, 'IT', 1)"))
        rows = [
            {"id": i, "number": i, "subject": s, "token": f"t{i:07d}"}
            for i, s in enumerate(titles, 1)
        ]
        statement = text(
            f"INSERT INTO ticket ({COLUMNS}) VALUES (:id, 1, :number, 'INCIDENT', 'NEW',"
            " :subject, 'text of the request', :token, '2026-12-07', '2026-12-07')"
        )
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(statement, rows)
        return time.perf_counter() - started
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="corpus size (default 1000)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--reps", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="subject-search-") as tmp:
        work = Path(tmp)
        out = work / "corpus"
        corpus = ingest.finish_corpus(ingest.start_corpus(args.count, args.seed, out), out)
        titles = subjects(corpus.path)
        on: list[float] = []
        off: list[float] = []
        for rep in range(args.reps):
            for with_triggers in (True, False) if rep % 2 else (False, True):
                url = f"sqlite:///{work / f'{rep}-{with_triggers}.db'}"
                create_fresh(url)
                if not with_triggers:
                    ingest.drop_subject_search(url)
                (on if with_triggers else off).append(insert(url, titles))
    a, b = statistics.median(on), statistics.median(off)
    print(f"{len(titles)} tickets in one transaction, median of {args.reps}:")
    print(f"  with the subject-search triggers    {a * 1000:8.1f} ms ({min(on) * 1000:.1f} min)")
    print(f"  without                             {b * 1000:8.1f} ms ({min(off) * 1000:.1f} min)")
    print(f"  the triggers add {(a - b) / len(titles) * 1e6:.0f} us a ticket")


if __name__ == "__main__":
    main()
