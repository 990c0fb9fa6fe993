"""The peer: django-helpdesk's `manage.py get_email` on the same private Dovecot and corpus.

Used by bench/ingest.py (`--peer django-helpdesk`); adapted from the reference
harness (../shared/bench/peer_django_helpdesk.sh and helpdesk_report.py), but
self-contained:

- a virtual environment at /tmp/deskmail-bench-helpdesk-venv (reused when it
  already holds the wanted version) with `django-helpdesk==2.6.1` from PyPI,
  plus `django-bootstrap4-form` (in the install docs' INSTALLED_APPS) and
  `packaging` (which bootstrap4form imports without declaring it);
- a minimal Django project per django-helpdesk's docs/install.rst in the
  benchmark's temp dir (SQLite, HELPDESK_TEAMS_MODE_ENABLED = False,
  SITE_ID = 1, notification mail written to files, never sent, warnings and
  errors to stderr), `migrate`, `loaddata emailtemplate.json`, and one Queue
  `support` reading INBOX over IMAP on the private Dovecot's plain port
  (email_box_ssl False; django-helpdesk always tries STARTTLS, and Dovecot
  offers it with a self-signed certificate, which imaplib's default STARTTLS
  context does not verify), allow_email_submission True,
  email_box_interval 0 and email_box_last_check in the past so that every
  get_email really reads the mailbox. The database is then snapshotted;
- every run restores the snapshot (ticket numbers start at 1 again, as in
  the corpus manifest), points the Queue at a freshly loaded Dovecot user and
  times `python manage.py get_email` (wall time of the whole command, with
  the same RSS figures as deskmail's, see measure.py);
- after every run `python peer_helpdesk.py check` (this file, run by the
  venv's interpreter) counts tickets and follow-ups and checks every corpus
  message: a new request opened its own ticket, a reply became a follow-up
  of the ticket it refers to. The caller adds the mailbox count.

The peer's problems are reported, not fatal: it is the yardstick, not the
thing under test.
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.dovecot import Dovecot

HERE = Path(__file__).resolve()
VENV = Path(os.environ.get("DESKMAIL_BENCH_HELPDESK_VENV", "/tmp/deskmail-bench-helpdesk-venv"))
SPEC = "django-helpdesk==2.6.1"
EXTRA = ["django-bootstrap4-form", "packaging"]  # bootstrap4form imports packaging undeclared
PLACEHOLDER_USER = "nobody-yet"

MANAGE_PY = """\
#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchdesk.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

URLS_PY = """\
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("helpdesk.urls", namespace="helpdesk")),
]
"""

SETTINGS_PY = """\
# Minimal Django project for django-helpdesk, per its docs/install.rst.
import os

BASE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.dirname(BASE_DIR)
SECRET_KEY = "bench-only-not-a-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "bootstrap4form",
    "rest_framework",
    "django_cleanup.apps.CleanupConfig",
    "helpdesk",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "benchdesk.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.debug",
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                         "NAME": os.path.join(WORK, "db.sqlite3")}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
SITE_ID = 1
HELPDESK_TEAMS_MODE_ENABLED = False
LOGIN_URL = "helpdesk:login"
LOGIN_REDIRECT_URL = "helpdesk:home"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "/static/"
STATIC_ROOT = os.path.join(WORK, "static")
MEDIA_URL = "/media/"
MEDIA_ROOT = os.path.join(WORK, "media")

# Notifications are written to files, never sent.
DEFAULT_FROM_EMAIL = "support@helpdesk.example"
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = os.path.join(WORK, "outbox")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
"""

CREATE_QUEUE = """\
from datetime import datetime, timezone
from helpdesk.models import Queue
Queue.objects.create(
    title="Support", slug="support", email_address="support@helpdesk.example",
    allow_email_submission=True, email_box_type="imap",
    email_box_host="127.0.0.1", email_box_port={port}, email_box_ssl=False,
    email_box_user="{user}", email_box_pass="{password}", email_box_imap_folder="INBOX",
    email_box_interval=0, email_box_last_check=datetime(2000, 1, 1, tzinfo=timezone.utc),
    logging_type="warn")
"""

VERSIONS = (
    "import django; from importlib.metadata import version;"
    " import helpdesk, bootstrap4form, packaging;"
    " print(version('django-helpdesk'), django.get_version())"
)


