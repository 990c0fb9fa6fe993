"""The remote server the Exim bounces were made against (generate/README.md): refuses
gone@ at RCPT and every message at DATA, for the given number of seconds."""

from __future__ import annotations

import sys
import time
from typing import Any

from aiosmtpd.controller import Controller


class Refuser:
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("gone@"):
            return (
                f"550 5.1.1 <{address}>: Recipient address rejected:"
                " User unknown in virtual mailbox table"
            )
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "554 5.7.1 Message rejected as spam by content filter"


if __name__ == "__main__":
    controller = Controller(Refuser(), hostname="127.0.0.1", port=2525)
    controller.start()
    time.sleep(float(sys.argv[1]))
    controller.stop()
