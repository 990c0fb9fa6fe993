"""Maildir mailbox source (a local folder with new/, cur/ and tmp/).

A message is one file named "<unique>" in new/ or "<unique>:2,<flags>" in
cur/; the unique part never changes, so it is the key. Files are read as raw
bytes and only ever renamed or unlinked, never rewritten, so the bytes stay
exactly as delivered. (The stdlib `mailbox.Maildir` is used to open the
Maildir and its Maildir++ sub-folders; its message API would re-serialise the
mail when flagging or moving it, so those are plain renames here.)
"""

from __future__ import annotations

import logging
import mailbox
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from deskmail.config.models import AfterProcessing, JobConfig
from deskmail.sources.base import ClosingSource, FetchedMessage, MailboxInfo
from deskmail.sources.errors import SourceError, Step

log = logging.getLogger("deskmail.sources.maildir")

_PREFIX = "maildir:"
_INFO = ":2,"
# "1700000000.M123456P789.host": seconds and microseconds of the delivery.
_DELIVERY = re.compile(r"(\d+)\.(?:M(\d+))?")


@dataclass(frozen=True, slots=True)
class _File:
    subdir: str  # "new" or "cur"
    name: str  # the file name, "<unique>" or "<unique>:2,<flags>"
    flags: str  # the Maildir flags, e.g. "FS"


def _delivery_order(unique: str) -> tuple[int, int, str]:
    match = _DELIVERY.match(unique)
    if match is None:
        return (0, 0, unique)
    return (int(match.group(1)), int(match.group(2) or 0), unique)


class MaildirSource(ClosingSource):
    """One Maildir; no connection, so nothing to close."""

    def __init__(self, job: JobConfig) -> None:
        if job.path is None:
            raise SourceError(Step.FOLDER, "no path is configured for this Maildir job")
        self._job = job
        self._root = Path(job.path)
        self._server = str(self._root)
        try:
            self._box = mailbox.Maildir(self._root, factory=None, create=False)
        except mailbox.NoSuchMailboxError as exc:
            raise SourceError(
                Step.FOLDER, "the Maildir does not exist", server=self._server
            ) from exc
        missing = [sub for sub in ("new", "cur", "tmp") if not (self._root / sub).is_dir()]
        if missing:
            raise SourceError(
                Step.FOLDER,
                f"not a Maildir: {', '.join(missing)} sub-folder(s) missing",
                server=self._server,
            )

    # ---- Source protocol --------------------------------------------------

    def info(self) -> MailboxInfo:
        return MailboxInfo(
            protocol="maildir",
            server=self._server,
            folder="",  # a Maildir has no folders to choose: the path is the mailbox
            keys=tuple(self.list_keys()),
            read_only=tuple(
                sub for sub in ("new", "cur", "tmp") if not os.access(self._root / sub, os.W_OK)
            ),
        )

    def list_keys(self) -> list[str]:
        # "T" (trashed) is Maildir's \Deleted: such mail is on its way out.
        waiting = [unique for unique, file in self._scan().items() if "T" not in file.flags]
        return [_PREFIX + unique for unique in sorted(waiting, key=_delivery_order)]

    def fetch(self, keys: Iterable[str]) -> Iterator[FetchedMessage]:
        files = self._scan()
        for key in keys:
            unique = self._unique(key)
            file = files.get(unique) if unique else None
            if file is None:
                continue
            try:
                raw = (self._root / file.subdir / file.name).read_bytes()
            except FileNotFoundError:  # removed or renamed meanwhile by someone else
                continue
            yield FetchedMessage(key, raw)

    def acknowledge(self, keys: Iterable[str]) -> None:
        action = self._job.effective_after_processing
        if action is AfterProcessing.KEEP:
            return
        files = self._scan()
        target = self._target() if action is AfterProcessing.MOVE else None
        for key in keys:
            unique = self._unique(key)
            file = files.get(unique) if unique else None
            if file is None:
                continue  # already acknowledged: nothing to do
            source = self._root / file.subdir / file.name
            try:
                if action is AfterProcessing.DELETE:
                    source.unlink()
                elif target is not None:
                    # A rename within the Maildir tree: atomic, same file system.
                    os.rename(source, target / file.subdir / file.name)
                else:
                    seen = "".join(sorted(set(file.flags) | {"S"}))
                    destination = self._root / "cur" / f"{unique}{_INFO}{seen}"
                    if destination != source:
                        os.rename(source, destination)
            except FileNotFoundError:
                continue  # acknowledged by a concurrent run meanwhile

    def close(self) -> None:
        """Nothing to release: every acknowledgement is a finished rename or unlink."""

    # ---- files ------------------------------------------------------------

    def _scan(self) -> dict[str, _File]:
        """Every message file of new/ and cur/, by unique name."""
        files: dict[str, _File] = {}
        for subdir in ("new", "cur"):
            try:
                entries = list(os.scandir(self._root / subdir))
            except OSError as exc:
                raise SourceError(
                    Step.FOLDER, f"cannot read {subdir}/: {exc.strerror}", server=self._server
                ) from exc
            for entry in entries:
                if entry.name.startswith(".") or not entry.is_file():
                    continue
                unique, _, info = entry.name.partition(":")
                flags = info[2:] if info.startswith("2,") else ""
                files[unique] = _File(subdir, entry.name, flags)
        return files

    def _unique(self, key: str) -> str | None:
        if not key.startswith(_PREFIX):
            log.warning("ignoring key %r: not a Maildir key", key)
            return None
        return key[len(_PREFIX) :]

    def _target(self) -> Path:
        """The Maildir++ sub-folder for move_to ("Done", "INBOX/Done", "INBOX.Done" -> .Done)."""
        name = (self._job.move_to or "").replace("/", ".")
        if name.upper().startswith("INBOX."):
            name = name[len("INBOX.") :]
        if not name.strip(".") or name.upper() == "INBOX":
            raise SourceError(
                Step.FOLDER,
                f"move_to {self._job.move_to!r} is not a folder name",
                server=self._server,
            )
        if name not in self._box.list_folders():
            log.info("creating Maildir folder %r in %s for processed mail", name, self._server)
            self._box.add_folder(name)
        return self._root / f".{name}"
