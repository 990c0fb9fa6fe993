"""glibc malloc tuned for intake: freed mail buffers go back to the kernel, and threads
share the heap rather than each growing one.

glibc serves blocks of 128 KiB and more from mmap, and unmaps them on free,
but it raises that threshold to the size of each such block freed (up to
32 MiB). After the first large mail, raw mails and decoded attachments are
carved from the heap instead, and the holes they leave stay resident. Setting
the threshold once turns that adjustment off, and the resident memory
between batches stops creeping (README.md, Performance, has the figures).
"""

from __future__ import annotations

import ctypes
import sys

_M_MMAP_THRESHOLD = -3  # malloc.h
_M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, kept fixed
# glibc gives threads arenas of their own, up to 8 per core, each keeping what was
# freed in it. The Graph source's four $value threads read mail into theirs: capped
# at two arenas, a Graph run peaks lower and an IMAP run (threads only for fsync)
# is unchanged (bench/README.md, the Graph benchmark).
ARENA_MAX = 2


def tune_malloc() -> bool:
    """True when the settings took (glibc on Linux); elsewhere nothing changes.

    Called before any thread starts: an arena made meanwhile would stay.
    """
    if sys.platform != "linux":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # musl has none
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_ARENA_MAX, ARENA_MAX)
    )
