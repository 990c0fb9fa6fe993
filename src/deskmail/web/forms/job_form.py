"""The job editor's form: its fields, read into a [[jobs]] table and written back from a job.

Each field is named by its dotted key in the table ("server", "oauth2.client_id",
"smtp.port"), so a problem the catalog reports for a key lands next to the field
of that name (field_errors.py). Values are passed as typed, strings included: the
job models coerce "993" to a number and say in plain words what they refuse.

Secrets (password, client secret, SMTP password) are write-only: the form never
holds their value; left empty, the stored one is kept.

Preprocessing rules are rows, each posted as its definition (JSON in a hidden
field), its enabled box and its place; moving one up or down or adding one
re-renders the form from what was posted, so it works without JavaScript.

Processing rules are a rule builder (rule_rows.py); "Edit all rules as TOML"
switches to the advanced view, the [[rules]] tables in a textarea (RULES_MODE
says which view was posted).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from deskmail.config.models import (
    AfterProcessing,
    AuthMechanism,
    ExchangeVersion,
    JobConfig,
    Processor,
    Protocol,
    Security,
    SmtpSecurity,
    StrangerReplies,
    Timeouts,
)
from deskmail.config.oauth2 import OAuth2Flow, OAuth2Provider
from deskmail.web.forms.rule_rows import (
    RuleRow,
    RulesError,
    changed,
    parse_rules,
    rows_from_post,
    rows_from_rules,
    rows_from_toml,
    rule_field,
    rules_toml,
)

TEXT_FIELDS = (
    # Connection
    "name",
    "protocol",
    "server",
    "port",
    "security",
    "ca_file",
    "user",
    "password_env",
    "password_file",
    "auth_mechanism",
    "folder",
    "path",
    "service_url",
    "mailbox",
    "exchange_version",
    "after_processing",
    "move_to",
    "oauth2.provider",
    "oauth2.tenant",
    "oauth2.client_id",
    "oauth2.client_secret_env",
    "oauth2.client_secret_file",
    "oauth2.certificate_file",
    "oauth2.flow",
    "oauth2.authority",
    "oauth2.token_endpoint",
    "oauth2.authorization_endpoint",
    # Processing
    "processor",
    "fallback_user",
    "fallback_site",
    "group",
    "team",
    "source",
    "assignee",
    "stranger_replies",
    "reference_pattern",
    "ignored_attachments",
    "max_attachment_size",
    # Schedule
    "schedule",
    "fetch_batch",
    "timeouts.connect",
    "timeouts.read",
    # Outgoing mail
    "address",
    "notify_group_address",
    "error_group",
    "failure_note_minutes",
    "auto_reply_limit_per_day",
    "new_tickets_per_sender_per_hour",
    "smtp.server",
    "smtp.port",
    "smtp.security",
    "smtp.user",
    "smtp.password_env",
    "smtp.password_file",
    "smtp.from_address",
    "smtp.from_name",
)
BOOL_FIELDS = (
    "enabled",
    "reject_invalid_certificates",
    "idle",
    "create_new_requests",
    "include_raw_message",
    "drop_signature_images",
    "send_acknowledgement",
    "smtp.reject_invalid_certificates",
)
LIST_FIELDS = ("oauth2.scopes",)  # words separated by spaces
SECRET_FIELDS = ("password", "oauth2.client_secret", "smtp.password")
# A sub-table is written only when its box is ticked ("use_oauth2", "use_smtp").
TABLES = ("oauth2", "smtp")
RULES_FIELD = "rules"  # processing rules, as [[rules]] tables in TOML (the advanced view)
RULES_MODE = "rules_mode"  # "form": the rule builder's rows; "toml": the RULES_FIELD text
PREPROCESSING_FIELD = "preprocessing"

CHOICES: dict[str, tuple[str, ...]] = {
    "protocol": tuple(p.value for p in Protocol),
    "security": tuple(s.value for s in Security),
    "auth_mechanism": tuple(m.value for m in AuthMechanism),
    "exchange_version": tuple(v.value for v in ExchangeVersion),
    "after_processing": ("", *(a.value for a in AfterProcessing)),
    "processor": tuple(p.value for p in Processor),
    "stranger_replies": tuple(s.value for s in StrangerReplies),
    "oauth2.provider": tuple(p.value for p in OAuth2Provider),
    "oauth2.flow": tuple(f.value for f in OAuth2Flow),
    "smtp.security": tuple(s.value for s in SmtpSecurity),
}
FIELDS = frozenset(
    (*TEXT_FIELDS, *BOOL_FIELDS, *LIST_FIELDS, *SECRET_FIELDS, RULES_FIELD, PREPROCESSING_FIELD)
)


class FormError(ValueError):
    """A field that cannot even be read (processing rules that are not TOML)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True, slots=True)
