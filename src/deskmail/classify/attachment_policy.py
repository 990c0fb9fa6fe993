"""Which of a message's attachments a job keeps, and why the others are dropped.

Three rules, in this order, each with a reason sentence for the log (and,
for the size limit, for a system note on the ticket):
  1. ignored names (Octopus IgnoredAttachments): comma-separated patterns
     where only `*` is a wildcard, case-insensitive, against the decoded name;
  2. repeated signature images: small inline images this sender already sent;
  3. the per-file size limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache

from deskmail.classify.lookups import Lookups
from deskmail.classify.mail import Mail
from deskmail.classify.plan import AttachmentSelection, DroppedAttachment, Plan
from deskmail.config.fate import Fate
from deskmail.config.models import JobConfig
from deskmail.parse.filenames import safe_display_name
from deskmail.parse.message import ParsedAttachment, ParsedMessage

SIGNATURE_IMAGE_MAX = 50 * 1024  # bytes: logos and social icons are smaller


def decide(mail: Mail, plan: Plan, lookups: Lookups) -> tuple[Plan, str]:
    if plan.fate is Fate.DUPLICATE:
        return plan, ""
    sender = mail.message.sender.address if mail.message.sender else None
    selection = select_attachments(
        mail.message, mail.job, lambda sha256: lookups.inline_image_seen(sender, sha256)
    )
    said = [f"keep {len(selection.kept)}"] if selection.kept else []
    said += [f"drop {safe_display_name(d.filename)}" for d in selection.dropped]
    return replace(plan, attachments=selection), "; ".join(said)


def select_attachments(
    message: ParsedMessage,
    job: JobConfig,
    seen_inline_before: Callable[[str], bool],
) -> AttachmentSelection:
    """Apply the job's attachment rules; `seen_inline_before(sha256)` asks the database."""
    patterns = ignored_patterns(job.ignored_attachments)
    kept: list[ParsedAttachment] = []
    dropped: list[DroppedAttachment] = []
    for attachment in message.attachments:
        name = safe_display_name(attachment.filename)
        size = attachment.size
        reason, notify = "", False
        pattern = next(
            (p for p, rx in patterns if rx.fullmatch(attachment.filename) or rx.fullmatch(name)),
            None,
        )
        if pattern is not None:
            reason = f'"{name}" matches the ignored attachment name "{pattern}".'
        elif (
            job.drop_signature_images
            and _signature_candidate(attachment)
            and seen_inline_before(attachment.sha256)
        ):
            reason = (
                f'"{name}" is a small inline image this sender has sent before (a signature image).'
            )
        elif job.max_attachment_size is not None and size > job.max_attachment_size:
            reason = (
                f'"{name}" was not kept: at {human_size(size)} it is larger than'
                f" the limit of {human_size(job.max_attachment_size)} per file"
                f' set for mailbox "{job.name}".'
            )
            notify = True
        if reason:
            dropped.append(DroppedAttachment(name, size, attachment.media_type, reason, notify))
        else:
            kept.append(attachment)
    return AttachmentSelection(tuple(kept), tuple(dropped))


def _signature_candidate(attachment: ParsedAttachment) -> bool:
    return (
        attachment.inline
        and attachment.media_type.startswith("image/")
        and attachment.size < SIGNATURE_IMAGE_MAX
    )


@lru_cache(maxsize=64)
def ignored_patterns(spec: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """("logo*.png", compiled) for each name in a comma-separated IgnoredAttachments list.

    Only `*` is a wildcard (fnmatch would also give `?` and `[...]` a meaning
    that Octopus names do not have).
    """
    patterns = []
    for pattern in (item.strip() for item in spec.split(",")):
        if pattern:
            regex = ".*".join(re.escape(piece) for piece in pattern.split("*"))
            patterns.append((pattern, re.compile(regex, re.IGNORECASE | re.DOTALL)))
    return tuple(patterns)


def human_size(size: int) -> str:
    """1536 -> "1.5 KB (1,536 bytes)": readable, and exact for comparing with a limit."""
    exact = f"{size:,} bytes"
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            return f"{size / factor:.1f} {unit} ({exact})"
    return exact
