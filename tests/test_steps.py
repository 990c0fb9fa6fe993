"""The ordered steps of classify/steps.py against a fake store: each decides what it
alone decides, a settled plan passes the rest, and the trace says who decided what."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from deskmail.classify.mail import Mail
from deskmail.classify.plan import Plan, Recorded
from deskmail.classify.steps import STEPS, classify
from deskmail.classify.threading import TicketRef
from deskmail.config.fate import Fate
from deskmail.parse.message import ParsedMessage
from tests.test_rules import make_job, make_mail

OURS = TicketRef(7, "IT", 12, "k7q2p9xm")


@dataclass
class FakeStore:
    """The Lookups Protocol from dicts; `asked` lists what the steps asked, in order."""

    copies: dict[str, Recorded] = field(default_factory=dict)
    by_message_id: dict[str, TicketRef] = field(default_factory=dict)
    flooded: dict[str, TicketRef] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def same_bytes(self, sha256: str) -> Recorded | None:
        self.asked.append("same_bytes")
        return self.copies.get(sha256)

    def ticket_for_message_ids(self, message_ids: Sequence[str], team: str) -> TicketRef | None:
        self.asked.append("message_ids")
        return next((self.by_message_id[i] for i in message_ids if i in self.by_message_id), None)

    def ticket_by_number(self, team: str, number: int) -> TicketRef | None:
        self.asked.append("number")
        return None

    def may_post(self, ticket_id: int, address: str) -> bool:
        return True

    def recent_ticket(self, address: str, limit: int) -> TicketRef | None:
        self.asked.append("recent_ticket")
        return self.flooded.get(address)

    def inline_image_seen(self, sender: str | None, sha256: str) -> bool:
        return False


def decide(
    message: ParsedMessage, store: FakeStore, sha256: str | None = "d1", **job: object
) -> Plan:
    return classify(Mail(make_job(**job), message, "body", sha256), store)


def test_the_steps_and_their_order() -> None:
    assert [step.name for step in STEPS] == [
        "duplicate",
        "thread and references",
        "automatic mail and bounces",
        "processing rules",
        "fields from the text",
        "create new requests",
        "flood limit",
        "attachment policy",
    ]
    plan = decide(make_mail(), FakeStore())
    assert [traced.step for traced in plan.trace] == [step.name for step in STEPS]
    assert plan.fate is Fate.CREATED


def test_a_copy_settles_the_plan_and_asks_nothing_more() -> None:
    store = FakeStore(copies={"d1": Recorded(3, None)})
    plan = decide(make_mail(), store)
    assert (plan.fate, plan.duplicate_of) == (Fate.DUPLICATE, Recorded(3, None))
    assert store.asked == ["same_bytes"]
    assert [t.decided for t in plan.trace if t.decided] == ["taken in before: recorded"]


def test_explain_asks_no_journal() -> None:
    store = FakeStore(copies={"d1": Recorded(3, None)})
    assert decide(make_mail(), store, sha256=None).fate is Fate.CREATED
    assert "same_bytes" not in store.asked


def test_automatic_mail_is_settled_before_the_rules() -> None:
    reply = make_mail(subject="Automatic reply: Printer jammed")
    ignore_nothing = {"name": "all", "conditions": [], "action": "create_event"}
    plan = decide(reply, FakeStore(), rules=[ignore_nothing])
    assert (plan.fate, plan.rules_fired) == (Fate.IGNORED, ())
    decided = {t.step: t.decided for t in plan.trace}
    assert decided["automatic mail and bounces"] == "out-of-office reply: recorded, not ticketed"
    assert decided["processing rules"] == ""


def test_the_flood_limit_groups_a_new_ticket_but_not_a_denied_one() -> None:
    store = FakeStore(flooded={"alice@example.com": OURS})
    grouped = decide(make_mail(), store, new_tickets_per_sender_per_hour=2)
    assert (grouped.fate, grouped.ticket_id) == (Fate.UPDATED, 7)
    assert grouped.reasons[-1] == (
        "alice@example.com opened 2 tickets in the last hour -> grouped on its last ticket IT-12"
    )
    denied = decide(make_mail(), FakeStore(flooded=store.flooded), create_new_requests=False)
    assert denied.fate is Fate.DENIED