@dataclass
class PeerRun:
    """One get_email run and what it made of the mailbox."""

    measured: Any  # measure.Measured
    check: dict[str, Any]
    left: int  # messages still in the mailbox
    starttls: bool | None  # Dovecot logged the login as TLS
    log: dict[str, Any] = field(default_factory=dict)  # stderr levels and top messages

    @property
    def problems(self) -> list[str]:
        found = list(self.check.get("problems", []))
        if self.left:
            found.append(f"{self.left} messages left in the mailbox")
        if self.measured.returncode:
            found.append(f"get_email exited with {self.measured.returncode}")
        return found


class Helpdesk:
    """django-helpdesk, installed and configured against one Dovecot."""

    def __init__(self, work: Path, dovecot: Dovecot) -> None:
        self.work = work  # project/, db.sqlite3, pristine.sqlite3, media/, outbox/
        self.project = work / "project"
        self.dovecot = dovecot
        self.python = VENV / "bin" / "python"
        self.version = ""
        self.django = ""

    # ---- installation ---------------------------------------------------------

    def _versions(self) -> tuple[str, str] | None:
        if not self.python.exists():
            return None
        done = subprocess.run([str(self.python), "-c", VERSIONS], capture_output=True, text=True)
        if done.returncode != 0:
            return None
        helpdesk, django = done.stdout.split()
        return helpdesk, django

    def ensure_venv(self) -> str:
        """The venv with SPEC, made (or remade) when missing or another version; says which."""
        found = self._versions()
        want = SPEC.split("==")[1]
        if found and found[0] == want:
            self.version, self.django = found
            return f"reused {VENV}"
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        pip = [str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
        done = subprocess.run([*pip, SPEC, *EXTRA], capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"pip install {SPEC} failed:\n{done.stdout[-2000:]}{done.stderr}")
        found = self._versions()
        if not found:
            raise SystemExit(f"{VENV}: django-helpdesk does not import after installing")
        self.version, self.django = found
        return f"installed {SPEC} into {VENV} in {time.perf_counter() - started:.0f} s"

    def _manage(self, *args: str) -> None:
        done = subprocess.run(
            [str(self.python), "manage.py", *args], cwd=self.project, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    def setup(self) -> str:
        """Venv, project, migrated database with the Queue, snapshot. Returns a one-line note."""
        note = self.ensure_venv()
        started = time.perf_counter()
        (self.project / "benchdesk").mkdir(parents=True, exist_ok=True)
        (self.project / "manage.py").write_text(MANAGE_PY)
        (self.project / "benchdesk" / "__init__.py").write_text("")
        (self.project / "benchdesk" / "urls.py").write_text(URLS_PY)
        (self.project / "benchdesk" / "settings.py").write_text(SETTINGS_PY)
        (self.work / "db.sqlite3").unlink(missing_ok=True)
        self._manage("migrate", "-v", "0")
        self._manage("loaddata", "-v", "0", "emailtemplate.json")
        queue = CREATE_QUEUE.format(
            port=self.dovecot.imap_port, user=PLACEHOLDER_USER, password=self.dovecot.password
        )
        self._manage("shell", "-c", queue)
        shutil.copyfile(self.work / "db.sqlite3", self.work / "pristine.sqlite3")
        return f"{note}; project migrated in {time.perf_counter() - started:.1f} s"

    # ---- one run ------------------------------------------------------------------

    def run(self, user: str, manifest: Path | None) -> PeerRun:
        """get_email over user's INBOX (loaded by the caller), from the pristine database."""
        import measure  # bench/measure.py

        db = self.work / "db.sqlite3"
        shutil.copyfile(self.work / "pristine.sqlite3", db)
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE helpdesk_queue SET email_box_user = ?", (user,))
        conn.close()
        for folder in ("media", "outbox"):
            shutil.rmtree(self.work / folder, ignore_errors=True)
            (self.work / folder).mkdir()
        log_offset = self.dovecot.log_offset()
        measured = measure.run([str(self.python), "manage.py", "get_email"], cwd=self.project)
        # Its logins only: the count below logs in too (plain, "secured").
        logins = re.findall(
            rf"imap-login: Info: Login: user=<{re.escape(user)}>[^\n]*",
            self.dovecot.wait_for_log(log_offset, f"user=<{user}>", timeout=2),
        )
        starttls = bool(logins) and all(re.search(r", TLS[,:]", line) for line in logins)
        left = self.dovecot.count(user)
        command = [str(self.python), str(HERE), "check", "--project", str(self.project)]
        if manifest is not None:
            command += ["--manifest", str(manifest)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            check: dict[str, Any] = {"problems": [f"check failed: {done.stderr[-2000:]}"]}
        else:
            check = json.loads(done.stdout)
        return PeerRun(measured, check, left, starttls if logins else None, _log_summary(measured))


def _log_summary(measured: Any) -> dict[str, Any]:
    """Levels and the most frequent warnings/errors (digits folded) of get_email's stderr."""
    text = measured.stderr.decode("utf-8", "replace")
    levels: collections.Counter[str] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    for line in text.splitlines():
        match = re.match(r"(DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+): (.*)", line)
        if match:
            levels[match.group(1)] += 1
            if match.group(1) != "DEBUG":
                kinds[f"{match.group(1)} {re.sub(r'[0-9]+', 'N', match.group(3))[:120]}"] += 1
        elif re.match(r"\w+(\.\w+)*(Error|Exception): ", line):
            kinds[f"exception: {re.sub(r'[0-9]+', 'N', line)[:120]}"] += 1
    tracebacks = text.count("Traceback (most recent call last)")
    return {"levels": dict(levels), "tracebacks": tracebacks, "top": kinds.most_common(5)}


# ---- the check, run by the venv's interpreter ----------------------------------------


def _check(project: str, manifest_path: str | None) -> dict[str, Any]:
    sys.path.insert(0, project)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchdesk.settings")
    import django

    django.setup()
    from helpdesk.models import FollowUp, FollowUpAttachment, Ticket

    first: dict[int, int] = {}  # ticket id -> its first follow-up (the opening message)
    by_message_id: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for row in FollowUp.objects.order_by("id").values("id", "ticket_id", "message_id"):
        first.setdefault(row["ticket_id"], row["id"])
        by_message_id[(row["message_id"] or "").strip("<> ")].append(row)
    tickets = Ticket.objects.count()
    followups = FollowUp.objects.count()
    result: dict[str, Any] = {
        "tickets": tickets,
        "followups": followups,
        "followups_on_existing": followups - len(first),
        "attachments": FollowUpAttachment.objects.count(),
        "problems": [],
    }
    problems: list[str] = result["problems"]
    if manifest_path is None:
        if tickets or followups:
            problems.append(f"an empty mailbox gave {tickets} tickets, {followups} follow-ups")
        return result
    with open(manifest_path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    summary = manifest["summary"]
    for entry in manifest["messages"]:
        found = by_message_id.get(entry["message_id"].strip("<> "), [])
        if len(found) != 1:
            problems.append(f"{entry['file']}: {len(found)} follow-ups")
            continue
        row = found[0]
        opened = first[row["ticket_id"]] == row["id"]
        if entry["expect"] == "ticket" and not opened:
            problems.append(f"{entry['file']}: request appended to ticket {row['ticket_id']}")
        elif entry["expect"] == "followup" and opened:
            problems.append(f"{entry['file']}: reply opened ticket {row['ticket_id']}")
        elif entry["expect"] == "followup" and row["ticket_id"] != entry["ticket"]:
            problems.append(
                f"{entry['file']}: reply on ticket {row['ticket_id']}, not {entry['ticket']}"
            )
    if tickets != summary["expected_tickets"]:
        problems.append(f"{tickets} tickets, expected {summary['expected_tickets']}")
    if result["followups_on_existing"] != summary["expected_followups"]:
        problems.append(
            f"{result['followups_on_existing']} follow-ups on existing tickets,"
            f" expected {summary['expected_followups']}"
        )
    return result


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="check a get_email run (in the helpdesk venv)")
    parser.add_argument("command", choices=["check"])
    parser.add_argument("--project", required=True)
    parser.add_argument("--manifest")
    args = parser.parse_args()
    print(json.dumps(_check(args.project, args.manifest)))


if __name__ == "__main__":
    main()
