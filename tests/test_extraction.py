"""Fields from the text (classify/extraction.py), after the processing rules captured
their named groups (classify/rules.py): the whole ordered list of steps, with a fake store."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from deskmail.classify.mail import Mail
from deskmail.classify.plan import Extracted, Plan
from deskmail.classify.steps import classify
from deskmail.classify.threading import TicketRef
from deskmail.config.custom_fields import CustomFieldConfig
from deskmail.config.fate import Fate, TicketKind
from deskmail.config.object_types import ObjectTypeConfig, Records
from deskmail.config.rules import RuleConfig
from deskmail.parse.message import ParsedMessage
from tests.test_rules import make_job, make_mail
from tests.test_steps import FakeStore

RECORDS = Records(
    object_types=(
        ObjectTypeConfig(
            name="alert", kind=TicketKind.EVENT, prefix="ALR", fields=["severity", "load"]
        ),
        ObjectTypeConfig(name="purchase_order", prefix="PO", fields=["amount"]),
    ),
    custom_fields=(
        CustomFieldConfig(name="host", all_types=True),
        CustomFieldConfig(name="severity", type="choice", choices=["CRITICAL", "WARNING", "OK"]),
        CustomFieldConfig(name="load", type="number"),
        CustomFieldConfig(name="amount", type="number"),
    ),
)
ALERT_SUBJECT = "** PROBLEM alert - web01.example.com/HTTP is CRITICAL **"
HOST_AND_STATE = r"(?P<host>[\w.-]+)/(?P<check>\w+) is (?P<severity>[A-Z]+)"


def plan_for(
    *rules: dict[str, Any], message: ParsedMessage | None = None, text: str = "", **job: Any
) -> Plan:
    configured = make_job(*rules, **job)
    configured.set_records(RECORDS)
    return classify(Mail(configured, message or make_mail(), text, "d1"), FakeStore())


def regex(field: str, pattern: str) -> dict[str, str]:
    return {"field": field, "op": "regex", "value": pattern}


def alert_rule(**extra: Any) -> dict[str, Any]:
    rule = {
        "name": "Nagios",
        "conditions": [regex("subject", HOST_AND_STATE.replace("(?P<check>", "("))],
        "action": "create",
        "object_type": "alert",
    }
    return rule | extra


def test_named_groups_set_the_custom_fields_of_the_new_record() -> None:
    plan = plan_for(alert_rule(), message=make_mail(subject=ALERT_SUBJECT))
    assert (plan.fate, plan.kind, plan.object_type) == (Fate.CREATED, TicketKind.EVENT, "alert")
    assert plan.custom_fields == {"host": "web01.example.com", "severity": "CRITICAL"}
    assert plan.field_problems == ()
    trace = {traced.step: traced.decided for traced in plan.trace}
    assert trace["fields from the text"] == "set host, severity"
    assert plan.reasons[0].endswith("-> create alert; capture host, severity")


def test_a_map_turns_a_captured_value_into_a_priority_with_a_default() -> None:
    table = {"to": "priority", "values": {"critical": "1 - high", "WARNING": "3 - low"}}
    rule = alert_rule(map={"severity": table | {"default": "4 - none"}})
    critical = plan_for(rule, message=make_mail(subject=ALERT_SUBJECT))
    assert critical.settings.priority == "1 - high"  # keys compare ignoring case
    assert critical.custom_fields["severity"] == "CRITICAL"  # the group is a field too
    unknown = plan_for(rule, message=make_mail(subject=ALERT_SUBJECT.replace("CRITICAL", "DOWN")))
    assert unknown.settings.priority == "4 - none"
    # DOWN is no choice of the severity field: the field is left empty, the priority is not.
    assert unknown.field_problems == (
        "field 'severity' from rule 'Nagios' left empty: the value is not one of the choices"
        " (CRITICAL, WARNING, OK) (choice field)",
    )


def test_a_map_without_default_sets_nothing_for_a_value_in_no_row() -> None:
    rule = alert_rule(map={"severity": {"to": "group", "values": {"WARNING": "Operations"}}})
    plan = plan_for(rule, message=make_mail(subject=ALERT_SUBJECT), group="Service Desk")
    assert plan.settings.group == "Service Desk"  # the job's, untouched
    assert (
        "the captured value is in no row of map.severity, which has no default"
        in (plan.field_problems[0])
    )


def test_a_value_that_does_not_fit_leaves_the_field_empty_and_says_why_without_it() -> None:
    rule = alert_rule(conditions=[regex("body", r"(?m)^Load: (?P<load>\S+)")])
    plan = plan_for(rule, text="Load: abc\n")
    assert plan.fate is Fate.CREATED and plan.object_type == "alert"  # still ticketed
    assert plan.custom_fields == {}
    assert plan.field_problems == (
        "field 'load' from rule 'Nagios' left empty: the value is not a number (number field)",
    )
    assert "abc" not in " ".join(plan.field_problems)
    assert plan_for(rule, text="Load: 0.75\n").custom_fields == {"load": "0.75"}


def test_built_in_fields_from_a_header_and_the_last_rule_wins() -> None:
    message = make_mail(headers=(("X-Priority", "2 (High)"), ("X-Team", "Networks")))
    plan = plan_for(
        {
            "name": "Priority from the header",
            "conditions": [regex("header:X-Priority", r"^(?P<priority>\d)")],
            "set": {"priority": "5", "category": "Mail"},
        },
        {"name": "Group", "conditions": [regex("header:X-Team", r"(?P<group>\w+)")]},
        {"name": "Group again", "conditions": [regex("header:X-Team", r"(?P<group>Net)")]},
        message=message,
    )
    assert (plan.settings.priority, plan.settings.category) == ("2", "Mail")  # captured > set
    # A group named by the mail is taken by apply/draft.py, if one has that name.
    assert plan.settings.group is None
    assert [(e.rule, e.field, e.value) for e in plan.extracted] == [
        ("Priority from the header", "priority", "2"),
        ("Group", "group", "Networks"),
        ("Group again", "group", "Net"),
    ]


def test_a_field_the_record_type_does_not_have_is_left_out() -> None:
    rule = {"name": "Amount", "conditions": [regex("body", r"Amount: (?P<amount>\d+)")]}
    plan = plan_for(rule, text="Amount: 120")  # no create: an incident, which has no amount
    assert plan.custom_fields == {}
    assert plan.field_problems == (
        "field 'amount' from rule 'Amount' left empty: incidents and events have no field"
        " 'amount' (a field of some object types only)",
    )
    order = rule | {"action": "create", "object_type": "purchase_order"}
    assert plan_for(order, text="Amount: 120").custom_fields == {"amount": "120"}
    alert = rule | {"action": "create", "object_type": "alert"}
    assert plan_for(alert, text="Amount: 120").field_problems == (
        "field 'amount' from rule 'Amount' left empty: object type 'alert' has no field 'amount'",
    )


def test_any_captures_from_the_condition_that_held() -> None:
    rule = {
        "name": "Host",
        "match": "any",
        "conditions": [regex("subject", r"host (?P<host>\w+)"), regex("body", r"(?P<host>\w+)")],
    }
    assert plan_for(rule, message=make_mail(subject="host db1 down"), text="x").custom_fields == {
        "host": "db1"
    }
    assert plan_for(rule, text="web2 is down").custom_fields == {"host": "web2"}


def test_a_reply_to_a_ticket_takes_no_fields() -> None:
    store = FakeStore(by_message_id={"m0@example.com": TicketRef(7, "IT", 7, "k7q2p9xm")})
    job = make_job(alert_rule(action="add_to_ticket", object_type=None))
    job.set_records(RECORDS)
    message = replace(make_mail(subject=ALERT_SUBJECT), in_reply_to="m0@example.com")
    plan = classify(Mail(job, message, "", "d1"), store)
    assert plan.fate is Fate.UPDATED
    assert plan.extracted == ()
    trace = {traced.step: traced.decided for traced in plan.trace}
    assert trace["fields from the text"] == "nothing: fields are set on new tickets only"


def test_patterns_run_in_linear_time() -> None:
    # Under Python's re, (a+)+$ against 40 a's and a "!" takes 2**40 steps; RE2 answers at once.
    rule = {"name": "Nested", "conditions": [regex("body", r"(a+)+$")], "action": "ignore"}
    assert plan_for(rule, text="a" * 40 + "!").fate is Fate.CREATED  # it did not match


def test_extracted_values_record_their_rule_and_group() -> None:
    plan = plan_for(
        alert_rule(map={"severity": {"to": "priority", "values": {"CRITICAL": "1"}}}),
        message=make_mail(subject=ALERT_SUBJECT),
    )
    assert plan.extracted == (
        Extracted("Nagios", "host", "host", True, "web01.example.com"),
        Extracted("Nagios", "severity", "priority", False, "1", mapped=True),
        Extracted("Nagios", "severity", "severity", True, "CRITICAL"),
    )
    assert RuleConfig.model_validate(alert_rule()).captures == ("host", "severity")


def test_each_capture_uses_its_own_rule_map_when_names_repeat() -> None:
    def rule(table: dict[str, str]) -> dict[str, Any]:
        return {
            "name": "Same name",
            "conditions": [regex("subject", r"is (?P<level>[A-Z]+)")],
            "map": {"level": {"to": "priority", "values": table}},
        }

    plan = plan_for(
        rule({"CRITICAL": "1"}),
        rule({"WARNING": "3"})
        | {"map": {"level": {"to": "category", "values": {"x": "y"}, "default": "Alerts"}}},
        message=make_mail(subject=ALERT_SUBJECT),
    )
    assert (plan.settings.priority, plan.settings.category) == ("1", "Alerts")


def test_a_rule_sets_fixed_custom_values_in_their_stored_form() -> None:
    plan = plan_for(
        alert_rule(conditions=[], set={"custom": {"severity": "warning", "load": "1.50"}}),
        {"name": "Host", "set": {"custom": {"host": "monitoring"}}},
    )
    assert plan.custom_fields == {"severity": "WARNING", "load": "1.5", "host": "monitoring"}
    assert plan.extracted == (
        Extracted("Nagios", "", "severity", True, "WARNING", given=True),
        Extracted("Nagios", "", "load", True, "1.5", given=True),
        Extracted("Host", "", "host", True, "monitoring", given=True),
    )
    assert plan.field_problems == ()
    assert plan.reasons[0].endswith(
        "-> create alert; set custom.severity = 'warning', custom.load = '1.50'"
    )


def test_a_captured_value_that_fits_overrides_the_set_value_and_one_that_does_not_leaves_it() -> (
    None
):
    rule = alert_rule(set={"custom": {"severity": "WARNING", "host": "unknown host"}})
    plan = plan_for(rule, message=make_mail(subject=ALERT_SUBJECT))
    assert plan.custom_fields == {"severity": "CRITICAL", "host": "web01.example.com"}
    # "UNKNOWN" is no choice of severity: the rule's WARNING stays, and the note says so.
    plan = plan_for(rule, message=make_mail(subject="PROBLEM db02/DISK is UNKNOWN"))
    assert plan.custom_fields == {"severity": "WARNING", "host": "db02"}
    assert plan.field_problems == (
        "field 'severity' from rule 'Nagios' not taken, the value set before it stays: the value"
        " is not one of the choices (CRITICAL, WARNING, OK) (choice field)",
    )


def test_a_set_value_the_record_type_does_not_have_is_left_out() -> None:
    # Loading could not tell: the rule makes no record, another rule's action decides.
    plan = plan_for(
        {"name": "Amount", "set": {"custom": {"amount": "12"}}},
        {"name": "Alerts", "action": "create", "object_type": "alert"},
    )
    assert plan.object_type == "alert" and plan.custom_fields == {}
    assert plan.field_problems == (
        "field 'amount' from rule 'Amount' left empty: object type 'alert' has no field 'amount'",
    )


def test_set_values_go_to_new_tickets_only() -> None:
    store = FakeStore(by_message_id={"m0@example.com": TicketRef(7, "IT", 7, "k7q2p9xm")})
    job = make_job({"name": "Host", "set": {"custom": {"host": "web01"}}})
    job.set_records(RECORDS)
    message = replace(make_mail(), in_reply_to="m0@example.com")
    plan = classify(Mail(job, message, "", "d1"), store)
    assert plan.fate is Fate.UPDATED and plan.extracted == () and plan.custom_fields == {}


def test_a_later_capture_that_does_not_fit_leaves_an_earlier_capture() -> None:
    plan = plan_for(
        alert_rule(),
        {"name": "Again", "conditions": [regex("body", r"state (?P<severity>\w+)")]},
        message=make_mail(subject=ALERT_SUBJECT),
        text="state UNKNOWN",
    )
    assert plan.custom_fields["severity"] == "CRITICAL"
    assert plan.field_problems == (
        "field 'severity' from rule 'Again' not taken, the value set before it stays: the value"
        " is not one of the choices (CRITICAL, WARNING, OK) (choice field)",
    )
