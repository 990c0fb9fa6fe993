import json, re, email
from pathlib import Path
from email import policy
CASES = [json.loads(p.read_text()) for p in sorted(Path("/tmp/bgen/cases").glob("*.json"))]
out = sorted(Path("/tmp/bgen/out").glob("*.eml"), key=lambda p: int(p.stem))
res = {}
for p in out:
    raw = p.read_bytes(); text = raw.decode("utf-8", "replace")
    hits = [c for c in CASES if c["mid"] in text] or [c for c in CASES if any(r in text for r in c["rcpts"])]
    # the more specific: a case whose recipients appear
    if len(hits) > 1:
        hits = [c for c in hits if any(r in text for r in c["rcpts"])] or hits
    msg = email.message_from_bytes(raw, policy=policy.default)
    subj = str(msg.get("Subject", ""))[:70]
    key = f'{hits[0]["mta"]}-{hits[0]["case"]}' if len(hits) == 1 else "??" + ",".join(f'{c["mta"]}-{c["case"]}' for c in hits)
    res.setdefault(key, []).append((p.name, subj, str(msg.get("From",""))[:50]))
for k in sorted(res):
    for f, s, fr in res[k]:
        print(f"{k:45s} {f:14s} {fr:40s} {s}")
seen = set(res)
print("cases without output:", [f'{c["mta"]}-{c["case"]}' for c in CASES if f'{c["mta"]}-{c["case"]}' not in seen])
