import asyncio, sys
from aiosmtpd.controller import Controller
class H:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("gone@"):
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown in virtual mailbox table" % address
        if address.startswith("full@"):
            return "452 4.2.2 <%s>: Mailbox full" % address
        envelope.rcpt_tos.append(address); return "250 OK"
    async def handle_DATA(self, server, session, envelope):
        return "554 5.7.1 Message rejected as spam by content filter"
c = Controller(H(), hostname="127.0.0.1", port=2525); c.start()
import time; time.sleep(float(sys.argv[1]))
c.stop()
