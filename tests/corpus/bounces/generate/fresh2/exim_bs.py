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
n = 30
bs("dsn-success", "en", S, [("ok-e19@customer.example.org", " NOTIFY=SUCCESS")], [], "NOTIFY=SUCCESS, next hop without DSN", ret=" RET=HDRS ENVID=e19")
bs("dsn-failure-hdrs", "en", S, [("gone-e20@customer.example.org", " NOTIFY=FAILURE ORCPT=rfc822;gone-e20@customer.example.org")], ["gone-e20@customer.example.org"], "DSN requested: NOTIFY=FAILURE RET=HDRS", ret=" RET=HDRS ENVID=e20")
bs("dsn-failure-full-partial", "en", S, [("gone-e21@customer.example.org", " NOTIFY=FAILURE"), ("ok-e21@customer.example.org", " NOTIFY=FAILURE")], ["gone-e21@customer.example.org"], "DSN requested RET=FULL, one of two refused", ret=" RET=FULL")
bs("delay-dsn-requested", "en", S, [("busy-e25@customer.example.org", " NOTIFY=DELAY,FAILURE")], ["busy-e25@customer.example.org"], "NOTIFY=DELAY,FAILURE on a deferred recipient", ret=" RET=HDRS")
