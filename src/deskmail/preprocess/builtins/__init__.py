"""The built-in rules, one module per mail-client family, in the recommended order.

Reply headers come first (they remove the whole quoted mail at once), then the
footers a sender's client adds, then what is left of quoted lines.
"""

from __future__ import annotations

from deskmail.config.preprocessing import PreprocessRuleConfig
from deskmail.preprocess.builtins import (
    disclaimer,
    forwarded,
    gmail,
    mobile,
    outlook,
    quoted,
    signature,
    thunderbird,
)
from deskmail.preprocess.builtins.base import Builtin

BUILTINS: tuple[Builtin, ...] = (
    outlook.RULE,
    gmail.RULE,
    thunderbird.RULE,
    forwarded.RULE,
    mobile.RULE,
    signature.RULE,
    disclaimer.RULE,
    quoted.RULE,
)
BY_KEY: dict[str, Builtin] = {rule.key: rule for rule in BUILTINS}


def builtin_rules() -> list[PreprocessRuleConfig]:
    """Every built-in rule, disabled, in the recommended order (Alloy's default list)."""
    return list(_DEFAULT_RULES)


# Built once: a job without a list of its own asks for it with every mail, and
# making eight pydantic models each time was 1% of a 1,000-mail run. They are frozen.
_DEFAULT_RULES = tuple(
    PreprocessRuleConfig(name=rule.title, builtin=rule.key, enabled=False) for rule in BUILTINS
)


def enabled_builtin_rules() -> list[PreprocessRuleConfig]:
    """Every built-in rule, switched on: what the sample configuration uses."""
    return [rule.model_copy(update={"enabled": True}) for rule in builtin_rules()]
