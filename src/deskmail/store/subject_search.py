"""The index behind searching tickets by subject words (the web UI's and the API's search).

A word is found anywhere in a subject, whatever its case ("print" finds
"Printer"), so a word index (FTS5's default tokenizer, PostgreSQL's tsvector)
would not do: both index trigrams instead.

- SQLite: an FTS5 table with the trigram tokenizer over ticket.subject
  (external content: it stores the index only), kept in step by triggers, so
  every writer of tickets, the batched inserts of intake included, updates it
  without knowing. `LIKE '%word%'` on it uses the index (words of 3+ characters).
- PostgreSQL: a GIN index of pg_trgm on lower(subject), which serves
  `lower(subject) LIKE '%word%'` as it is. pg_trgm ships with PostgreSQL and is a
  trusted extension since 13: the database's owner may create it.

Created by migration 0014 on existing databases and with the tables on new
ones (models.py listens for the ticket table's creation).
"""

from __future__ import annotations

SQLITE_TABLE = "ticket_subject_search"

SQLITE_CREATE = (
    f"CREATE VIRTUAL TABLE {SQLITE_TABLE} USING fts5("
    "subject, content='ticket', content_rowid='id', tokenize='trigram')",
    f"CREATE TRIGGER ticket_subject_search_insert AFTER INSERT ON ticket BEGIN "
    f"INSERT INTO {SQLITE_TABLE}(rowid, subject) VALUES (new.id, new.subject); END",
    f"CREATE TRIGGER ticket_subject_search_delete AFTER DELETE ON ticket BEGIN "
    f"INSERT INTO {SQLITE_TABLE}({SQLITE_TABLE}, rowid, subject) "
    f"VALUES ('delete', old.id, old.subject); END",
    f"CREATE TRIGGER ticket_subject_search_update AFTER UPDATE OF subject ON ticket BEGIN "
    f"INSERT INTO {SQLITE_TABLE}({SQLITE_TABLE}, rowid, subject) "
    f"VALUES ('delete', old.id, old.subject); "
    f"INSERT INTO {SQLITE_TABLE}(rowid, subject) VALUES (new.id, new.subject); END",
)
# Fills the index from the tickets already there (the migration of an existing database).
SQLITE_REBUILD = f"INSERT INTO {SQLITE_TABLE}({SQLITE_TABLE}) VALUES ('rebuild')"
SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS ticket_subject_search_update",
    "DROP TRIGGER IF EXISTS ticket_subject_search_delete",
    "DROP TRIGGER IF EXISTS ticket_subject_search_insert",
    f"DROP TABLE IF EXISTS {SQLITE_TABLE}",
)

POSTGRESQL_EXTENSION = "CREATE EXTENSION IF NOT EXISTS pg_trgm"
POSTGRESQL_INDEX = "ix_ticket_subject_trgm"
POSTGRESQL_CREATE = (
    f"CREATE INDEX {POSTGRESQL_INDEX} ON ticket USING gin (lower(subject) gin_trgm_ops)"
)
# The shortest word the trigram indexes can find; shorter ones are matched by a scan.
MIN_INDEXED = 3


def is_search_table(name: str) -> bool:
    """The FTS5 table and its shadow tables (_data, _idx, _docsize, _config)."""
    return name == SQLITE_TABLE or name.startswith(SQLITE_TABLE + "_")
