import sys, smtplib; sys.path.insert(0, "/tmp/bgen")
from gen import *
S = "support@desk.example.com"
os.environ["LD_LIBRARY_PATH"] = "/tmp/bgen/pfroot/usr/lib/postfix"
def go(mta, cmd=None, port=None, k=0):
    r = f"bigfile-{mta[0]}{k}@customer.example.org"
    mid, msg = original("too-large-remote", S, [r], big=120_000, n=70 + k)
    if cmd: run(cmd + ["-oi", "-f", S, r], msg)
    else:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="desk.example.com") as s:
            s.sendmail(S, [r], msg.replace(b"\n", b"\r\n"))
    record("too-large-remote", mta, mid, [r], [r], "remote 552 5.3.4 message size exceeds fixed limit, at DATA (120 KB mail)")
go("postfix", ["/tmp/bgen/pfroot/usr/sbin/sendmail", "-C", "/tmp/bgen/pf/conf"], k=1)
go("exim", ["exim4", "-C", "/tmp/bgen/exim/en.conf", "-odi"], k=2)
go("opensmtpd", port=2527, k=3)
go("sendmail", port=2528, k=4)
