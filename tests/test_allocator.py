"""cli/allocator.py: a freed large block goes back to the kernel, not into the heap;
threads share at most ARENA_MAX heaps."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# Three 16 MiB buffers, each followed by small allocations, as a run takes in big
# mails between small ones; prints the MiB still resident afterwards.
_PROBE = textwrap.dedent(
    """
    import sys
    from deskmail.cli.allocator import tune_malloc

    def rss_mib():
        status = open("/proc/self/status").read()
        return int(status.split("VmRSS:")[1].split()[0]) // 1024

    if sys.argv[1] == "tuned":
        assert tune_malloc()
    start = rss_mib()
    kept = []
    for _ in range(3):
        block = b"x" * (16 * 1024 * 1024)
        kept.append([b"y" * 200 for _ in range(1000)])
        del block
    print(rss_mib() - start)
    """
)


def _retained_mib(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's mallopt; elsewhere a no-op")
def test_freed_large_blocks_are_returned_to_the_kernel() -> None:
    # glibc as it comes keeps a freed 16 MiB buffer resident once its threshold has risen.
    assert _retained_mib("default") >= 8
    assert _retained_mib("tuned") <= 2


# Six threads alive at once, each allocating through malloc (blocks above pymalloc's
# 512 bytes); then glibc's malloc_info lists the heaps (arenas) in use.
_ARENAS_PROBE = textwrap.dedent(
    """
    import ctypes, os, re, sys, tempfile, threading
    from deskmail.cli.allocator import tune_malloc

    if sys.argv[1] == "tuned":
        assert tune_malloc()
    barrier = threading.Barrier(6)
    kept = []

    def work():
        kept.append(bytes(4096) + b"x")
        barrier.wait()

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    libc = ctypes.CDLL(None)
    libc.fopen.restype = ctypes.c_void_p
    path = os.path.join(tempfile.mkdtemp(), "malloc.xml")
    stream = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fclose(ctypes.c_void_p(stream))
    print(len(re.findall("<heap nr=", open(path).read())))
    """
)


def _arenas(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", _ARENAS_PROBE, mode], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's mallopt; elsewhere a no-op")
def test_threads_share_at_most_arena_max_heaps() -> None:
    from deskmail.cli.allocator import ARENA_MAX

    assert _arenas("default") >= 4  # glibc as it comes: a heap for each new thread
    assert _arenas("tuned") <= ARENA_MAX
