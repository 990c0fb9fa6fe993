"""Drive real MTAs into bouncing; every case gets its own original (unique Message-ID)
and its own recipient addresses so each bounce can be told apart afterwards."""
from __future__ import annotations
import json, os, secrets, subprocess, sys, time
from pathlib import Path

ROOT = Path("/tmp/bgen")
CASES = ROOT / "cases"
SUBJECTS = [
    "[Incident] [IT] {n}-k7q2p9xm Printer on fire",
    "Re: [Incident] [IT] {n}-a8c3x1qz VPN drops every hour",
    "[Incident] [HR] {n}-m2v9w4tt Your request has been registered",
    "[Incident] [IT] {n}-p0d5r7sk Resolved: Outlook keeps asking for the password",
    "[Incident] [FAC] {n}-h3j8n6bc Badge reader at the north door",
    "Re: [Incident] [IT] {n}-z1y2x3w4 New laptop for Marie",
]
BODY = "Hello,\n\nWe have registered your request. Reply to this mail to add to it.\n\nService Desk\n"

def original(case: str, sender: str, rcpts: list[str], big: int = 0, n: int = 0) -> tuple[str, bytes]:
    mid = f"deskmail.{secrets.token_hex(6)}@desk.example.com"
    subject = SUBJECTS[n % len(SUBJECTS)].format(n=100 + n)
    body = BODY
    if big:
        line = "x" * 76 + "\n"
        body += "\n-- attached log --\n" + line * (big // 77)
    text = (
        f"From: Service Desk <{sender}>\nTo: {', '.join(rcpts)}\nSubject: {subject}\n"
        f"Message-ID: <{mid}>\nDate: Mon, 07 Dec 2026 17:{n % 60:02d}:00 +0000\n"
        "Auto-Submitted: auto-replied\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + body
    )
    return mid, text.encode()

def record(case: str, mta: str, mid: str, rcpts: list[str], failed: list[str], what: str, extra: dict | None = None) -> None:
    (CASES / f"{mta}-{case}.json").write_text(json.dumps(
        {"case": case, "mta": mta, "mid": mid, "rcpts": rcpts, "failed": failed, "what": what, **(extra or {})}))

def run(cmd: list[str], data: bytes) -> None:
    p = subprocess.run(cmd, input=data, capture_output=True, timeout=120)
    if p.returncode:
        print("   rc", p.returncode, p.stderr.decode()[-300:], file=sys.stderr)

def smtp_session(mail_from: str, rcpts: list[tuple[str, str]], msg: bytes, helo: str = "desk.example.com") -> bytes:
    lines = [f"EHLO {helo}", f"MAIL FROM:<{mail_from}>"]
    lines += [f"RCPT TO:<{r}>{opts}" for r, opts in rcpts]
    lines += ["DATA"]
    body = msg.replace(b"\n", b"\r\n")
    return ("\r\n".join(lines) + "\r\n").encode() + body + b"\r\n.\r\nQUIT\r\n"
