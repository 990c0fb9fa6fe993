"""The store: migrations, transactions and locking, constraints, blobs."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import cast

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError

from deskmail.apply.context import get_or_create
from deskmail.config.fate import Fate
from deskmail.config.models import DeskmailConfig
from deskmail.store import blobs as blobs_module
from deskmail.store import deferred, migrate, subject_search
from deskmail.store.blobs import BlobRef, BlobStore
from deskmail.store.engine import SchemaVersionError, Store, create_engine, open_store
from deskmail.store.models import (
    Activity,
    ActivityKind,
    Group,
    IntakeRecord,
    OutboxStatus,
    OutgoingMail,
    Person,
    PersonAddress,
    Run,
    Site,
    Team,
    Ticket,
    TicketKind,
    WebhookEndpoint,
)
from deskmail.store.subject_search import is_search_table

# --- migrations -------------------------------------------------------------


def test_upgrade_from_empty_is_idempotent(database_url: str) -> None:
    assert migrate.current_revision(database_url) is None
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == migrate.head_revision()
    migrate.upgrade(database_url)
    assert migrate.current_revision(database_url) == migrate.head_revision()


def test_head_constant_is_the_newest_script() -> None:
    # HEAD spares the everyday paths from importing Alembic; it must follow the scripts.
    assert migrate.head_revision() == migrate.HEAD


def _schema_diff(store: Store, metadata: MetaData) -> list[object]:
    with store.engine.connect() as connection:
        # Not models: the FTS5 table of subject search and its shadow tables, and the
        # trigram index made by DDL (both compared by test_fresh_database_has_the_migrated_schema).
        def modelled(name: str | None, kind: str, parents: object) -> bool:
            if kind == "index" and name == subject_search.POSTGRESQL_INDEX:
                return False
            return not (kind == "table" and name is not None and is_search_table(name))

        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": modelled}
        )
        return list(compare_metadata(context, metadata))


def _migrated(url: str) -> None:
    """The schema as the migration scripts build it, one revision after another."""
    migrate.upgrade(url, "0001")
    migrate.upgrade(url)
    assert migrate.current_revision(url) == migrate.HEAD


@pytest.mark.filterwarnings("ignore:.*expression-based index:UserWarning")
@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_migrations_match_models(database_url: str, tmp_path: Path) -> None:
    _migrated(database_url)
    store = Store(database_url, tmp_path / "attachments")
    try:
        schema = migrate.schema_metadata()
        assert "web_user" in schema.tables  # the web's accounts, which models.py leaves out
        assert _schema_diff(store, schema) == []
        # The comparison is not vacuous: a changed column type is seen.
        changed = MetaData(naming_convention=schema.naming_convention)
        for table in schema.sorted_tables:
            table.to_metadata(changed)
        changed.tables["site"].c.name.type = String(100)
        assert _schema_diff(store, changed) != []
    finally:
        store.dispose()


def _shape(url: str) -> dict[str, object]:
    """Tables, columns, indexes, unique and foreign keys, as the database reports them."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            found = inspect(connection)
            names = (
                # SQLAlchemy does not reflect SQLite's expression indexes: ask SQLite.
                "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
                if connection.dialect.name == "sqlite"
                else "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"
            )
            indexes = sorted(connection.exec_driver_sql(names).scalars())
            return {"indexes": indexes} | {
                table: (
                    # Sorted: a migration appends columns where the model may list them earlier.
                    sorted(
                        (c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)
                    ),
                    sorted(
                        (i["name"] or "", str(i["column_names"]), str(i.get("expressions")))
                        for i in found.get_indexes(table)
                    ),
                    sorted(str(u["column_names"]) for u in found.get_unique_constraints(table)),
                    sorted(
                        (str(f["constrained_columns"]), f["referred_table"])
                        for f in found.get_foreign_keys(table)
                    ),
                )
                for table in sorted(found.get_table_names())
            }
    finally:
        engine.dispose()


@pytest.mark.filterwarnings("ignore:.*expression-based index")
def test_fresh_database_has_the_migrated_schema(
    database_url: str, postgresql_url: str, tmp_path: Path
) -> None:
    """A new database is created from the models in one step; it must be what the scripts build."""
    if database_url.startswith("sqlite"):
        other = f"sqlite:///{tmp_path / 'migrated.db'}"
    else:
        other = postgresql_url  # a second, empty PostgreSQL database
    assert migrate.create_fresh(database_url) is True
    assert migrate.current_revision(database_url) == migrate.HEAD
    assert migrate.create_fresh(database_url) is False  # not empty any more: left alone
    _migrated(other)
    fresh, migrated = _shape(database_url), _shape(other)
    assert "ix_ticket_sender_lower" in str(fresh["indexes"])
    assert fresh == migrated


