"""From a parsed message to a plan: preprocess, thread, run the rules, pick attachments.

Shared by intake (inside the write transaction) and `deskmail explain`
(read-only), so the simulator can never disagree with what a run does.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from deskmail.apply.attachment_policy import AttachmentSelection, select_attachments
from deskmail.apply.attachments import inline_seen_from
from deskmail.apply.threads import StoreLookup
from deskmail.classify.plan import Plan, ThreadMatch
from deskmail.classify.rules import evaluate
from deskmail.classify.threading import find_thread
from deskmail.config.models import JobConfig
from deskmail.parse.message import ParsedMessage
from deskmail.preprocess import PreprocessResult, preprocess


@dataclass(frozen=True, slots=True)
class Understanding:
    preprocessed: PreprocessResult
    match: ThreadMatch | None
    plan: Plan
    attachments: AttachmentSelection


def understand(session: Session, job: JobConfig, message: ParsedMessage) -> Understanding:
    preprocessed = preprocess(message.text, job.preprocessing)
    match = find_thread(message, StoreLookup(session), job.team, job.reference_pattern)
    plan = evaluate(job, message, preprocessed.text, match)
    sender = message.sender.address if message.sender else None
    selection = select_attachments(
        message, job, lambda sha256: inline_seen_from(session, sender, sha256)
    )
    return Understanding(preprocessed, match, plan, selection)