class PreprocessRow:
    """One preprocessing rule of the list, in its place."""

    name: str
    enabled: bool
    definition: Mapping[str, Any]  # builtin, or cut_from / remove_between / replace (+ with)

    @property
    def builtin(self) -> str | None:
        value = self.definition.get("builtin")
        return str(value) if value is not None else None

    @property
    def definition_json(self) -> str:
        return json.dumps(dict(self.definition), ensure_ascii=False, sort_keys=True)

    @property
    def described(self) -> str:
        if self.builtin is not None:
            return f"built-in ({self.builtin})"
        kind, value = next(iter(self.definition.items()), ("", ""))
        return f"{kind.replace('_', ' ')}: {value}"

    def table(self) -> dict[str, Any]:
        return {"name": self.name, "enabled": self.enabled, **self.definition}


@dataclass(frozen=True, slots=True)
class JobForm:
    """What the editor shows: the values of its fields, and the preprocessing rows."""

    values: Mapping[str, str]
    preprocessing: tuple[PreprocessRow, ...]
    tables: frozenset[str] = frozenset()  # the sub-tables switched on: oauth2, smtp
    errors: Mapping[str, str] = field(default_factory=dict)  # field -> problem
    rules: tuple[RuleRow, ...] = ()  # the rule builder's rows
    rules_as_toml: bool = False  # the advanced view: every rule in the RULES_FIELD text

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def checked(self, name: str) -> bool:
        return self.values.get(name, "false") == "true"

    def error(self, name: str) -> str | None:
        return self.errors.get(name)

    def with_errors(self, errors: Mapping[str, str]) -> JobForm:
        return replace(self, errors=dict(errors))

    def moved(self, index: int, step: int) -> JobForm:
        """The form with preprocessing row `index` moved up (-1) or down (+1)."""
        rows = list(self.preprocessing)
        other = index + step
        if 0 <= index < len(rows) and 0 <= other < len(rows):
            rows[index], rows[other] = rows[other], rows[index]
        return replace(self, preprocessing=tuple(rows))

    def without_row(self, index: int) -> JobForm:
        rows = [row for at, row in enumerate(self.preprocessing) if at != index]
        return replace(self, preprocessing=tuple(rows))

    def with_row(self, row: PreprocessRow) -> JobForm:
        return replace(self, preprocessing=(*self.preprocessing, row))

    def with_rules_changed(self, action: str) -> JobForm | None:
        """The form after a rule builder button, None if `action` is none of them;
        FormError when the rules cannot go where asked (TOML that does not read)."""
        try:
            if action == "rules-toml":
                if self.rules_as_toml:
                    return self
                tables, _places = self.rule_tables()
                text = rules_toml(tables)
                return replace(self, values={**self.values, RULES_FIELD: text}, rules_as_toml=True)
            if action == "rules-form":
                read = rows_from_toml(self.values.get(RULES_FIELD, ""), RULES_FIELD)
                return replace(self, rules=read, rules_as_toml=False)
            if self.rules_as_toml:
                return None
            rows = changed(self.rules, action)
        except RulesError as exc:
            raise FormError(exc.field, exc.problem) from None
        return None if rows is None else replace(self, rules=rows)

    def rule_tables(self) -> tuple[list[dict[str, Any]], list[int]]:
        """The [[rules]] tables and, for each, the row it comes from (a TOML row may hold
        several); FormError for TOML that does not read."""
        try:
            if self.rules_as_toml:
                tables = parse_rules(self.values.get(RULES_FIELD, ""), RULES_FIELD)
                return tables, list(range(len(tables)))
            found: list[dict[str, Any]] = []
            places: list[int] = []
            for at, row in enumerate(self.rules):
                tables = row.tables(at)
                found += tables
                places += [at] * len(tables)
            return found, places
        except RulesError as exc:
            raise FormError(exc.field, exc.problem) from None

    def rule_field(self, key: str) -> tuple[str, str] | None:
        """(field, label naming the rule and its field) of a catalog key inside the job."""
        if not key.startswith("rules["):
            return None
        tables, places = self.rule_tables()
        if self.rules_as_toml:
            found = rule_field(key, [RuleRow(name=str(t.get("name", ""))) for t in tables], places)
            return (RULES_FIELD, found[1]) if found else None
        return rule_field(key, self.rules, places)

    def settings(self) -> dict[str, Any]:
        """The form as a [[jobs]] table; FormError for rules that cannot be read."""
        table: dict[str, Any] = {}
        for name in TEXT_FIELDS:
            text = self.values.get(name, "").strip()
            if text:
                _put(table, name, text)
        for name in BOOL_FIELDS:
            if name in self.values:
                _put(table, name, self.checked(name))
        for name in LIST_FIELDS:
            words = self.values.get(name, "").split()
            if words:
                _put(table, name, words)
        for name in SECRET_FIELDS:
            secret = self.values.get(name, "")
            if secret:
                _put(table, name, secret)
        for name in TABLES:
            if name not in self.tables:
                table.pop(name, None)
        rules, _ = self.rule_tables()
        if rules:
            table[RULES_FIELD] = rules
        # None posted (or every row removed) runs as the default list: built-ins, all off.
        if self.preprocessing and not _is_default(self.preprocessing):
            table[PREPROCESSING_FIELD] = [row.table() for row in self.preprocessing]
        return table


