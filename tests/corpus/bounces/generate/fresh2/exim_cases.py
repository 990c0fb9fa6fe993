import sys; sys.path.insert(0, "/tmp/bgen")
from gen import *
EX = ["exim4"]
def ex(conf): return ["exim4", "-C", f"/tmp/bgen/exim/{conf}.conf"]
n = 0
def cmdline(case, conf, sender, rcpts, failed, what, big=0, flags=("-odi",)):
    global n; n += 1
    mid, msg = original(case, sender, rcpts, big=big, n=n)
    run(ex(conf) + list(flags) + ["-oi", "-f", sender] + rcpts, msg)
    record(case, "exim", mid, rcpts, failed, what)
def bs(case, conf, sender, rcpts, failed, what, ret=""):
    global n; n += 1
    mid, msg = original(case, sender, [r for r, _ in rcpts], n=n)
    # SMTP on stdin (-bs), as a client would submit, with DSN parameters
    sess = smtp_session(sender, rcpts, msg).replace(f"MAIL FROM:<{sender}>".encode(), f"MAIL FROM:<{sender}>{ret}".encode())
    run(ex(conf) + ["-bs", "-odi", "-oMa", "127.0.0.1", "-oMs", "desk.example.com"], sess)
    record(case, "exim", mid, [r for r, _ in rcpts], failed, what)

S = "support@desk.example.com"
cmdline("unknown-user-remote", "en", S, ["gone-e1@customer.example.org"], ["gone-e1@customer.example.org"], "550 5.1.1 at RCPT")
cmdline("unknown-domain", "en", S, ["jane.doe@customer-e2.invalid"], ["jane.doe@customer-e2.invalid"], "unrouteable domain (NXDOMAIN)")
cmdline("unknown-local-user", "en", "helpdesk@desk.example.com", ["nobody-e3@local.example.net"], ["nobody-e3@local.example.net"], "no router accepts the local address")
cmdline("mailbox-full-local", "en", S, ["small@local.example.net"], ["small@local.example.net"], "appendfile quota exceeded", big=6000)
cmdline("mailbox-full-remote", "en", S, ["full-e5@customer.example.org"], ["full-e5@customer.example.org"], "552 5.2.2 at RCPT")
cmdline("relay-denied", "en", S, ["relay-e6@other.example.com"], ["relay-e6@other.example.com"], "554 5.7.1 relay access denied")
cmdline("blocklisted", "en", S, ["blocked-e7@customer.example.org"], ["blocked-e7@customer.example.org"], "550 5.7.1 client blocked (DNSBL)")
cmdline("mailbox-disabled", "en", "it-support@desk.example.com", ["disabled-e8@customer.example.org"], ["disabled-e8@customer.example.org"], "550 5.2.1 mailbox disabled")
cmdline("user-moved", "en", S, ["moved-e9@customer.example.org"], ["moved-e9@customer.example.org"], "551 5.1.6 user not local")
cmdline("spam-at-data", "en", S, ["spam-e10@customer.example.org"], ["spam-e10@customer.example.org"], "554 5.7.1 at DATA")
cmdline("too-large", "en", S, ["bob-e11@customer.example.org"], ["bob-e11@customer.example.org"], "message_size_limit exceeded at submission (-oem)", big=200_000, flags=("-odi", "-oem"))
cmdline("partial-three-recipients", "en", S, ["ok-e12@customer.example.org", "gone-e12@customer.example.org", "full-e12@customer.example.org"], ["gone-e12@customer.example.org", "full-e12@customer.example.org"], "two of three recipients refused")
cmdline("headers-only", "hdrs", S, ["gone-e13@customer.example.org"], ["gone-e13@customer.example.org"], "bounce_return_body = false")
cmdline("no-returned-message", "noret", S, ["gone-e14@customer.example.org"], ["gone-e14@customer.example.org"], "bounce_return_message = false")
cmdline("german-template", "de", S, ["gone-e15@kunde.example.de"], ["gone-e15@kunde.example.de"], "German bounce_message_file")
cmdline("german-template-domain", "de", S, ["max@kunde-e16.invalid"], ["max@kunde-e16.invalid"], "German bounce_message_file, unknown domain")
cmdline("french-template", "fr", S, ["gone-e17@client.example.fr"], ["gone-e17@client.example.fr"], "French bounce_message_file")
cmdline("truncated-large", "trunc", S, ["full-e18@customer.example.org"], ["full-e18@customer.example.org"], "bounce_return_size_limit 8K on a 100K mail", big=100_000)
bs("dsn-success", "en", S, [("ok-e19@customer.example.org", " NOTIFY=SUCCESS")], [], "NOTIFY=SUCCESS, next hop without DSN", ret=" RET=HDRS ENVID=e19")
bs("dsn-failure-hdrs", "en", S, [("gone-e20@customer.example.org", " NOTIFY=FAILURE ORCPT=rfc822;gone-e20@customer.example.org")], ["gone-e20@customer.example.org"], "DSN requested: NOTIFY=FAILURE RET=HDRS", ret=" RET=HDRS ENVID=e20")
bs("dsn-failure-full-partial", "en", S, [("gone-e21@customer.example.org", " NOTIFY=FAILURE"), ("ok-e21@customer.example.org", " NOTIFY=FAILURE")], ["gone-e21@customer.example.org"], "DSN requested RET=FULL, one of two refused", ret=" RET=FULL")
# delays: deferred now, warned after delay_warning (1m), failed after the retry rule's 3m
cmdline("delay-warning", "en", S, ["busy-e22@customer.example.org"], ["busy-e22@customer.example.org"], "451 deferred: delay warning then failure")
cmdline("delay-greylist", "en", S, ["greylist-e23@customer.example.org"], ["greylist-e23@customer.example.org"], "450 greylisted: delay warning then failure")
cmdline("delay-german", "de", S, ["busy-e24@kunde.example.de"], ["busy-e24@kunde.example.de"], "German warn_message_file")
bs("delay-dsn-requested", "en", S, [("busy-e25@customer.example.org", " NOTIFY=DELAY,FAILURE")], ["busy-e25@customer.example.org"], "NOTIFY=DELAY,FAILURE on a deferred recipient", ret=" RET=HDRS")
