"""Content-addressed file store for attachments and raw messages.

A blob lives at root/ab/cd/<sha256>. Its name is computed from its bytes,
never taken from a mail, so no attachment name can choose a path. Writes are
crash-safe: a blob is visible only once complete and on disk.

Intake writes a transaction's blobs through a BlobBatch: each is written and
made durable (fsync of the file, rename, fsync of its directory) in a
background thread while the transaction goes on, and the commit waits for
them. fsync is waiting for the disk, not Python work, so the threads overlap
it with the database writes; done one after another in the intake thread, the
fsyncs of the benchmark's 1,000 mails took a tenth of the run.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
# Seconds a temporary file may stay before sweep_temporary takes it for a crash's leftover;
# a run holds one for the few seconds its batch takes, an instance on another host too.
TEMPORARY_LIFETIME = 24 * 3600
# Threads making a BlobBatch's blobs durable: each mostly waits in fsync for the disk.
SYNC_THREADS = 4


@dataclass(frozen=True)
class BlobRef:
    sha256: str
    size: int


def _fsync(path: Path, flags: int = os.O_RDONLY) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    # Makes a created or renamed directory entry durable, not just the file's data.
    _fsync(path, os.O_RDONLY | os.O_DIRECTORY)


def _make_dirs(path: Path) -> None:
    """mkdir -p, fsyncing the parent of every directory created."""
    if path.is_dir():
        return
    _make_dirs(path.parent)
    try:
        path.mkdir()
    except FileExistsError:  # a concurrent writer made it
        return
    _fsync_dir(path.parent)


class BlobWriter(Protocol):
    """What storing an attachment needs: a BlobStore (durable on return) or a BlobBatch."""

    def put(self, data: bytes, sha256: str | None = None) -> BlobRef: ...

    def adopt(self, path: str, sha256: str, size: int) -> BlobRef: ...


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        # Temporary files sit under root so the final os.replace stays on one filesystem.
        self._tmp = root / "tmp"
        self._sync_pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def path(self, sha256: str) -> Path:
        """Where the blob `sha256` lives; ValueError unless it is 64 lowercase hex digits."""
        if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        """The blob's bytes; FileNotFoundError when it is not stored."""
        return self.path(sha256).open("rb")

    def put(self, data: bytes, sha256: str | None = None) -> BlobRef:
        """Store `data`. `sha256`: its digest, when the caller has it already (the
        parser hashes every attachment): not computed again, and a blob already
        stored is found before anything is written."""
        if sha256 is None:
            return self.put_stream((data,))
        return self._store_durably(data, BlobRef(sha256, len(data)))

    def put_stream(self, chunks: Iterable[bytes]) -> BlobRef:
        """Store the concatenated chunks; a blob already stored is not rewritten."""
        digest = hashlib.sha256()
        tmp = self._write_temporary(chunks, digest)
        return self._settle(BlobRef(digest.hexdigest(), tmp.stat().st_size), tmp)

    def spool_directory(self) -> str:
        """Where the parser may decode large attachments (parse/spool.py) for adopt()."""
        _make_dirs(self._tmp)
        return str(self._tmp)

    def adopt(self, path: str, sha256: str, size: int) -> BlobRef:
        """Store a file written under spool_directory() (its digest known) by renaming
        it, once on disk; a blob already stored is kept and the file removed."""
        return self._settle(BlobRef(sha256, size), self._spooled(path), sync=True)

    def batch(self) -> BlobBatch:
        """A writer whose blobs become durable in the background; see BlobBatch."""
        return BlobBatch(self)

    def sweep_temporary(self, older_than: float = TEMPORARY_LIFETIME) -> int:
        """Remove temporary files a crash left (no run keeps one for long); how many."""
        if not self._tmp.is_dir():
            return 0
        cutoff = time.time() - older_than
        removed = 0
        for entry in os.scandir(self._tmp):
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:  # another instance's run took or removed it
                continue
        return removed

    def close(self) -> None:
        """Stop the background threads (Store.dispose); a later batch starts them again."""
        with self._pool_lock:
            pool, self._sync_pool = self._sync_pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _spooled(self, path: str) -> Path:
        tmp = Path(path)
        if tmp.parent != self._tmp:
            raise ValueError(f"not a file of this blob store's spool: {path}")
        return tmp

    def _settle(self, ref: BlobRef, tmp: Path, *, sync: bool = False) -> BlobRef:
        """The written file `tmp` becomes the blob, or goes if the blob is stored already.
        `sync`: fsync it first (the parser's spool files are written without)."""
        if self._stored(ref):
            tmp.unlink(missing_ok=True)
            return ref
        if sync:
            try:
                _fsync(tmp)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        self._install(ref, tmp)
        return ref

    def _store_durably(self, data: bytes, ref: BlobRef) -> BlobRef:
        """put() of a known digest, from start to durable (a BlobBatch's thread)."""
        if not self._stored(ref):
            self._install(ref, self._write_temporary((data,), None))
        return ref

    def _submit(self, work: Callable[..., BlobRef], *args: object) -> Future[BlobRef]:
        with self._pool_lock:  # one pool per store, made on first use, shared by batches
            if self._sync_pool is None:
                self._sync_pool = ThreadPoolExecutor(SYNC_THREADS, thread_name_prefix="blob-sync")
            return self._sync_pool.submit(work, *args)

    def _stored(self, ref: BlobRef) -> bool:
        # Same name means same bytes; the size check only guards against a
        # file damaged outside deskmail (ours appear whole via os.replace).
        final = self.path(ref.sha256)
        return final.is_file() and final.stat().st_size == ref.size

    def _write_temporary(self, chunks: Iterable[bytes], digest: hashlib._Hash | None) -> Path:
        """The chunks in a new file under tmp/, on disk (fsynced); hashed into `digest`."""
        _make_dirs(self._tmp)
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="blob-", suffix=".tmp")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    if digest is not None:
                        digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return tmp

    def _install(self, ref: BlobRef, tmp: Path) -> None:
        """Move a written temporary file to its name; durable once this returns."""
        final = self.path(ref.sha256)
        try:
            _make_dirs(final.parent)
            os.replace(tmp, final)
            _fsync_dir(final.parent)
        finally:
            tmp.unlink(missing_ok=True)