def test_a_sqlite_store_never_loads_the_postgresql_dialect(tmp_path: Path) -> None:
    # The trigram index is DDL for PostgreSQL alone: as an Index with postgresql_*
    # options it loaded that dialect (19 modules, 2.2 MiB) into every SQLite process.
    probe = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from deskmail.store import migrate
        from deskmail.store.engine import Store
        url = "sqlite:///{tmp_path / "fresh.db"}"
        print(migrate.create_fresh(url))
        store = Store(url, Path({str(tmp_path / "blobs")!r}))
        store.require_current_schema()
        store.dispose()
        print([name for name in sys.modules if name.startswith("sqlalchemy.dialects.postgresql")])
        """
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == ["True", "[]"]


def test_require_current_schema(database_url: str, tmp_path: Path) -> None:
    store = Store(database_url, tmp_path / "attachments")
    try:
        with pytest.raises(SchemaVersionError, match=r"run `deskmail db upgrade`"):
            store.require_current_schema()
        migrate.upgrade(database_url)
        store.require_current_schema()
        with store.transaction() as session:
            session.execute(text("UPDATE alembic_version SET version_num = 'ffff'"))
        with pytest.raises(SchemaVersionError, match="does not know"):
            store.require_current_schema()
    finally:
        store.dispose()


# --- connections and transactions -------------------------------------------


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'new' / 'folder' / 'deskmail.db'}"  # parents created
    migrate.upgrade(url)
    store = Store(url, tmp_path / "attachments")
    yield store
    store.dispose()


def test_sqlite_pragmas(sqlite_store: Store) -> None:
    expected = {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1, "busy_timeout": 30000}
    for opened in (sqlite_store.transaction, sqlite_store.session):
        with opened() as session:
            for pragma, value in expected.items():
                assert session.execute(text(f"PRAGMA {pragma}")).scalar_one() == value, pragma


def test_sqlite_write_transaction_locks_at_begin(sqlite_store: Store) -> None:
    database = sqlite_store.engine.url.database
    assert database is not None
    other = sqlite3.connect(database, timeout=0, isolation_level=None)
    try:
        with sqlite_store.transaction() as session:
            session.execute(select(Team)).all()  # a read only: still holds the write lock
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        with sqlite_store.session() as session:
            session.execute(select(Team)).all()  # readers do not block writers
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
    finally:
        other.close()


def _take_number_read_modify_write(store: Store, team_id: int) -> int:
    with store.transaction() as session:
        # FOR UPDATE locks the row on PostgreSQL; SQLite omits it and relies on BEGIN IMMEDIATE.
        team = session.get(Team, team_id, with_for_update=True)
        assert team is not None
        number = team.next_number
        team.next_number = number + 1
        return number


def _take_number_returning(store: Store, team_id: int) -> int:
    with store.transaction() as session:
        statement = (
            update(Team)
            .where(Team.id == team_id)
            .values(next_number=Team.next_number + 1)
            .returning(Team.next_number)
        )
        return session.execute(statement).scalar_one() - 1


@pytest.mark.parametrize(
    "take_number",
    [_take_number_read_modify_write, _take_number_returning],
    ids=["read-modify-write", "update-returning"],
)
def test_concurrent_numbering_loses_no_update(
    store: Store, take_number: Callable[[Store, int], int]
) -> None:
    with store.transaction() as session:
        team = Team(name="IT", next_number=1)
        session.add(team)
    per_thread = 200
    start = threading.Barrier(2)

    def worker() -> list[int]:
        start.wait()
        return [take_number(store, team.id) for _ in range(per_thread)]

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(worker) for _ in range(2)]
    taken = futures[0].result() + futures[1].result()

    assert sorted(taken) == list(range(1, 2 * per_thread + 1))
    with store.session() as session:
        final = session.scalars(select(Team.next_number).where(Team.id == team.id)).one()
    assert final == 2 * per_thread + 1


def test_transaction_rolls_back_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as session:
        session.add(Site(name="Lyon"))
        session.flush()
        raise RuntimeError("boom")
    with store.session() as session:
        assert session.scalars(select(Site)).all() == []


def test_read_only_session_refuses_writes(store: Store) -> None:
    with pytest.raises(DBAPIError), store.session() as session:
        session.add(Site(name="Lyon"))
        session.flush()
    # The pooled connection is writable again afterwards.
    with store.transaction() as session:
        session.add(Site(name="Lyon"))
    with store.session() as session:
        assert session.scalars(select(Site.name)).all() == ["Lyon"]


def test_foreign_keys_are_enforced(store: Store) -> None:
    with pytest.raises(IntegrityError), store.transaction() as session:
        session.add(PersonAddress(person_id=999, address="nobody@example.com"))


def test_intake_key_is_unique_per_job(store: Store) -> None:
    def record(job: str) -> IntakeRecord:
        return IntakeRecord(
            job=job, source_key="imap:INBOX:7:42", sha256="0" * 64, outcome=Fate.CREATED
        )

    with store.transaction() as session:
        session.add_all([record("Mail Connector"), record("Other job")])
    with pytest.raises(IntegrityError), store.transaction() as session:
        session.add(record("Mail Connector"))


def test_datetimes_are_stored_in_utc_and_read_back_aware(store: Store) -> None:
    local = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    with store.transaction() as session:
        run = Run(job="Mail Connector", started_at=local)
        session.add(run)
    with store.session() as session:
        started = session.scalars(select(Run.started_at).where(Run.id == run.id)).one()
    assert started == local
    assert started.tzinfo is UTC
    assert started.hour == 10
    with pytest.raises(StatementError, match="naive datetime"), store.transaction() as session:
        session.add(Run(job="Mail Connector", started_at=datetime(2024, 5, 1, 12, 0)))


def test_open_store_url_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    monkeypatch.setenv("DESKMAIL_DATABASE_URL", url)
    store = open_store(DeskmailConfig())
    try:
        assert store.url == url
        assert store.engine.url.database == str(tmp_path / "from-env.db")
    finally:
        store.dispose()


def test_display_url_hides_the_password(tmp_path: Path) -> None:
    store = Store("postgresql://deskmail:s3cret@db.invalid/deskmail", tmp_path / "attachments")
    assert "s3cret" not in store.display_url
    assert store.display_url.startswith("postgresql+psycopg://deskmail:***@db.invalid/")
    store.dispose()


def _ticket_row(team_id: int, number: int) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "id": 1000 + number,
        "team_id": team_id,
        "number": number,
        "kind": TicketKind.INCIDENT,
        "token": f"token{number:03d}",
        "created_at": now,
        "updated_at": now,
    }


def test_deferred_parents_are_written_before_the_orm_flushes(store: Store) -> None:
    # Intake's batches defer new tickets as parents: an automatic mail (an ORM row)
    # that refers to one may be flushed before any query writes them.
    tickets = cast(Table, Ticket.__table__)
    with store.transaction() as session:
        team = Team(name="IT")
        session.add(team)
        session.flush()
        deferred.defer_rows(session)
        deferred.insert(session, tickets, _ticket_row(team.id, 1), parent=True)
        session.add(
            OutgoingMail(
                job="Support",
                kind="acknowledgement",
                ticket_id=1001,
                recipient="alice@example.com",
                subject="",
                body_text="",
                message_id="<1@desk>",
                status=OutboxStatus.PENDING,
                attempts=0,
            )
        )
        session.flush()  # the ticket first, or the foreign key fails
        # A new row made in a savepoint (another instance may insert it first) is fine:
        # the lookup before it writes what is pending.
        deferred.insert(session, tickets, _ticket_row(team.id, 2), parent=True)
        get_or_create(session, Site, "Head Office")
        # Rows go in the order of the foreign keys, whatever order they were deferred in.
        record = {"job": "Support", "source_key": "1", "sha256": "0" * 64, "size": 1}
        record |= {"outcome": Fate.UPDATED, "ticket_id": 1002, "activity_id": 7}
        deferred.insert(session, cast(Table, IntakeRecord.__table__), record)
        activity = {"id": 7, "ticket_id": 1002, "kind": ActivityKind.MAIL}
        deferred.insert(session, cast(Table, Activity.__table__), activity)
    with store.session() as session:
        assert session.scalars(select(Ticket.number).order_by(Ticket.number)).all() == [1, 2]
        assert session.scalars(select(OutgoingMail.ticket_id)).one() == 1001
        assert session.scalars(select(IntakeRecord.activity_id)).one() == 7


# --- blobs ------------------------------------------------------------------


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_identical_content_is_stored_once(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    first = blobs.put(b"hello")
    mtime = blobs.path(first.sha256).stat().st_mtime_ns
    assert blobs.put(b"hello") == first
    assert blobs.path(first.sha256).stat().st_mtime_ns == mtime
    assert first.sha256 == hashlib.sha256(b"hello").hexdigest()
    assert first.size == 5
    assert blobs.exists(first.sha256)
    sha = first.sha256
    assert _files(tmp_path / "blobs") == [tmp_path / "blobs" / sha[:2] / sha[2:4] / sha]
    with blobs.open(sha) as stored:
        assert stored.read() == b"hello"


def test_put_with_a_known_digest_writes_only_what_is_missing(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    sha = hashlib.sha256(b"logo").hexdigest()
    assert blobs.put(b"logo", sha) == BlobRef(sha, 4)
    with blobs.open(sha) as stored:
        assert stored.read() == b"logo"
    mtime = blobs.path(sha).stat().st_mtime_ns
    (tmp_path / "blobs" / "tmp").rmdir()  # nothing is written for a stored blob
    assert blobs.put(b"logo", sha) == BlobRef(sha, 4)
    assert not (tmp_path / "blobs" / "tmp").exists()
    assert blobs.path(sha).stat().st_mtime_ns == mtime
    assert _files(tmp_path / "blobs") == [blobs.path(sha)]


def test_put_stream_of_several_megabytes(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    chunk = bytes(range(256)) * 256  # 64 KiB
    ref = blobs.put_stream(chunk for _ in range(80))  # 5 MiB
    expected = hashlib.sha256(chunk * 80).hexdigest()
    assert ref.sha256 == expected
    assert ref.size == 80 * len(chunk)
    assert blobs.path(expected).stat().st_size == ref.size


def test_no_temporary_files_are_left(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    blobs.put(b"one")
    blobs.put(b"one")

    def failing() -> Iterator[bytes]:
        yield b"partial"
        raise OSError("connection lost")

    with pytest.raises(OSError, match="connection lost"):
        blobs.put_stream(failing())
    assert [p.name for p in _files(tmp_path / "blobs")] == [hashlib.sha256(b"one").hexdigest()]


@pytest.mark.parametrize(
    "name",
    ["../x", "A" * 64, "ab", "g" * 64, "a" * 63, "a" * 65, "a" * 64 + "\n", "/" + "a" * 63, ""],
)
def test_path_refuses_anything_but_a_digest(tmp_path: Path, name: str) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    with pytest.raises(ValueError, match="not a SHA-256"):
        blobs.path(name)
    with pytest.raises(ValueError):
        blobs.exists(name)


def _fsynced_paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the path of every file or directory the blob store fsyncs."""
    paths: list[str] = []
    real = os.fsync

    def recording(fd: int) -> None:
        paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(blobs_module.os, "fsync", recording)
    return paths


