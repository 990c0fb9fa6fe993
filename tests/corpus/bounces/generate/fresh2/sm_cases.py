import sys, smtplib; sys.path.insert(0, "/tmp/bgen")
from gen import *
n = 160
def osm(case, sender, rcpts, failed, what, mail_opts=(), rcpt_opts=(), big=0):
    global n; n += 1
    mid, msg = original(case, sender, rcpts, big=big, n=n)
    with smtplib.SMTP("127.0.0.1", 2528, local_hostname="desk.example.com") as s:
        s.ehlo()
        try:
            s.sendmail(sender, rcpts, msg.replace(b"\n", b"\r\n"), mail_options=list(mail_opts), rcpt_options=list(rcpt_opts))
        except smtplib.SMTPException as e:
            print(case, "refused:", e)
    record(case, "sendmail", mid, rcpts, failed, what)
S = "support@desk.example.com"
osm("unknown-user", S, ["gone-s1@customer.example.org"], ["gone-s1@customer.example.org"], "550 5.1.1 at RCPT")
osm("unknown-domain", S, ["jane@customer-s2.invalid"], ["jane@customer-s2.invalid"], "no MX / A for the domain")
osm("mailbox-full", S, ["full-s3@customer.example.org"], ["full-s3@customer.example.org"], "552 5.2.2")
osm("relay-denied", "helpdesk@desk.example.com", ["relay-s4@other.example.com"], ["relay-s4@other.example.com"], "554 5.7.1")
osm("blocklisted", S, ["blocked-s5@customer.example.org"], ["blocked-s5@customer.example.org"], "550 5.7.1 DNSBL")
osm("spam-at-data", S, ["spam-s6@customer.example.org"], ["spam-s6@customer.example.org"], "554 5.7.1 at DATA")
osm("partial-two-of-three", S, ["ok-s7@customer.example.org", "gone-s7@customer.example.org", "disabled-s7@customer.example.org"], ["gone-s7@customer.example.org", "disabled-s7@customer.example.org"], "two of three refused")
osm("too-large-remote", S, ["bob-s8@customer.example.org"], ["bob-s8@customer.example.org"], "remote 552 5.3.4 at DATA", big=120_000)
osm("dsn-success", S, ["ok-s9@customer.example.org"], [], "NOTIFY=SUCCESS", mail_opts=("RET=HDRS", "ENVID=s9"), rcpt_opts=("NOTIFY=SUCCESS",))
osm("dsn-failure-hdrs", S, ["gone-s10@customer.example.org"], ["gone-s10@customer.example.org"], "NOTIFY=FAILURE RET=HDRS", mail_opts=("RET=HDRS",), rcpt_opts=("NOTIFY=FAILURE",))
osm("delay-warning", S, ["busy-s11@customer.example.org"], ["busy-s11@customer.example.org"], "451 deferred: warning then expiry")
osm("delay-greylist", S, ["greylist-s12@customer.example.org"], ["greylist-s12@customer.example.org"], "450 greylisted: warning then expiry")
osm("user-moved", S, ["moved-s13@customer.example.org"], ["moved-s13@customer.example.org"], "551 5.1.6")
