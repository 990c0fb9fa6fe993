"""Copy the generated bounces and the hand-written mails into the corpus, with labels."""
import json, email, shutil
from email import policy
from pathlib import Path
DST = Path("/work/wt/bounces/tests/corpus/bounces")
MTA = {"exim": "Exim 4.96 (Debian 12 exim4-daemon-light)", "postfix": "Postfix 3.7.11 (Debian 12 package, unpacked, private config)",
       "opensmtpd": "OpenSMTPD 6.8.0p2 (Debian 12 package, unpacked, private config)", "sendmail": "Sendmail 8.17.1.9 (Debian 12 sendmail-bin, unpacked, private sendmail.cf from sendmail-cf m4)",
       "dovecot": "Dovecot 2.3.19.1 dovecot-lda with Pigeonhole Sieve (Debian 12 dovecot-sieve)"}
CASES = {f'{c["mta"]}-{c["case"]}': c for c in (json.loads(p.read_text()) for p in sorted(Path("/tmp/bgen/cases").glob("*.json")))}
labels = {}
groups = {}
for p in sorted(Path("/tmp/bgen/out").glob("*.eml"), key=lambda p: int(p.stem)):
    raw = p.read_bytes(); text = raw.decode("utf-8", "replace")
    hits = [k for k, c in CASES.items() if c["mid"] in text] or [k for k, c in CASES.items() if any(r in text for r in c["rcpts"])]
    if len(hits) > 1:
        hits = [k for k in hits if any(r in text for r in CASES[k]["rcpts"])] or hits
    assert len(hits) == 1, (p, hits)
    groups.setdefault(hits[0], []).append((p, raw, text))
for key, files in sorted(groups.items()):
    c = CASES[key]
    for i, (p, raw, text) in enumerate(files):
        subj = str(email.message_from_bytes(raw, policy=policy.default).get("Subject", ""))
        low = subj.lower()
        if "postmaster" in low: kind = "postmaster-copy"
        elif "delay" in low or "warning" in low or "verzoegert" in low: kind = "delay-warning"
        else: kind = ""
        name = f"fresh2-generated-{key}" + (f"-{kind}" if kind and not key.endswith(kind) else "")
        while f"{name}.eml" in labels: name += "-2"
        (DST / f"{name}.eml").write_bytes(raw)
        label = c.get("label", "bounce")
        e = {"label": label, "half": "fresh-2"}
        if c["mid"] in text: e["original_message_id"] = c["mid"]
        failed = [r for r in c["failed"] if r in text] if label == "bounce" else []
        if failed: e["failed_recipients"] = failed
        what = c["what"] + (f"; this file: the {kind.replace('-', ' ')}" if kind else "")
        e["source"] = f"generated with {MTA[c['mta']]}: {what}; subject as written: {subj!r}"
        labels[f"{name}.eml"] = e
for j in ("hb1.json", "hb2.json", "ho.json"):
    for name, e in json.load(open(f"/tmp/bgen/{j}")).items():
        shutil.copy(f"/tmp/bgen/hand/{name}", DST / name)
        labels[name] = {"label": e["label"], "half": "fresh-2", **({"original_message_id": e["original_message_id"]} if "original_message_id" in e else {}),
                        **({"failed_recipients": e["failed_recipients"]} if "failed_recipients" in e else {}), "source": e["source"]}
def q(s): return json.dumps(s, ensure_ascii=False)
lines = ["", "# A second fresh set, written and generated after all of the above (2026-12-07), labelled and",
         "# committed before deskmail was run on any of it: `half = \"fresh-2\"`. See README.md."]
for name, e in labels.items():
    lines.append(f"\n[cases.{q(name)}]")
    for k in ("label", "half", "original_message_id"):
        if k in e: lines.append(f"{k} = {q(e[k])}")
    if "failed_recipients" in e: lines.append("failed_recipients = [" + ", ".join(q(r) for r in e["failed_recipients"]) + "]")
    lines.append(f"source = {q(e['source'])}")
with open(DST / "labels.toml", "a", encoding="utf-8") as f: f.write("\n".join(lines) + "\n")
from collections import Counter
print(Counter(e["label"] for e in labels.values()), len(labels))
print(Counter(n.split("-")[2] if n.startswith("fresh2-generated") else "hand" for n in labels))