def test_a_batch_stores_each_content_once_and_durably(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    fsynced = _fsynced_paths(monkeypatch)
    spool = Path(blobs.spool_directory())
    spooled = spool / "spool-big"
    spooled.write_bytes(b"big file")
    twice = spool / "spool-again"
    twice.write_bytes(b"big file")
    big = hashlib.sha256(b"big file").hexdigest()
    with blobs.batch() as batch:
        assert batch.put(b"logo") == batch.put(b"logo")
        assert batch.adopt(str(spooled), big, 8) == BlobRef(big, 8)
        assert batch.adopt(str(twice), big, 8) == BlobRef(big, 8)
        batch.wait()
        logo = hashlib.sha256(b"logo").hexdigest()
        assert blobs.path(logo).read_bytes() == b"logo"
        assert blobs.path(big).read_bytes() == b"big file"
    assert _files(tmp_path / "blobs") == sorted([blobs.path(logo), blobs.path(big)])
    # The parser's spool file is fsynced by the store before it takes its name, and
    # each blob's directory after the rename.
    assert str(spooled) in fsynced
    assert str(blobs.path(big).parent) in fsynced
    assert str(blobs.path(logo).parent) in fsynced
    assert sum(1 for path in fsynced if path.startswith(str(spool / "blob-"))) == 1


def test_a_batch_reports_a_failure_at_wait_and_leaves_nothing_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    real = BlobStore._install
    finished: list[str] = []

    def install(self: BlobStore, ref: BlobRef, tmp: Path) -> None:
        time.sleep(0.05)
        if ref.size == 4:
            tmp.unlink()
            raise OSError(28, "No space left on device")
        real(self, ref, tmp)
        finished.append(ref.sha256)

    monkeypatch.setattr(BlobStore, "_install", install)
    outside = "not a file of this blob store's spool"
    with pytest.raises(ValueError, match=outside), blobs.batch() as batch:
        batch.put(b"full")  # raises nothing yet: it is written in the background
        for n in range(6):
            batch.put(b"slow %d" % n)
        with pytest.raises(OSError, match="No space left"):
            batch.wait()
        batch.put(b"after")
        batch.adopt(str(tmp_path / "elsewhere"), hashlib.sha256(b"x").hexdigest(), 1)
    # Leaving the block waited for every write, though it was left by an error.
    assert len(finished) == 7
    assert not any((tmp_path / "blobs" / "tmp").iterdir())


def test_a_database_error_is_told_without_the_values_of_the_row(store: Store) -> None:
    from deskmail.store.errors import describe_error

    value = f"private-{os.urandom(6).hex()}"
    with store.engine.begin() as connection:
        connection.execute(text("CREATE TABLE guarded (v VARCHAR(100) UNIQUE)"))
        connection.execute(text("INSERT INTO guarded (v) VALUES (:v)"), {"v": value})
    with pytest.raises(IntegrityError) as caught, store.engine.begin() as connection:
        connection.execute(text("INSERT INTO guarded (v) VALUES (:v)"), {"v": value})
    # hide_parameters: SQLAlchemy's own text of the error leaves the statement's values out.
    assert "[SQL parameters hidden due to hide_parameters=True]" in str(caught.value)
    # PostgreSQL's DETAIL line quotes the key's value: only the driver's first line is kept.
    told = describe_error(caught.value)
    assert told.startswith("IntegrityError: ") and "\n" not in told
    assert "unique" in told.lower() and value not in told


def test_updated_at_is_given_to_the_rows_a_database_already_has(database_url: str) -> None:
    """Migration 0017: tokens and endpoints take their creation time, the rest the upgrade's."""
    import sqlalchemy

    from deskmail.store.accounts import ApiToken

    migrate.upgrade(database_url, "0014")
    engine = sqlalchemy.create_engine(database_url)
    made = "2024-01-02 00:00:00+00:00"
    try:
        with engine.begin() as connection:
            for statement in (
                "INSERT INTO site (name) VALUES ('Lyon')",
                "INSERT INTO \"group\" (name) VALUES ('Ops')",
                "INSERT INTO team (name, next_number) VALUES ('IT', 3)",
                "INSERT INTO person (name, is_agent) VALUES ('Ann', false)",
                "INSERT INTO web_user (name, password_hash, role, created_at, updated_at)"
                f" VALUES ('u', 'x', 'admin', '{made}', '{made}')",
                "INSERT INTO api_token (user_id, label, prefix, digest, role, created_at)"
                f" VALUES (1, 'l', 'p', 'd', 'admin', '{made}')",
                "INSERT INTO webhook_endpoint (url, kinds, enabled, secret_sealed, description,"
                f" include_subject, failures, created_at) VALUES ('https://x', 'a', true, 's',"
                f" '', false, 0, '{made}')",
            ):
                connection.execute(text(statement))
        started = datetime.now(UTC).replace(microsecond=0)
        migrate.upgrade(database_url)
    finally:
        engine.dispose()
    store = Store(database_url, Path("attachments"))
    try:
        with store.session() as session:
            for upgraded in (Site.updated_at, Group.updated_at, Team.updated_at, Person.updated_at):
                assert session.scalars(select(upgraded)).one() >= started
            for created in (ApiToken.updated_at, WebhookEndpoint.updated_at):
                assert session.scalars(select(created)).one() == datetime(2024, 1, 2, tzinfo=UTC)
    finally:
        store.dispose()


def test_the_foreign_key_order_holds_when_tables_join_the_metadata_later() -> None:
    # The web's accounts join Base.metadata only where they are imported: a place taken
    # before must not be weighed against one taken after.
    schema = MetaData()
    parent = Table("parent", schema, Column("id", Integer, primary_key=True))
    child = Table("child", schema, Column("parent_id", ForeignKey("parent.id")))
    assert deferred._dependency_order(child) == 1  # placed while the two were alone
    for name in ("aa", "ab", "ac"):  # sorted ahead of both, so their places move
        Table(name, schema, Column("id", Integer, primary_key=True))
    assert deferred._dependency_order(parent) < deferred._dependency_order(child)