class BlobBatch:
    """The blobs of one transaction, made durable in background threads.

    put() and adopt() return at once; wait() returns once every blob is on
    disk under its name (or raises the first failure), and must be called before
    the transaction that refers to them commits (intake/process.py calls it
    last in the transaction). Leaving the `with` block waits too, so no
    thread still renames a file once the caller goes on (a batch rolled back is
    taken in again, adopting the same spool files). A blob written for a
    transaction that then rolls back stays, unreferenced, as before.
    """

    def __init__(self, store: BlobStore) -> None:
        self._store = store
        self._pending: dict[str, Future[BlobRef]] = {}

    def put(self, data: bytes, sha256: str | None = None) -> BlobRef:
        if sha256 is None:
            sha256 = hashlib.sha256(data).hexdigest()
        ref = BlobRef(sha256, len(data))
        if sha256 not in self._pending:  # the same file twice in a batch: written once
            self._pending[sha256] = self._store._submit(self._store._store_durably, data, ref)
        return ref

    def adopt(self, path: str, sha256: str, size: int) -> BlobRef:
        tmp = self._store._spooled(path)  # a wrong path raises here, not in a thread
        if sha256 in self._pending:
            tmp.unlink(missing_ok=True)
        else:
            self._pending[sha256] = self._store._submit(self._store.adopt, path, sha256, size)
        return BlobRef(sha256, size)

    def wait(self) -> None:
        """Every blob so far durable; the first failure (disk full) raised."""
        for future in self._pending.values():
            future.result()

    def __enter__(self) -> BlobBatch:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for future in self._pending.values():
            future.exception()  # waits; a failure was raised by wait() or does not matter now


__all__ = ["BlobBatch", "BlobRef", "BlobStore", "BlobWriter"]
