"""Which automatic mails a taken-in message causes, queued in its own transaction.

Queued with the ticket so neither can exist without the other; sent by
outbound.outbox.deliver_pending after the pass has acknowledged the mail.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from deskmail.apply.tickets import Applied
from deskmail.classify.plan import Plan
from deskmail.config.fate import Fate
from deskmail.config.models import DeskmailConfig, JobConfig
from deskmail.outbound.outbox import MailKind, queue
from deskmail.parse.message import ParsedMessage
from deskmail.store.models import Ticket


class DenialNotQueued(RuntimeError):
    """A denied request whose automatic reply has no way to be sent (see the log)."""


def queue_replies(
    session: Session,
    config: DeskmailConfig,
    job: JobConfig,
    message: ParsedMessage,
    plan: Plan,
    applied: Applied | None,
) -> None:
    sender = message.sender.address if message.sender else None
    ticket = None
    if applied is not None:
        ticket = applied.ticket or session.get(Ticket, applied.ticket_id)
    if plan.fate is Fate.DENIED and sender:
        denial = queue(session, config, job, MailKind.DENIED, None, sender, answering=message)
        if denial is None:
            # Acknowledged, the mail would leave the server with its sender never answered:
            # it is quarantined instead (kept, and left in the mailbox).
            raise DenialNotQueued(f"the automatic reply to {sender} could not be queued")
    elif applied is not None and applied.created and job.send_acknowledgement and sender:
        queue(session, config, job, MailKind.ACKNOWLEDGEMENT, ticket, sender, answering=message)
    elif applied is not None and not applied.created and job.notify_group_address:
        queue(
            session,
            config,
            job,
            MailKind.GROUP_NOTICE,
            ticket,
            job.notify_group_address,
            answering=message,
        )