def form_from_post(posted: Mapping[str, Sequence[str]]) -> JobForm:
    """The form as posted: each field's last value (a box sends "false" from a hidden
    field, then "true" when ticked)."""
    last = {name: values[-1] for name, values in posted.items() if values}
    values = {name: last[name] for name in FIELDS if name in last and name != PREPROCESSING_FIELD}
    tables = frozenset(name for name in TABLES if last.get(f"use_{name}") == "true")
    # Without a mode (a plain post of the text) the text is the rules.
    as_toml = last.get(RULES_MODE, "toml" if RULES_FIELD in last else "form") == "toml"
    if not as_toml:
        values.pop(RULES_FIELD, None)
    rows = () if as_toml else rows_from_post(posted)
    return JobForm(values, _posted_rows(posted), tables, rules=rows, rules_as_toml=as_toml)


def form_from_job(job: JobConfig | None) -> JobForm:
    """A new job's form (IMAP over TLS, every built-in preprocessing rule listed, off), or
    the form of a job (its secrets left out: the job comes from the catalog without them)."""
    if job is None:
        values = _defaults()
        values |= {"protocol": Protocol.IMAP.value, "smtp.reject_invalid_certificates": "true"}
        return JobForm(values, _default_rows())
    dumped = job.model_dump(mode="json", by_alias=True)
    values = {}
    for name in (*TEXT_FIELDS, *BOOL_FIELDS, *LIST_FIELDS):
        value = _get(dumped, name)
        if isinstance(value, bool):
            values[name] = "true" if value else "false"
        elif isinstance(value, list):
            values[name] = " ".join(str(item) for item in value)
        elif value is not None:
            values[name] = str(value)
    rules = [rule.model_dump(mode="json", exclude_defaults=True) for rule in job.rules]
    values[RULES_FIELD] = rules_toml(rules)
    rows = (
        tuple(
            _row(
                rule.model_dump(mode="json", by_alias=True, exclude_defaults=True)
                | {
                    "enabled": rule.enabled,
                    "name": rule.name,
                }
            )
            for rule in job.preprocessing
        )
        if job.preprocessing is not None
        else _default_rows()
    )
    tables = frozenset(name for name in TABLES if getattr(job, name) is not None)
    return JobForm(values, rows, tables, rules=rows_from_rules(job.rules))


