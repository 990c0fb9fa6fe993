"""A stand-in for Samba's `ntlm_auth --helper-protocol=squid-2.5-ntlmssp`, for Dovecot.

Dovecot 2.3 checks NTLM logins only through that helper (auth_use_winbind): it
writes "YR <base64 NEGOTIATE>" and expects "TT <base64 CHALLENGE>", then writes
"KK <base64 AUTHENTICATE>" and expects "AF <user>" or "NA <NT status>". Here
pyspnego's NTLM acceptor does the checking, against the accounts in the file
named by NTLM_USER_FILE ("DOMAIN:user:password" lines), so Dovecot's real SASL
framing for IMAP and POP3 is what the client meets.
"""

from __future__ import annotations

import base64
import sys

import spnego
from spnego.exceptions import SpnegoError


def _reply(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> None:
    context: spnego.ContextProxy | None = None
    for line in sys.stdin:
        code, _, blob = line.strip().partition(" ")
        token = base64.b64decode(blob) if blob else b""
        if code == "YR":  # a new exchange
            context = spnego.server(protocol="ntlm", options=spnego.NegotiateOptions.use_ntlm)
            try:
                challenge = context.step(token)
            except SpnegoError as exc:
                _reply(f"BH {exc}")
                continue
            _reply(f"TT {base64.b64encode(challenge or b'').decode()}")
        elif code == "KK" and context is not None:
            try:
                context.step(token)
            except SpnegoError:
                _reply("NA NT_STATUS_WRONG_PASSWORD")
            else:
                _reply(f"AF {context.client_principal}")
            context = None
        else:
            _reply("BH unexpected request")


if __name__ == "__main__":
    main()
