"""Telling systemd how `deskmail serve` is doing (`Type=notify`, `WatchdogSec=`).

The protocol is one datagram of `KEY=value` lines to the socket named in
$NOTIFY_SOCKET (sd_notify(3)); a dozen lines of stdlib spare a dependency.
Outside systemd the variable is unset and every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("deskmail.daemon")

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"


def notify(*states: str) -> bool:
    """Send `states` (e.g. "READY=1", "STATUS=...") to systemd; False when not under it."""
    address = os.environ.get(NOTIFY_SOCKET_ENV)
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket, as systemd names it
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(states).encode("utf-8"))
    except OSError as exc:
        # The service manager going away is no reason to stop taking in mail.
        log.warning("could not notify the service manager at %s: %s", address, exc)
        return False
    return True


def watchdog_interval() -> float | None:
    """How often to send WATCHDOG=1: half of WatchdogSec, or None when no watchdog is set.

    systemd sets WATCHDOG_USEC for the main process only (WATCHDOG_PID says
    which): a child that inherited the variable must not ping for its parent.
    """
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        interval = int(usec) / 2_000_000
    except ValueError:
        log.warning("WATCHDOG_USEC=%r is not a number of microseconds; no watchdog pings", usec)
        return None
    return interval if interval > 0 else None