def custom_row(posted: Mapping[str, Sequence[str]]) -> PreprocessRow:
    """The rule of the "add a rule" fields, or FormError saying what is missing."""
    last = {name: values[-1].strip() for name, values in posted.items() if values}
    name, kind = last.get("new_rule.name", ""), last.get("new_rule.kind", "cut_from")
    pattern, second = last.get("new_rule.pattern", ""), last.get("new_rule.second", "")
    if not name:
        raise FormError("new_rule.name", "is required: the rule's name")
    if not pattern:
        raise FormError("new_rule.pattern", "is required: a regular expression")
    definition: dict[str, Any]
    if kind == "remove_between":
        if not second:
            raise FormError("new_rule.second", "is required: the regular expression ending a block")
        definition = {"remove_between": [pattern, second]}
    elif kind == "replace":
        definition = {"replace": pattern, "with": second}
    elif kind == "cut_from":
        definition = {"cut_from": pattern}
    else:
        raise FormError("new_rule.kind", "must be cut_from, remove_between or replace")
    return PreprocessRow(name, True, definition)


# ---- helpers --------------------------------------------------------------------------


def _put(table: dict[str, Any], dotted: str, value: Any) -> None:
    *path, key = dotted.split(".")
    for part in path:
        table = table.setdefault(part, {})
    table[key] = value


def _get(table: Mapping[str, Any], dotted: str) -> Any:
    value: Any = table
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _row(table: Mapping[str, Any]) -> PreprocessRow:
    definition = {k: v for k, v in table.items() if k not in ("name", "enabled")}
    return PreprocessRow(str(table.get("name", "")), bool(table.get("enabled", True)), definition)


def _defaults() -> dict[str, str]:
    """A new job's form: each field at the default the models give it (team "IT", ...)."""
    from pydantic_core import PydanticUndefined

    values = {}
    for name in (*TEXT_FIELDS, *BOOL_FIELDS):
        model, key = (
            (Timeouts, name[len("timeouts.") :])
            if name.startswith("timeouts.")
            else (
                JobConfig,
                name,
            )
        )
        field_info = model.model_fields.get(key)
        default = field_info.default if field_info is not None else None
        if default is None or default is PydanticUndefined or default == "":
            continue
        values[name] = (
            ("true" if default else "false")
            if isinstance(default, bool)
            else str(getattr(default, "value", default))
        )
    return values


def _default_rows() -> tuple[PreprocessRow, ...]:
    from deskmail.preprocess.builtins import builtin_rules

    return tuple(
        _row(
            rule.model_dump(mode="json", by_alias=True, exclude_defaults=True)
            | {
                "enabled": False,
                "name": rule.name,
            }
        )
        for rule in builtin_rules()
    )


def _is_default(rows: Sequence[PreprocessRow]) -> bool:
    """Every built-in, off, in the recommended order: what a job without a list runs."""
    return tuple(rows) == _default_rows()


def _posted_rows(posted: Mapping[str, Sequence[str]]) -> tuple[PreprocessRow, ...]:
    """Rows posted as pre.N.definition, pre.N.name and pre.N.enabled, in N's order."""
    indexes = sorted(
        int(name.split(".")[1])
        for name in posted
        if name.startswith("pre.") and name.endswith(".definition") and name.split(".")[1].isdigit()
    )
    rows = []
    for index in indexes:
        prefix = f"pre.{index}."
        try:
            definition = json.loads(posted[prefix + "definition"][-1])
        except ValueError:
            raise FormError(PREPROCESSING_FIELD, f"rule {index + 1} was not sent right") from None
        if not isinstance(definition, dict):
            raise FormError(PREPROCESSING_FIELD, f"rule {index + 1} was not sent right")
        enabled = (posted.get(prefix + "enabled") or ["false"])[-1] == "true"
        name = (posted.get(prefix + "name") or [""])[-1]
        rows.append(PreprocessRow(name, enabled, definition))
    return tuple(rows)
