"""The database jobs a running daemon works, kept in step with the jobs catalog.

Every few seconds one cheap query reads each database job's revision; only jobs
whose revision moved are read again (and their secrets opened). A job whose new
revision cannot be loaded (written by another version of deskmail, sealed with a
key this instance lacks) is reported, in the log and by one infrastructure event
whichever instance sees it first, and keeps running on its last good settings.

On PostgreSQL every change is also NOTIFYed (jobs/catalog.py): ChangeListener
LISTENs on a connection of its own and wakes the daemon at once; the poll stays,
for a listener that lost its connection.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.orm import Session

from deskmail.config.errors import ConfigError
from deskmail.config.loader import same_name
from deskmail.config.models import DeskmailConfig, JobConfig
from deskmail.jobs.catalog import NOTIFY_CHANNEL, JobCatalog
from deskmail.jobs.running import NameClash, RefusedJob, load_one
from deskmail.jobs.secrets import UnreadableSecrets
from deskmail.store.engine import Store
from deskmail.store.errors import describe_error
from deskmail.store.sealing import SecretKeyError

log = logging.getLogger("deskmail.daemon")

# How often the revisions are read: a change made through the catalog runs within this.
POLL_SECONDS = 2.0
# A listener whose connection failed tries again after this long (the poll goes on meanwhile).
LISTEN_RETRY = 10.0


class StoredJobs:
    """The last good settings of each database job, by name."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._revisions: dict[str, int] = {}
        self._good: dict[str, JobConfig] = {}
        self._failing = False

    def forget_revisions(self) -> None:
        """Read every job again at the next refresh (the file changed: names may clash)."""
        self._revisions = {}

    def refresh(self, config: DeskmailConfig) -> bool:
        """Catch up with the catalog; True when some job was added, changed or removed."""
        catalog = JobCatalog(config, self._store)
        try:
            revisions = catalog.revisions()
            changed = {
                name
                for name, revision in revisions.items()
                if self._revisions.get(name) != revision
            }
            rows = catalog.stored_rows(changed) if changed else []
        except Exception as exc:  # the database out of reach: the workers say so too
            if not self._failing:
                log.error("database jobs: cannot read them: %s", describe_error(exc))
            self._failing = True
            return False
        self._failing = False
        if revisions == self._revisions:
            return False
        for name in set(self._revisions) - set(revisions):
            self._good.pop(name, None)
        for row in rows:
            revisions[row.name] = row.revision  # it may have moved since: that one was read
            try:
                self._good[row.name] = load_one(catalog, row)
            except NameClash as exc:  # the file's job runs under that name (see running)
                log.error("%s; not run", RefusedJob(row.name, row.revision, str(exc)).describe())
            except (ConfigError, UnreadableSecrets, SecretKeyError) as exc:
                self._refused(catalog, RefusedJob(row.name, row.revision, str(exc)))
        self._revisions = revisions
        return True

    def running(self, config: DeskmailConfig) -> DeskmailConfig:
        """`config` (the file's) with the database jobs after its own; a file job wins a name."""
        taken = {same_name(job.name) for job in config.jobs}
        stored = [job for name, job in sorted(self._good.items()) if same_name(name) not in taken]
        return config.model_copy(update={"jobs": [*config.jobs, *stored]}) if stored else config

    def _refused(self, catalog: JobCatalog, refused: RefusedJob) -> None:
        last_good = self._good.get(refused.name)
        outcome = "still running its last good settings" if last_good is not None else "not started"
        log.error("%s; %s", refused.describe(), outcome)

        def report(session: Session) -> None:
            from deskmail.apply.events import stored_job_refused_event

            stored_job_refused_event(
                session,
                refused.name,
                refused.revision,
                refused.problem,
                outcome,
                team=last_good.team if last_good is not None else "IT",
                group=(last_good.error_group or last_good.group) if last_good else None,
            )

        try:
            catalog.report_refused(refused.name, refused.revision, report)
        except Exception as exc:  # the log line above stands
            log.error(
                "job %s: the refused settings could not be reported as an event: %s",
                refused.name,
                describe_error(exc),
            )


class ChangeListener:
    """PostgreSQL: LISTEN for the catalog's changes and call `wake` on each."""

    def __init__(self, store: Store, wake: Callable[[], None]) -> None:
        url = store.engine.url.set(drivername="postgresql")
        self._conninfo = url.render_as_string(hide_password=False)
        self._wake = wake
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._main, name="jobs listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _main(self) -> None:
        import psycopg

        while not self._stopping.is_set():
            try:
                with psycopg.connect(
                    self._conninfo, autocommit=True, application_name="deskmail jobs listener"
                ) as connection:
                    connection.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self._wake()  # changes made while not listening
                    while not self._stopping.is_set():
                        if any(True for _ in connection.notifies(timeout=1.0, stop_after=1)):
                            self._wake()
            except psycopg.Error as exc:
                log.warning(
                    "database jobs: not listening for changes (%s); reading them every %.0f s",
                    describe_error(exc),
                    POLL_SECONDS,
                )
                self._stopping.wait(LISTEN_RETRY)
