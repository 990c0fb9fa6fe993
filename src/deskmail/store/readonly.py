"""Reading the configured database without changing anything on disk (`deskmail explain`).

An existing database is opened read-only. One that does not exist yet is not
created: an empty one in memory stands in for it, as a first run would find it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session

from deskmail.config.models import DeskmailConfig
from deskmail.store.engine import Store, create_engine, database_missing, resolve_database_url


@dataclass(frozen=True, slots=True)
class Reading:
    session: Session  # read-only
    stand_in: bool  # no database yet: an empty one in memory stands in for it


@contextmanager
def read_only(config: DeskmailConfig) -> Iterator[Reading]:
    """SchemaVersionError for a database at another revision (`deskmail db upgrade`)."""
    from deskmail.store import migrate

    if database_missing(config):
        with _empty() as session:  # opening the file would create it (and its folder)
            yield Reading(session, stand_in=True)
        return
    store = Store(resolve_database_url(config), config.storage.attachments_dir)
    try:
        with store.session() as session:
            revision = migrate.revision_of(session.connection())
            if revision is not None:
                migrate.check_revision(revision, config.source_file)
                yield Reading(session, stand_in=False)
                return
        with _empty() as session:  # a database without deskmail's tables yet
            yield Reading(session, stand_in=True)
    finally:
        store.dispose()


@contextmanager
def _empty() -> Iterator[Session]:
    """An empty store at the current schema, in memory; gone when the block ends."""
    from deskmail.store import migrate

    engine = create_engine("sqlite://")  # one connection per thread: the tables stay
    try:
        with engine.begin() as connection:
            migrate.create_schema(connection)
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()
