"""The fuzz targets: raw bytes in, an exception out only when a stage broke its promise.

`parser`   parse_message (parse/parser.py): never raises, and it also must not fall
           back to "parser failed" (that fallback hides a bug of ours), nor put what
           cannot be stored (NUL, lone surrogates, line breaks) in a one-line field.
`pipeline` the whole way from raw bytes to a plan: parse, preprocess with every
           built-in rule enabled (preprocess/), classify (the ordered steps of
           classify/steps.py) with the store's questions answered from memory.

Plain functions: fuzz/run.py drives them under atheris, tests/fuzz/ replays the seeds
and every crash kept in tests/corpus/fuzz/ through them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence

from deskmail.classify.lookups import Lookups
from deskmail.classify.mail import Mail
from deskmail.classify.plan import Plan, Recorded
from deskmail.classify.steps import classify
from deskmail.classify.threading import TicketRef
from deskmail.config.models import JobConfig
from deskmail.parse.message import ParsedMessage
from deskmail.parse.parser import parse_message
from deskmail.preprocess import enabled_builtin_rules, preprocess

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class BrokenPromise(AssertionError):
    """A stage returned, but with what it promises never to return."""


def check_parsed(message: ParsedMessage) -> None:
    """What tests/test_malformed_corpus.py asks of every mail, asked of every fuzzed input."""
    failed = [d for d in message.defects if d.startswith("parser failed")]
    if failed:
        raise BrokenPromise(failed[0])
    one_line = [message.subject, *(str(a) for a in (message.sender, *message.to, *message.cc))]
    one_line += [a.filename for a in message.attachments] + [v for _, v in message.headers]
    for value in one_line:
        if _UNSTORABLE.search(value) or "\r" in value or "\n" in value:
            raise BrokenPromise(f"unstorable one-line field {value[:80]!r}")
    for text in (message.text, message.html or "", message.html_safe or ""):
        if _UNSTORABLE.search(text):
            raise BrokenPromise("NUL or a lone surrogate in a body")
    for attachment in message.attachments:
        if attachment.sha256 != hashlib.sha256(attachment.data).hexdigest():
            raise BrokenPromise(f"attachment {attachment.filename[:80]!r}: wrong digest")


class MemoryLookups:
    """classify/lookups.py's Protocols from memory, answering "yes" for some inputs
    (chosen from the input's own bytes) so that the threading, duplicate, flood and
    signature-image branches are reached too."""

    def __init__(self, salt: int) -> None:
        self.salt = salt

    def _yes(self, text: str) -> bool:
        return (hash(text) ^ self.salt) % 3 == 0

    def same_bytes(self, sha256: str) -> Recorded | None:
        return Recorded(1, None) if self.salt % 17 == 0 else None

    def ticket_for_message_ids(self, message_ids: Sequence[str], team: str) -> TicketRef | None:
        for message_id in message_ids:
            if self._yes(message_id):
                return TicketRef(7, team, 12, "k7q2p9xm")
        return None

    def ticket_by_number(self, team: str, number: int) -> TicketRef | None:
        return TicketRef(8, team, number, "a1b2c3d4") if number % 2 == 0 else None

    def may_post(self, ticket_id: int, address: str) -> bool:
        return self._yes(address)

    def recent_ticket(self, address: str, limit: int) -> TicketRef | None:
        return TicketRef(9, "IT", 3, "zz9yy8xx") if self._yes(address + "flood") else None

    def inline_image_seen(self, sender: str | None, sha256: str) -> bool:
        return self._yes(sha256)


def pipeline_job() -> JobConfig:
    """A job with every built-in preprocessing rule on and processing rules of each kind
    of condition, so that rules.py's matching runs on the fuzzed text."""
    rules = [
        {
            "name": "Monitoring alerts become events",
            "conditions": [{"field": "from", "op": "domain", "value": "monitoring.example.com"}],
            "action": "create_event",
            "set": {"group": "Operations"},
            "stop": True,
        },
        {
            "name": "Outage words",
            "conditions": [{"field": "subject", "op": "contains", "value": "outage"}],
            "set": {"priority": "high"},
        },
        {
            "name": "Newsletters ignored",
            "conditions": [{"field": "body", "op": "contains", "value": "unsubscribe"}],
            "action": "ignore",
        },
    ]
    return JobConfig.model_validate(
        {
            "name": "Fuzzed",
            "protocol": "maildir",
            "path": "mail",
            "address": "support@help.example.org",
            "reference_pattern": r"Case #(?P<number>\d+)",
            "ignored_attachments": "logo*.png, *.vcf",
            "drop_signature_images": True,
            "rules": rules,
        }
    ).model_copy(update={"preprocessing": enabled_builtin_rules()})


_JOB: JobConfig | None = None


def _job() -> JobConfig:
    global _JOB
    if _JOB is None:
        _JOB = pipeline_job()
    return _JOB


def parser(data: bytes) -> ParsedMessage:
    message = parse_message(data)
    check_parsed(message)
    return message


def pipeline(data: bytes) -> Plan:
    job = _job()
    message = parse_message(data)
    check_parsed(message)
    text = preprocess(message.text, job.preprocessing).text
    sha256 = hashlib.sha256(data).hexdigest()
    plan = classify(Mail(job, message, text, sha256), _lookups(data))
    if plan.fate is None:
        raise BrokenPromise("the steps left the plan undecided")
    return plan


def _lookups(data: bytes) -> Lookups:
    return MemoryLookups(int.from_bytes(hashlib.blake2b(data, digest_size=4).digest(), "big"))


TARGETS: dict[str, Callable[[bytes], object]] = {"parser": parser, "pipeline": pipeline}
