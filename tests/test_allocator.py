"""cli/allocator.py: a freed large block goes back to the kernel, not into the heap."""

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
    from deskmail.cli.allocator import keep_large_blocks_unmapped

    def rss_mib():
        status = open("/proc/self/status").read()
        return int(status.split("VmRSS:")[1].split()[0]) // 1024

    if sys.argv[1] == "tuned":
        assert keep_large_blocks_unmapped()
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
