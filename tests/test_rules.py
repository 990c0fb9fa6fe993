"""Processing rules: conditions, rule order, the Octopus defaults and create_new_requests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

import pytest

from deskmail.classify import create_new_requests, rules
from deskmail.classify.lookups import Lookups
from deskmail.classify.mail import Mail
from deskmail.classify.plan import MatchedBy, Plan, ThreadMatch
from deskmail.classify.rules import _compile, evaluate
from deskmail.config.fate import Fate, TicketKind
from deskmail.config.models import JobConfig
from deskmail.config.rules import RuleConfig, TicketSettings
from deskmail.parse.message import Address, ParsedAttachment, ParsedMessage

INCIDENT = (Fate.CREATED, TicketKind.INCIDENT)
EVENT = (Fate.CREATED, TicketKind.EVENT)
NO_STORE = cast(Lookups, object())  # these steps never ask the store
BODY = "The printer on the 3rd floor says PAPER JAM again."


def make_job(*rules: dict[str, Any], **settings: Any) -> JobConfig:
    data = {"name": "Support", "protocol": "maildir", "path": "mail", "rules": list(rules)}
    return JobConfig.model_validate(data | settings)


def address(text: str) -> Address:
    name, _, addr = text.rpartition(" <")
    return Address(name, addr.rstrip(">")) if name else Address("", text)


def make_mail(
    *,
    subject: str = "Printer jammed",
    sender: str | None = "Alice Martin <alice@example.com>",
    to: tuple[str, ...] = ("support@help.example.org",),
    cc: tuple[str, ...] = (),
    headers: tuple[tuple[str, str], ...] = (),
    attachments: tuple[str, ...] = (),
) -> ParsedMessage:
    return ParsedMessage(
        message_id="<m1@example.com>",
        subject=subject,
        sender=address(sender) if sender is not None else None,
        to=tuple(map(address, to)),
        cc=tuple(map(address, cc)),
        date=None,
        in_reply_to=None,
        references=(),
        text="the raw text, not the preprocessed body",
        html=None,
        attachments=tuple(
            ParsedAttachment(name, "application/octet-stream", b"") for name in attachments
        ),
        headers=headers,
    )


def thread(
    *, allowed: bool = True, token: bool = False, by: MatchedBy = MatchedBy.SUBJECT
) -> ThreadMatch:
    return ThreadMatch(
        ticket_id=7, team="IT", number=12, matched_by=by, token_ok=token, sender_allowed=allowed
    )


def rule(name: str = "r", *conditions: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"name": name, "conditions": list(conditions), **fields}


def run(
    *rules_: dict[str, Any],
    mail: ParsedMessage | None = None,
    body: str = BODY,
    match: ThreadMatch | None = None,
    **settings: Any,
) -> Plan:
    """The processing rules step, then the create-new-requests step (classify/steps.py)."""
    mail_ = Mail(make_job(*rules_, **settings), mail or make_mail(), body)
    plan, _ = rules.decide(mail_, Plan(match=match), NO_STORE)
    plan, _ = create_new_requests.decide(mail_, plan, NO_STORE)
    return replace(plan, match=None)  # as given: the comparisons below leave it out


def matches(condition: dict[str, Any], mail: ParsedMessage | None = None, body: str = BODY) -> bool:
    plan = run(rule("probe", condition, action="ignore"), mail=mail, body=body)
    return plan.rules_fired == ("probe",)


# --- operators on every kind of field --------------------------------------------------

MULTI = make_mail(
    to=("Desk <support@help.example.org>", "bob@other.net"),
    cc=("Carol <carol@Mail.Example.COM>",),
    headers=(
        ("Received", "from mx1.example.net"),
        ("Received", "from relay.corp.local"),
        ("X-Priority", " 1 "),
        ("X-Empty", "  "),
    ),
    attachments=("Invoice-2024.PDF", "logo.png"),
)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        # subject
        ({"field": "subject", "value": "JAMMED"}, True),
        ({"field": "subject", "value": "toner"}, False),
        ({"field": "subject", "op": "equals", "value": "printer JAMMED "}, True),
        ({"field": "subject", "op": "equals", "value": "printer"}, False),
        ({"field": "subject", "op": "regex", "value": r"^print\w+ jam"}, True),
        ({"field": "subject", "op": "regex", "value": r"^jam"}, False),
        ({"field": "subject", "op": "exists"}, True),
        # body: the preprocessed text given to evaluate, not message.text
        ({"field": "body", "value": "paper jam"}, True),
        ({"field": "body", "value": "raw text"}, False),
        ({"field": "body", "op": "regex", "value": r"\d(rd|th) floor"}, True),
        ({"field": "body", "op": "equals", "value": "paper jam"}, False),
        # from: the address and the display name are separate values
        ({"field": "from", "value": "martin"}, True),
        ({"field": "from", "op": "equals", "value": "ALICE@example.com"}, True),
        ({"field": "from", "op": "equals", "value": "alice martin"}, True),
        ({"field": "from", "op": "equals", "value": "Alice Martin <alice@example.com>"}, False),
        ({"field": "from", "op": "regex", "value": r"^alice@example\.com$"}, True),
        ({"field": "from", "op": "domain", "value": "example.com"}, True),
        ({"field": "from", "op": "domain", "value": "EXAMPLE.com."}, True),
        ({"field": "from", "op": "domain", "value": "mail.example.com"}, False),
        ({"field": "from", "op": "exists"}, True),
        # to / cc: any address matches
        ({"field": "to", "value": "bob@"}, True),
        ({"field": "to", "op": "equals", "value": "desk"}, True),
        ({"field": "to", "op": "domain", "value": "other.net"}, True),
        ({"field": "to", "op": "domain", "value": "example.org"}, True),  # help.example.org
        ({"field": "to", "op": "regex", "value": r"^carol"}, False),
        ({"field": "cc", "op": "domain", "value": "example.com"}, True),  # sub-domain, any case
        ({"field": "cc", "op": "equals", "value": "carol"}, True),
        ({"field": "cc", "op": "exists"}, True),
        # attachment names
        ({"field": "attachment", "value": ".pdf"}, True),
        ({"field": "attachment", "op": "equals", "value": "LOGO.PNG"}, True),
        ({"field": "attachment", "op": "regex", "value": r"\.(docx?|xlsx?)$"}, False),
        ({"field": "attachment", "op": "exists"}, True),
        # headers: name case-insensitive, repeated headers, blank values
        ({"field": "header:x-priority", "op": "equals", "value": "1"}, True),
        ({"field": "header:Received", "value": "relay.corp"}, True),
        ({"field": "header:Received", "op": "regex", "value": r"^from mx\d"}, True),
        ({"field": "header:Received", "op": "equals", "value": "relay.corp.local"}, False),
        ({"field": "header:X-Empty", "op": "exists"}, False),
        ({"field": "header:X-Missing", "op": "exists"}, False),
        ({"field": "header:X-Missing", "value": "x"}, False),
    ],
)
def test_operator_on_field(condition: dict[str, Any], expected: bool) -> None:
    assert matches(condition, MULTI) is expected


@pytest.mark.parametrize(
    ("sender", "domain", "expected"),
    [
        ("a@example.com", "example.com", True),
        ("a@mail.example.com", "example.com", True),
        ("a@badexample.com", "example.com", False),
        ("a@example.com.evil.net", "example.com", False),
        ("a@example.community", "example.com", False),
        ("undisclosed-recipients", "undisclosed-recipients", False),  # no "@": no domain
        ("a@xn--bcher-kva.example", "bücher.example", True),  # IDNA and Unicode are one name
        ("a@Bücher.example", "xn--bcher-kva.example", True),
    ],
)
def test_domain_is_the_domain_or_a_sub_domain(sender: str, domain: str, expected: bool) -> None:
    condition = {"field": "from", "op": "domain", "value": domain}
    assert matches(condition, make_mail(sender=sender)) is expected


def test_case_insensitive_matching_folds_unicode() -> None:
    mail = make_mail(subject="Straße gesperrt, Cafe\u0301 geschlossen")  # e + combining accent
    assert matches({"field": "subject", "value": "STRASSE"}, mail)
    assert matches({"field": "subject", "value": "café"}, mail)


def test_fields_without_values() -> None:
    bare = make_mail(sender=None, to=(), subject="")
    for field in ("from", "to", "cc", "subject", "attachment"):
        assert not matches({"field": field, "op": "exists"}, bare), field
    for field in ("from", "to", "cc", "attachment"):  # no value at all: even ".*" fails
        assert not matches({"field": field, "op": "regex", "value": ".*"}, bare), field
    # Subject and body always have one value, maybe empty: "^$" finds an empty subject.
    assert matches({"field": "subject", "op": "regex", "value": "^$"}, bare)
    assert not matches({"field": "body", "op": "exists"}, bare, body=" \n")


def test_negate_inverts_the_whole_condition() -> None:
    # "no recipient is in other.net": one of two is, so the negated condition fails.
    assert not matches({"field": "to", "op": "domain", "value": "other.net", "negate": True}, MULTI)
    assert matches({"field": "to", "op": "domain", "value": "elsewhere.net", "negate": True}, MULTI)
    assert matches({"field": "subject", "value": "toner", "negate": True})
    assert matches({"field": "header:X-Missing", "op": "exists", "negate": True})
    assert not matches({"field": "attachment", "op": "exists", "negate": True}, MULTI)


# --- all / any, order, settings, stop --------------------------------------------------

PRINTER = {"field": "subject", "value": "printer"}
TONER = {"field": "subject", "value": "toner"}
EXAMPLE = {"field": "from", "op": "domain", "value": "example.com"}


@pytest.mark.parametrize(
    ("mode", "conditions", "expected"),
    [
        ("all", [PRINTER, EXAMPLE], True),
        ("all", [PRINTER, TONER], False),
        ("any", [TONER, PRINTER], True),
        ("any", [TONER, {**PRINTER, "negate": True}], False),
        ("all", [], True),
        ("any", [], True),
    ],
)
def test_all_and_any(mode: str, conditions: list[dict[str, Any]], expected: bool) -> None:
    plan = run(rule("r", *conditions, match=mode, action="ignore"))
    assert (plan.fate is Fate.IGNORED) is expected


def test_reason_names_the_conditions_that_held() -> None:
    (line, _) = run(rule("Both", PRINTER, EXAMPLE, action="ignore")).reasons
    assert line == (
        "rule 'Both': subject contains 'printer' and from domain 'example.com' matched -> ignore"
    )
    (line, _) = run(rule("Either", TONER, PRINTER, match="any", action="ignore")).reasons
    assert line == "rule 'Either': subject contains 'printer' matched -> ignore"
    (line, _) = run(rule("Always", action="ignore")).reasons
    assert line == "rule 'Always': no conditions, always matches -> ignore"
    shown = {"field": "header:X-Tag", "op": "exists", "negate": True}
    (line, _) = run(rule("Untagged", shown, stop=True)).reasons
    assert line == "rule 'Untagged': header:X-Tag not exists matched -> stop"


def test_later_rules_override_settings_field_by_field() -> None:
    plan = run(
        rule("first", PRINTER, set={"group": "Printers", "priority": "High", "category": "HW"}),
        rule("not matching", TONER, set={"group": "Toner"}),
        rule("second", EXAMPLE, set={"group": "Example Corp", "site": "Paris"}),
        group="Service Desk",
        source="Mail",
        team="OPS",
    )
    assert plan.rules_fired == ("first", "second")
    assert plan.settings == TicketSettings(
        group="Example Corp",
        site="Paris",
        source="Mail",
        team="OPS",
        priority="High",
        category="HW",
    )
    assert plan.reasons[1] == (
        "rule 'second': from domain 'example.com' matched"
        " -> set group = 'Example Corp', site = 'Paris'"
    )


def test_first_action_wins_and_later_settings_still_apply() -> None:
    plan = run(
        rule("events", PRINTER, action="create_event"),
        rule("quiet", EXAMPLE, action="ignore", set={"priority": "Low"}),
    )
    assert (plan.fate, plan.kind) == EVENT
    assert plan.rules_fired == ("events", "quiet")
    assert plan.settings.priority == "Low"
    assert plan.reasons[1] == (
        "rule 'quiet': from domain 'example.com' matched"
        " -> ignore ignored (rule 'events' decided first); set priority = 'Low'"
    )


def test_stop_ends_evaluation() -> None:
    plan = run(
        rule("printers", PRINTER, set={"group": "Printers"}, stop=True),
        rule("everything", action="ignore", set={"group": "Other"}),
    )
    assert plan.rules_fired == ("printers",)
    assert (plan.fate, plan.kind) == INCIDENT
    assert plan.settings.group == "Printers"
    assert plan.reasons[0].endswith("-> set group = 'Printers'; stop")


def test_stop_on_a_rule_that_does_not_match_changes_nothing() -> None:
    plan = run(rule("toner", TONER, stop=True), rule("all", action="ignore"))
    assert plan.rules_fired == ("all",)


def test_disabled_rule_is_skipped() -> None:
    plan = run(rule("off", enabled=False, action="ignore"))
    assert (plan.fate, plan.kind) == INCIDENT
    assert plan.rules_fired == ()


def test_ignore() -> None:
    plan = run(
        rule(
            "Newsletters",
            {"field": "header:List-Id", "op": "exists", "negate": True},
            action="ignore",
        )
    )
    assert plan == Plan(
        fate=Fate.IGNORED,
        settings=TicketSettings(source="Email", team="IT"),
        rules_fired=("Newsletters",),
        reasons=(
            "rule 'Newsletters': header:List-Id not exists matched -> ignore",
            "ignore as rule 'Newsletters' decided: recorded, no ticket",
        ),
    )


# --- events (the Octopus event processor) -----------------------------------------------


def test_create_event_rule_with_group_and_assignee() -> None:
    monitoring = rule(
        "Monitoring alerts",
        {"field": "from", "op": "domain", "value": "monitoring.example.com"},
        action="create_event",
        set={"group": "Operations", "assignee": "jdoe"},
    )
    plan = run(monitoring, mail=make_mail(sender="zabbix@monitoring.example.com"))
    assert (plan.fate, plan.kind) == EVENT
    assert (plan.settings.group, plan.settings.assignee) == ("Operations", "jdoe")
    assert plan.reasons == (
        "rule 'Monitoring alerts': from domain 'monitoring.example.com' matched"
        " -> create_event; set group = 'Operations', assignee = 'jdoe'",
        "new event as rule 'Monitoring alerts' decided",
    )


def test_event_processor_default_uses_the_job_group_and_assignee() -> None:
    plan = run(processor="event", group="Operations", assignee="jdoe")
    assert (plan.fate, plan.kind) == EVENT
    assert plan.settings == TicketSettings(
        group="Operations", assignee="jdoe", source="Email", team="IT"
    )
    assert plan.reasons == ("the mail answers no ticket -> new event (processor = event)",)


def test_job_assignee_is_for_events_only() -> None:
    incident = run(group="Service Desk", assignee="jdoe")
    assert (incident.fate, incident.kind) == INCIDENT
    assert incident.settings.assignee is None
    assert incident.settings.group == "Service Desk"
    event = run(rule("ev", action="create_event"), group="Service Desk", assignee="jdoe")
    assert event.settings.assignee == "jdoe"


# --- the default: threading (Octopus) --------------------------------------------------


def test_new_mail_makes_an_incident() -> None:
    plan = run(group="Service Desk")
    assert plan == Plan(
        fate=Fate.CREATED,
        settings=TicketSettings(group="Service Desk", source="Email", team="IT"),
        reasons=("the mail answers no ticket -> new incident (processor = incident)",),
    )
    assert plan.settings.site is None  # the apply stage picks the sender's or the fallback site


@pytest.mark.parametrize(
    ("match", "why"),
    [
        (thread(), "subject reference -> IT-12, sender is a participant"),
        (
            thread(allowed=False, token=True),
            "subject reference -> IT-12, the reference carries the ticket's token",
        ),
        (
            thread(by=MatchedBy.MESSAGE_ID),
            "In-Reply-To/References -> IT-12, sender is a participant",
        ),
    ],
)
def test_reply_that_may_post_is_added(match: ThreadMatch, why: str) -> None:
    plan = run(match=match, processor="event")
    assert (plan.fate, plan.ticket_id, plan.link_to) == (Fate.UPDATED, 7, None)
    assert plan.reasons == (f"{why} -> add to ticket",)


STRANGER = thread(allowed=False)


@pytest.mark.parametrize("processor", ["incident", "event"])
def test_stranger_quoting_a_ticket_opens_a_linked_ticket(processor: str) -> None:
    plan = run(match=STRANGER, processor=processor)
    assert (plan.fate, plan.kind, plan.ticket_id, plan.link_to) == (
        Fate.CREATED,
        TicketKind(processor),
        None,
        7,
    )
    assert plan.reasons == (
        "subject reference -> IT-12, but the sender is not on it and the reference has no token"
        f" -> new {processor} (processor = {processor}) linked to IT-12"
        " (stranger_replies = new_ticket)",
    )


def test_stranger_answering_by_message_id_is_not_let_in() -> None:
    # Message-IDs are visible to everyone on a thread: they do not prove anything.
    plan = run(match=thread(allowed=False, by=MatchedBy.MESSAGE_ID))
    assert (plan.fate, plan.ticket_id, plan.link_to) == (Fate.CREATED, None, 7)
    assert plan.reasons[-1].startswith("In-Reply-To/References -> IT-12, but the sender")


def test_stranger_replies_add_activity_trusts_the_reference() -> None:
    plan = run(match=STRANGER, stranger_replies="add_activity")
    assert (plan.fate, plan.ticket_id, plan.link_to) == (Fate.UPDATED, 7, None)
    assert plan.reasons[-1].endswith("-> add to ticket anyway (stranger_replies = add_activity)")


# --- add_to_ticket and create_* rules on replies ---------------------------------------

ADD = rule("replies", action="add_to_ticket")


def test_add_to_ticket_without_a_match_falls_back_to_a_new_ticket() -> None:
    plan = run(ADD, rule("later", action="ignore"))
    assert (plan.fate, plan.kind) == INCIDENT  # "later" does not get to decide
    assert plan.reasons[-1] == (
        "add_to_ticket as rule 'replies' decided, but the mail answers no ticket"
        " -> new incident (processor = incident)"
    )


def test_add_to_ticket_follows_threading() -> None:
    added = run(ADD, match=thread())
    assert (added.fate, added.ticket_id) == (Fate.UPDATED, 7)
    # The stranger policy still holds: a rule does not let a bare ticket number in.
    stranger = run(ADD, match=STRANGER)
    assert (stranger.fate, stranger.ticket_id, stranger.link_to) == (
        Fate.CREATED,
        None,
        7,
    )


def test_create_rule_on_a_reply_opens_a_linked_ticket() -> None:
    plan = run(rule("split", PRINTER, action="create_incident"), match=thread())
    assert (plan.fate, plan.ticket_id, plan.link_to) == (Fate.CREATED, None, 7)
    assert (
        plan.reasons[-1]
        == "new incident as rule 'split' decided, linked to IT-12 which the mail answers"
    )


# --- create_new_requests = false (Octopus CreateNewRequests) ----------------------------

DENIED = "create_new_requests = false -> no incident is created; an automatic reply is due"


def test_new_mail_is_denied_with_an_automatic_reply() -> None:
    plan = run(create_new_requests=False)
    assert (plan.fate, plan.ticket_id, plan.link_to, plan.auto_reply_due) == (
        Fate.DENIED,
        None,
        None,
        True,
    )
    assert plan.reasons == (
        "the mail answers no ticket -> new incident (processor = incident)",
        DENIED,
    )


@pytest.mark.parametrize(
    "rules",
    [[ADD], [], [rule("only settings", set={"group": "X"})]],
    ids=["add_to_ticket without match", "default", "rule without action"],
)
def test_every_new_ticket_no_rule_asked_for_is_denied(rules: list[dict[str, Any]]) -> None:
    plan = run(*rules, create_new_requests=False, processor="event")
    assert (plan.fate, plan.auto_reply_due) == (Fate.DENIED, True)
    assert plan.reasons[-1] == (
        "create_new_requests = false -> no event is created; an automatic reply is due"
    )


@pytest.mark.parametrize("kind", [TicketKind.EVENT, TicketKind.INCIDENT])
def test_a_rule_asking_for_a_ticket_is_an_exception(kind: TicketKind) -> None:
    monitoring = rule("Monitoring", EXAMPLE, action=f"create_{kind.value}")
    plan = run(monitoring, create_new_requests=False)
    assert (plan.fate, plan.kind, plan.auto_reply_due) == (Fate.CREATED, kind, False)
    assert plan.reasons[-1] == "create_new_requests = false does not apply: a rule asked for it"
    # Mail the rule does not match is still denied.
    other = run(monitoring, mail=make_mail(sender="x@other.net"), create_new_requests=False)
    assert other.fate is Fate.DENIED


def test_denied_stranger_gets_no_ticket_and_no_link() -> None:
    plan = run(match=STRANGER, create_new_requests=False)
    assert (plan.fate, plan.link_to, plan.auto_reply_due) == (Fate.DENIED, None, True)


def test_reply_to_an_existing_ticket_is_still_added() -> None:
    plan = run(match=thread(), create_new_requests=False)
    assert (plan.fate, plan.ticket_id, plan.auto_reply_due) == (Fate.UPDATED, 7, False)
    assert not any("create_new_requests" in line for line in plan.reasons)


def test_ignore_is_not_denied() -> None:
    plan = run(rule("drop", action="ignore"), create_new_requests=False)
    assert (plan.fate, plan.auto_reply_due) == (Fate.IGNORED, False)


# --- compiled once -----------------------------------------------------------------------


def test_rules_are_compiled_once_and_are_hashable() -> None:
    job = make_job(
        rule("re", {"field": "subject", "op": "regex", "value": r"jam+ed"}, action="ignore")
    )
    (config,) = job.rules
    same = RuleConfig.model_validate(config.model_dump())
    assert (same, hash(same)) == (config, hash(config))
    _compile.cache_clear()
    for _ in range(3):
        evaluate(job, make_mail(), BODY, None)
    info = _compile.cache_info()
    assert (info.misses, info.hits) == (1, 2)
