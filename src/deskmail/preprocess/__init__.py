"""Preprocessing: ordered rules that clean a message's text before it becomes a ticket.

    preprocess(text, job.preprocessing) -> PreprocessResult(original, text, fired)

Built-in rules (one module per mail-client family in builtins/) strip quoted
replies, client headers, phone footers, signatures and disclaimers;
user-defined rules cut, remove or replace by regex (custom.py).
"""

from deskmail.preprocess.builtins import BUILTINS, builtin_rules, enabled_builtin_rules
from deskmail.preprocess.engine import PreprocessResult, effective_rules, preprocess

__all__ = [
    "BUILTINS",
    "PreprocessResult",
    "builtin_rules",
    "effective_rules",
    "enabled_builtin_rules",
    "preprocess",
]
