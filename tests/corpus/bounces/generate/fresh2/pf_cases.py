import sys; sys.path.insert(0, "/tmp/bgen")
from gen import *
R = "/tmp/bgen/pfroot"
os.environ["LD_LIBRARY_PATH"] = f"{R}/usr/lib/postfix"
SM = [f"{R}/usr/sbin/sendmail", "-C", "/tmp/bgen/pf/conf"]
n = 40
def pf(case, sender, rcpts, failed, what, big=0, flags=()):
    global n; n += 1
    mid, msg = original(case, sender, rcpts, big=big, n=n)
    run(SM + list(flags) + ["-oi", "-f", sender] + rcpts, msg)
    record(case, "postfix", mid, rcpts, failed, what)
S = "support@desk.example.com"
phase = sys.argv[1]
if phase == "1":
    pf("unknown-user-remote", S, ["gone-p1@customer.example.org"], ["gone-p1@customer.example.org"], "550 5.1.1 at RCPT")
    pf("unknown-domain", S, ["jane@customer-p2.invalid"], ["jane@customer-p2.invalid"], "Host or domain name not found (NXDOMAIN)")
    pf("virtual-unknown-user", "helpdesk@desk.example.com", ["nobody-p3@vmail.example.net"], ["nobody-p3@vmail.example.net"], "virtual mailbox domain, unknown user")
    pf("mailbox-full-virtual", S, ["tiny@vmail.example.net"], ["tiny@vmail.example.net"], "virtual_mailbox_limit exceeded", big=6000)
    pf("mailbox-full-remote", S, ["full-p5@customer.example.org"], ["full-p5@customer.example.org"], "552 5.2.2 at RCPT")
    pf("relay-denied", S, ["relay-p6@other.example.com"], ["relay-p6@other.example.com"], "554 5.7.1 relay access denied")
    pf("blocklisted", S, ["blocked-p7@customer.example.org"], ["blocked-p7@customer.example.org"], "550 5.7.1 DNSBL")
    pf("mailbox-disabled", "it-support@desk.example.com", ["disabled-p8@customer.example.org"], ["disabled-p8@customer.example.org"], "550 5.2.1")
    pf("spam-at-data", S, ["spam-p9@customer.example.org"], ["spam-p9@customer.example.org"], "554 5.7.1 at DATA")
    pf("too-large-local", S, ["bob-p10@customer.example.org"], ["bob-p10@customer.example.org"], "message_size_limit at submission", big=200_000)
    pf("too-large-remote", S, ["carol-p11@customer.example.org"], ["carol-p11@customer.example.org"], "remote 552 5.3.4 at DATA", big=140_000 + 70_000 * 0)
    pf("partial-three-recipients", S, ["ok-p12@customer.example.org", "gone-p12@customer.example.org", "relay-p12@other.example.com"], ["gone-p12@customer.example.org", "relay-p12@other.example.com"], "two of three refused")
    pf("headers-only", S, ["gone-p13@customer.example.org"], ["gone-p13@customer.example.org"], "-R hdrs", flags=("-R", "hdrs", "-N", "failure"))
    pf("dsn-success", S, ["ok-p14@customer.example.org"], [], "-N success: relayed to a host without DSN", flags=("-N", "success", "-V", "p14envid"))
    pf("dsn-success-and-failure", S, ["ok-p15@customer.example.org", "gone-p15@customer.example.org"], ["gone-p15@customer.example.org"], "-N success,failure on two recipients", flags=("-N", "success,failure"))
    pf("delay-warning", S, ["busy-p16@customer.example.org"], ["busy-p16@customer.example.org"], "451 deferred: delay warning then failure")
    pf("delay-greylist", S, ["greylist-p17@customer.example.org"], ["greylist-p17@customer.example.org"], "450 greylisted: delay warning then failure")
    pf("delay-and-failure-notify", S, ["busy-p18@customer.example.org", "gone-p18@customer.example.org"], ["busy-p18@customer.example.org", "gone-p18@customer.example.org"], "one refused now, one deferred", flags=("-N", "delay,failure"))
    pf("verify-report", S, ["ok-p19@customer.example.org", "gone-p19@customer.example.org"], ["gone-p19@customer.example.org"], "sendmail -bv address verification report", flags=("-bv",))
    pf("user-moved", S, ["moved-p20@customer.example.org"], ["moved-p20@customer.example.org"], "551 5.1.6")
elif phase == "2":
    pf("german-template", S, ["gone-p21@kunde.example.de"], ["gone-p21@kunde.example.de"], "German bounce_template_file")
    pf("german-template-full", S, ["full-p22@kunde.example.de"], ["full-p22@kunde.example.de"], "German bounce_template_file, mailbox full")
    pf("german-template-domain", S, ["max@kunde-p23.invalid"], ["max@kunde-p23.invalid"], "German bounce_template_file, unknown domain")
elif phase == "3":
    pf("spanish-template", S, ["gone-p25@cliente.example.es"], ["gone-p25@cliente.example.es"], "Spanish bounce_template_file")
    pf("spanish-template-spam", S, ["spam-p26@cliente.example.es"], ["spam-p26@cliente.example.es"], "Spanish bounce_template_file, spam at DATA")
    pf("postmaster-copy", "helpdesk@desk.example.com", ["relay-p27@other.example.com"], ["relay-p27@other.example.com"], "notify_classes bounce: the postmaster copy (headers only) to bounce_notice_recipient")
