import sys; sys.path.insert(0, "/tmp/bgen")
from gen import *
n = 80
def person_original(rcpt, n, size=0):
    mid = f"deskmail.{secrets.token_hex(6)}@desk.example.com"
    body = "Hello,\n\nI have reset your account; please try to sign in again and tell me if it works.\n\nAnna Berg\nService Desk\n"
    if size: body += "\n" + ("y" * 76 + "\n") * (size // 77)
    t = (f"From: Anna Berg (Service Desk) <support@desk.example.com>\nTo: {rcpt}\n"
         f"Subject: Re: [Incident] [IT] {200+n}-q4w8e2rt Cannot sign in\nMessage-ID: <{mid}>\n"
         f"Date: Mon, 07 Dec 2026 17:{n%60:02d}:00 +0000\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + body)
    return mid, t.encode()
def lda(case, user, rcpt, label, what, size=0):
    global n; n += 1
    mid, msg = person_original(rcpt, n, size)
    run(["/usr/lib/dovecot/dovecot-lda", "-c", "/tmp/bgen/dv/dovecot.conf", "-d", user, "-f", "support@desk.example.com", "-a", rcpt], msg)
    record(case, "dovecot", mid, [rcpt], [rcpt] if label == "bounce" else [], what, {"label": label})
lda("sieve-reject-german", "rej1", "rej1@kunde.example.de", "bounce", "Pigeonhole Sieve reject (German text)")
lda("sieve-reject-multiline", "rej2", "rej2@customer.example.org", "bounce", "Pigeonhole Sieve reject (multi-line text)")
lda("sieve-reject-by-envelope", "rej3", "rej3@customer.example.org", "bounce", "Pigeonhole Sieve reject on the envelope sender's domain")
lda("sieve-ereject", "erej", "erej@customer.example.org", "bounce", "Pigeonhole Sieve ereject under LDA (becomes a rejection mail)")
lda("quota-full", "tiny", "tiny@customer.example.org", "bounce", "dovecot-lda quota exceeded, quota_full_tempfail = no", size=4000)
lda("quota-full-2", "tiny2", "tiny2@customer.example.org", "bounce", "dovecot-lda quota exceeded, second mail", size=9000)
lda("sieve-vacation", "vac1", "vac1@customer.example.org", "auto-reply", "Pigeonhole Sieve vacation (English)")
lda("sieve-vacation-german", "vac2", "vac2@kunde.example.de", "auto-reply", "Pigeonhole Sieve vacation (German)")
lda("sieve-vacation-french-default-subject", "vac3", "vac3@client.example.fr", "auto-reply", "Pigeonhole Sieve vacation without :subject (French)")
lda("sieve-vacation-japanese", "vac4", "vac4@customer.example.jp", "auto-reply", "Pigeonhole Sieve vacation (Japanese)")
lda("sieve-vacation-spanish-from", "vac5", "vac5@cliente.example.es", "auto-reply", "Pigeonhole Sieve vacation with :from (Spanish)")
