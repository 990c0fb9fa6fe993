"""A Maildir job is woken by file-system events in new/ and cur/ (watchdog: inotify on Linux).

Delivery writes into tmp/ and renames into new/: a move into new/ wakes the
job. Our own acknowledgements must not wake it again: mark_seen renames
new/ -> cur/, delete unlinks, move renames into a sub-folder, so deletions,
renames between new/ and cur/, and sub-folders are ignored. When the Maildir
cannot be watched (missing, no inotify on a network share), one log line,
and the schedule alone drives the job.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from watchdog.events import (
    EVENT_TYPE_CLOSED,
    EVENT_TYPE_CREATED,
    EVENT_TYPE_MOVED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from deskmail.config.models import JobConfig

log = logging.getLogger("deskmail.daemon.maildir_watch")

_MAIL_FOLDERS = ("new", "cur")


def signals_new_mail(event: FileSystemEvent, root: Path) -> bool:
    """A message file appeared in root's new/ or cur/: created, written, or renamed in.

    Renames between new/ and cur/ are flag changes (our own mark_seen among
    them); files in tmp/ are still being written; sub-folders are other folders.
    """
    if event.is_directory:
        return False
    mail_folders = {root / folder for folder in _MAIL_FOLDERS}

    def in_mail_folder(path: bytes | str) -> bool:
        file = Path(os.fsdecode(path))
        return file.parent in mail_folders and not file.name.startswith(".")

    if event.event_type in (EVENT_TYPE_CREATED, EVENT_TYPE_CLOSED):
        return in_mail_folder(event.src_path)
    if event.event_type == EVENT_TYPE_MOVED:
        return in_mail_folder(event.dest_path) and not in_mail_folder(event.src_path)
    return False


class _Handler(FileSystemEventHandler):
    def __init__(self, root: Path, wake: Callable[[], None]) -> None:
        self._root = root
        self._wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        if signals_new_mail(event, self._root):
            self._wake()


class MaildirWatcher:
    """Watches one Maildir's new/ and cur/; `wake` is called when mail may have arrived."""

    def __init__(self, job: JobConfig, wake: Callable[[], None]) -> None:
        self._job = job
        self._wake = wake
        self._observer: BaseObserver | None = None

    def start(self) -> None:
        root = Path(self._job.path or "")
        observer = Observer()
        observer.name = f"maildir {self._job.name}"
        observer.daemon = True
        try:
            # One recursive watch, not one per folder: only then is a rename
            # from new/ to cur/ (or tmp/ to new/) reported as one move.
            observer.schedule(_Handler(root, self._wake), str(root), recursive=True)
            observer.start()
        except OSError as exc:
            log.warning(
                "job %s: cannot watch %s for new mail (%s); new mail waits for the schedule",
                self._job.name,
                root,
                exc,
            )
            return
        self._observer = observer
        log.info("job %s: watching %s for new mail", self._job.name, root)

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()

    def join(self, timeout: float | None = None) -> bool:
        if self._observer is None:
            return True
        self._observer.join(timeout)
        return not self._observer.is_alive()
