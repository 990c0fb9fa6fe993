"""Measuring a command: wall seconds, GNU time's %M, and the peak RSS and PSS of its tree.

Three memory figures, because they answer different questions:

- **peak RSS (tree)**: the largest sum of VmRSS over the process and all its
  descendants, sampled from /proc every 20 ms while it runs. If the command
  ever forks worker processes they are counted (a plain %M would show only
  the largest one). Sampling can miss a peak shorter than the interval, and
  pages shared between processes are counted once per process, so for a
  single process it can read slightly below %M and for a forked tree slightly
  above the memory really in use.
- **peak PSS (tree)**: the same sum of Pss (/proc/PID/smaps_rollup): a page
  shared by n processes counts 1/n in each, so a forked worker's pages still
  shared with its parent are counted once. The memory the command costs.
- **%M**: GNU time's maximum resident set size (`/usr/bin/time -f %M`), the
  kernel's exact high-water mark of the one process it starts (and of the
  largest child it waited for). GNU time itself is not counted in either.

Stdlib only (the django-helpdesk venv imports this module too).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

GNU_TIME = "/usr/bin/time"
INTERVAL = 0.02  # seconds between /proc samples


@dataclass
class Measured:
    """One finished command."""

    seconds: float  # wall time, start to exit
    tree_mib: float  # peak summed VmRSS of the process tree (sampled), MiB
    tree_pss_mib: float  # peak summed Pss of the process tree (sampled), MiB
    max_rss_mib: float | None  # GNU time %M of the command, MiB (None without GNU time)
    returncode: int
    stdout: bytes
    stderr: bytes
    # GNU time's %U + %S: CPU seconds of the command and the children it waited for; less
    # moved than wall time by other work on the machine (None without GNU time).
    cpu_seconds: float | None = None


def _children(pid: int) -> list[int]:
    """Direct children of pid, over all its threads (/proc/PID/task/TID/children)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as handle:
                found.extend(int(child) for child in handle.read().split())
        except OSError:
            continue
    return found


def _children_by_scan(pid: int) -> list[int]:
    """The same from every /proc/PID/stat: for kernels without CONFIG_PROC_CHILDREN."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # pid (comm) state ppid ...; comm may hold spaces and parentheses
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry))
    return found


_HAS_CHILDREN_FILE = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
children_of = _children if _HAS_CHILDREN_FILE else _children_by_scan


def _proc_kib(pid: int, file: str, field: bytes) -> int:
    """A "Field:  N kB" line of /proc/PID/<file>, in KiB (0 once the process has exited)."""
    try:
        with open(f"/proc/{pid}/{file}", "rb") as handle:
            for line in handle:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def vmrss_kib(pid: int) -> int:
    """VmRSS of one process in KiB (0 once it has exited or is a zombie)."""
    return _proc_kib(pid, "status", b"VmRSS:")


def pss_kib(pid: int) -> int:
    """Pss of one process in KiB: shared pages split among the processes sharing them."""
    return _proc_kib(pid, "smaps_rollup", b"Pss:")


def tree_kib(root: int, *, include_root: bool = True) -> tuple[int, int]:
    """Summed (VmRSS, Pss) of root and all its descendants, in KiB."""
    rss = pss = 0
    stack, seen = [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        if pid != root or include_root:
            rss += vmrss_kib(pid)
            pss += pss_kib(pid)
        stack.extend(children_of(pid))
    return rss, pss


class TreeSampler:
    """A background thread recording the peaks of tree_kib(root) until stopped."""

    def __init__(self, root: int, *, include_root: bool = True, interval: float = INTERVAL):
        self.root = root
        self.include_root = include_root
        self.interval = interval
        self.peak_kib = 0
        self.peak_pss_kib = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while True:
            rss, pss = tree_kib(self.root, include_root=self.include_root)
            self.peak_kib = max(self.peak_kib, rss)
            self.peak_pss_kib = max(self.peak_pss_kib, pss)
            self.samples += 1
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mib(self) -> float:
        return self.peak_kib / 1024

    @property
    def peak_pss_mib(self) -> float:
        return self.peak_pss_kib / 1024


def run(
    command: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Measured:
    """Run command to its end, output captured; under GNU time when there is one."""
    with tempfile.TemporaryDirectory(prefix="measure-") as tmp:
        rss_file = Path(tmp) / "maxrss"
        wrapped = os.access(GNU_TIME, os.X_OK)
        argv = (
            [GNU_TIME, "-f", "%U %S %M", "-o", str(rss_file), *command] if wrapped else [*command]
        )
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        # GNU time is the root when it wraps the command: its own ~2 MiB are left out.
        with TreeSampler(process.pid, include_root=not wrapped) as sampler:
            stdout, stderr = process.communicate()
        seconds = time.perf_counter() - started
        max_rss: float | None = None
        cpu: float | None = None
        if wrapped and rss_file.exists():
            words = rss_file.read_text().split()  # "Command exited with non-zero status N" first
            if words and words[-1].isdigit():
                max_rss = int(words[-1]) / 1024
            try:
                cpu = float(words[-3]) + float(words[-2])
            except (IndexError, ValueError):
                cpu = None
    return Measured(
        seconds,
        sampler.peak_mib,
        sampler.peak_pss_mib,
        max_rss,
        process.returncode,
        stdout,
        stderr,
        cpu,
    )
