"""Large attachments decoded a chunk at a time into a file, not into memory.

A 25 MB attachment arrives as 34 MB of base64 inside the raw mail. Decoded
into bytes, it would be held a second time until its batch commits; decoded
here, a megabyte at a time, into a file in the blob store's temporary
directory, it is held once (as the raw mail), hashed on the way, and the
blob store takes the file by renaming it (BlobStore.adopt). The parsing
worker (intake/parse_ahead.py) writes these files itself and hands back
their paths instead of the bytes.

Only base64 bodies that parse/elide.py left in the raw mail are spooled
(the usual way large files are sent), and only attachments: bodies become
text anyway, a winmail.dat is unpacked in memory, and message/* parts are
read by the bounce detection. A file nobody adopts (an ignored attachment,
a quarantined mail) is removed by discard() once its batch is done; one
left by a crash is removed by BlobStore.sweep_temporary.
"""

from __future__ import annotations

import binascii
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from deskmail.parse.media_types import SNIFF_BYTES
from deskmail.parse.message import ParsedMessage, SpooledFile
from deskmail.parse.transfer import base64_span_chunks

log = logging.getLogger(__name__)

SPOOL_MIN = 256 * 1024  # bytes of base64 (~190 KB decoded); 1 MiB left 0.5-1 MiB more at the peak
PREFIX = "spool-"  # told apart from the blob store's own blob-*.tmp files
_NOT_SPOOLED = ("message/", "text/rfc822-headers")  # read in memory by classify/loops.py


@dataclass(frozen=True, slots=True)
class Spool:
    """Where large decoded attachments go: a directory on the blob store's filesystem."""

    directory: str
    min_bytes: int = SPOOL_MIN


@dataclass(frozen=True, slots=True)
class Spooled:
    file: SpooledFile
    sha256: str
    head: bytes  # the first bytes, for sniffing the media type


def wanted(spool: Spool, media_type: str, encoded_size: int) -> bool:
    return encoded_size >= spool.min_bytes and not media_type.startswith(_NOT_SPOOLED)


def spool_base64(spool: Spool, data: bytes, start: int, end: int) -> Spooled | None:
    """data[start:end], base64 lines, decoded into a new file; None when not well formed
    (glued blobs, a bad length) or not writable: then it is decoded in memory."""
    chunks = base64_span_chunks(data, start, end)
    if chunks is None:
        return None
    try:
        return _write(spool, chunks)
    except binascii.Error:  # the careful decoder reads it; the file is removed already
        return None
    except OSError as exc:
        # Disk full, directory gone: the mail still becomes its ticket. Should the blob
        # store fail the same way, the mail is quarantined there, with its raw bytes.
        log.warning("attachment not spooled to %s (%s); decoded in memory", spool.directory, exc)
        return None


def _write(spool: Spool, chunks: Iterable[bytes]) -> Spooled:
    digest = hashlib.sha256()
    head = b""
    size = 0
    fd, name = tempfile.mkstemp(dir=spool.directory, prefix=PREFIX)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                out.write(chunk)
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                size += len(chunk)
            # Not fsynced here: the blob store does that when it adopts the file, so
            # files never adopted (ignored, quarantined) cost no wait for the disk.
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Spooled(SpooledFile(name, size), digest.hexdigest(), head)


def discard(messages: Iterable[ParsedMessage]) -> None:
    """Remove the spooled files the blob store did not adopt (adopted ones were renamed)."""
    for message in messages:
        for attachment in message.attachments:
            if attachment.spooled is not None:
                Path(attachment.spooled.path).unlink(missing_ok=True)
