"""The far side every generating MTA relays to: refuses recipients by local part,
accepts mail for desk.example.com (the bounces) and writes each one to a file."""
from __future__ import annotations
import sys, time, itertools
from pathlib import Path
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

OUT = Path(sys.argv[3] if len(sys.argv) > 3 else "/tmp/bgen/out")
seq = itertools.count(int(time.time()*1000) % 100000 * 1000)

RCPT = {
    "gone": "550 5.1.1 <{a}>: Recipient address rejected: User unknown in virtual mailbox table",
    "full": "552 5.2.2 <{a}>: Mailbox full, quota exceeded",
    "relay": "554 5.7.1 <{a}>: Relay access denied",
    "busy": "451 4.2.0 <{a}>: Recipient address temporarily unavailable, try again later",
    "blocked": "550 5.7.1 Service unavailable; client [127.0.0.1] blocked using zen.spamhaus.org",
    "disabled": "550 5.2.1 <{a}>: mailbox disabled, not accepting messages",
    "moved": "551 5.1.6 User not local; please try <new.address@customer.example.org>",
    "greylist": "450 4.7.1 <{a}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/customer.example.org.html",
}

class Remote:
    async def handle_RCPT(self, server, session, envelope, address, options):
        local = address.split("@")[0].lower()
        for key, reply in RCPT.items():
            if local.startswith(key):
                return reply.format(a=address)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(r.split("@")[0].lower().startswith("spam") for r in envelope.rcpt_tos):
            return "554 5.7.1 Message rejected as spam by content filter (score 12.3)"
        if len(envelope.content) > 100_000 and not any(r.endswith("@desk.example.com") for r in envelope.rcpt_tos):
            return "552 5.3.4 Message size exceeds fixed limit"
        if any(r.lower().endswith("@desk.example.com") for r in envelope.rcpt_tos):
            n = next(seq)
            (OUT / f"{n}.eml").write_bytes(envelope.content)
            (OUT / f"{n}.env").write_text(f"{envelope.mail_from}\n{' '.join(envelope.rcpt_tos)}\n")
        return "250 2.0.0 Ok: queued"

if __name__ == "__main__":
    port = int(sys.argv[1])
    c = Controller(Remote(), hostname="127.0.0.1", port=port, data_size_limit=10_000_000)
    c.start()
    time.sleep(float(sys.argv[2]))
    c.stop()
