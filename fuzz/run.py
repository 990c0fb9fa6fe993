"""Coverage-guided fuzzing of deskmail's parser and its way from raw bytes to a plan.

    python fuzz/run.py --seconds 600 parser pipeline      (or: make fuzz FUZZ_SECONDS=600)

Each target (fuzz/targets.py) runs under atheris (libFuzzer) for --seconds, in a
process of its own, seeded from tests/corpus/, the bench corpus (bench/corpus.py,
generated into var/fuzz/seeds/) and the reply fixtures of bench/reply_fixtures/.
What it finds goes to var/fuzz/crashes/<target>/:
  crash-<sha1>.eml + .txt   an input a stage raised on, with the traceback; fuzzing goes
                            on, and a crash with the same place and type is kept once
  slow-<sha1>.eml + .txt    an input that took over --slow CPU seconds (superlinear time?)
  timeout-<sha1>            libFuzzer's: over --timeout seconds; the target is restarted
A summary (executions, seconds, findings) is printed and kept in var/fuzz/summary.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import traceback
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "fuzz"
MAX_LEN = 65536  # bytes of one input: big enough for a mail with headers, parts and quotes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("targets", nargs="*", default=["parser", "pipeline"])
    ap.add_argument("--seconds", type=int, default=300, help="fuzzing time per target")
    ap.add_argument("--timeout", type=int, default=20, help="libFuzzer's limit per input (s)")
    ap.add_argument("--slow", type=float, default=2.0, help="keep inputs slower than this (s)")
    ap.add_argument("--max-len", type=int, default=MAX_LEN, help="bytes of one input at most")
    ap.add_argument("--work", type=Path, default=WORK)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args, rest = ap.parse_known_args()
    if args.child:
        _fuzz(args.child, args, rest)
        return
    _seeds(args.work / "seeds")
    summary = {t: _run_target(t, args) for t in args.targets}
    (args.work / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))


def _run_target(target: str, args: argparse.Namespace) -> dict[str, object]:
    """Runs the target until --seconds are spent, restarting it after a libFuzzer timeout."""
    corpus = args.work / "corpus" / target
    crashes = args.work / "crashes" / target
    corpus.mkdir(parents=True, exist_ok=True)
    crashes.mkdir(parents=True, exist_ok=True)
    log = args.work / f"{target}.log"
    started = time.monotonic()
    runs, restarts = 0, 0
    with log.open("w") as out:
        while (left := args.seconds - int(time.monotonic() - started)) > 5:
            command = [
                sys.executable,
                __file__,
                "--child",
                target,
                "--work",
                str(args.work),
                "--slow",
                str(args.slow),
                f"-max_total_time={left}",
                f"-timeout={args.timeout}",
                f"-max_len={args.max_len}",
                "-rss_limit_mb=3072",
                f"-artifact_prefix={crashes}/",
                "-print_final_stats=1",
            ]
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, check=False)
            out.flush()
            runs += _executions(log)
            if done.returncode == 0:
                break
            restarts += 1
    found = sorted(p.name for p in crashes.iterdir() if not p.name.endswith(".txt"))
    return {
        "seconds": round(time.monotonic() - started),
        "executions": runs,
        "restarts": restarts,
        "corpus_files": len(list(corpus.iterdir())),
        "findings": found,
    }


def _executions(log: Path) -> int:
    """libFuzzer's stat::number_of_executed_units of the last run in the log."""
    found = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log.read_text(errors="replace"))
    return int(found[-1]) if found else 0


def _fuzz(target: str, args: argparse.Namespace, libfuzzer_args: list[str]) -> None:
    import atheris  # type: ignore[import-untyped]

    sys.path.insert(0, str(ROOT))
    with atheris.instrument_imports(include=["deskmail", "fuzz", "email"]):
        from fuzz import targets
    run = targets.TARGETS[target]
    crashes = args.work / "crashes" / target
    seen = {p.name.split(".")[0] for p in crashes.glob("*.txt")}  # crash places already kept

    def one_input(data: bytes) -> None:
        begun = time.process_time()  # CPU time: the machine's load must not make a unit slow
        try:
            run(data)
        except Exception as exc:
            # Kept, and fuzzing goes on: one crash must not hide the next.
            _keep(crashes, "crash", data, _where(exc), "".join(traceback.format_exception(exc)))
        took = time.process_time() - begun
        if took > args.slow:
            _keep(crashes, "slow", data, None, f"{took:.2f} s for {len(data)} bytes\n")

    def _keep(folder: Path, kind: str, data: bytes, place: str | None, text: str) -> None:
        name = place or hashlib.sha1(data).hexdigest()
        if f"{kind}-{name}" in seen:
            return
        seen.add(f"{kind}-{name}")
        (folder / f"{kind}-{name}.eml").write_bytes(data)
        (folder / f"{kind}-{name}.txt").write_text(text)
        print(f"#### kept {kind}-{name}: {text.splitlines()[-1]}", flush=True)

    # The first folder takes the new inputs; the seeds are only read.
    folders = [str(args.work / "corpus" / target), str(args.work / "seeds")]
    atheris.Setup([sys.argv[0], *libfuzzer_args, *folders], one_input)
    atheris.Fuzz()


def _where(exc: BaseException) -> str:
    """The exception's type and the innermost line of ours: one name per distinct bug."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "deskmail" in f.filename or "fuzz" in f.filename] or frames
    last = ours[-1] if ours else None
    place = f"{type(exc).__name__}:{last.filename}:{last.lineno}" if last else type(exc).__name__
    return hashlib.sha1(place.encode()).hexdigest()[:16]


def _seeds(folder: Path) -> None:
    """tests/corpus/, 200 generated bench mails and the reply fixtures as mails, in one folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted((ROOT / "tests" / "corpus").rglob("*.eml")):
        _seed(folder, path.read_bytes())
    bench = folder.parent / "bench-corpus"
    if not (bench / "manifest.json").exists():
        subprocess.run(
            [sys.executable, str(ROOT / "bench" / "corpus.py"), "-n", "200", "--out", str(bench)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    for path in sorted(bench.glob("*.eml")):
        _seed(folder, path.read_bytes())
    cases = json.loads((ROOT / "bench" / "reply_fixtures" / "cases.json").read_text())
    for case in cases["cases"]:
        mail = EmailMessage()
        mail["From"] = "Alice <alice@example.com>"
        mail["To"] = "support@help.example.org"
        mail["Subject"] = "Re: " + case["id"]
        mail["Message-ID"] = f"<{case['id']}@example.com>"
        mail.set_content(case["input"])
        _seed(folder, bytes(mail))


def _seed(folder: Path, data: bytes) -> None:
    if len(data) <= MAX_LEN:
        (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
