"""The decision stage (``DecisionStage``): policy cut-offs, knock-outs, the capacity rule and suggested
amount, reasons and improvement hints, shared by the service, batch scoring, the report, the fairness slices
and the promotion gate. The policy file (``PYMESCORE_POLICY_FILE``) is the one source of every cut-off."""

from pymescore.decision._hints import Hints, actionable, hint_text
from pymescore.decision._policy import (
    CAPACITY_FEATURES,
    REGISTER_FEATURES,
    RULE_TEXTS,
    Policy,
    current_policy,
    cutoff_line,
    load_policy,
    monthly_net_pen,
    policy_notice,
    policy_record,
)
from pymescore.decision._reasons import MISSING_SUFFIX, reasons
from pymescore.decision._stage import Decisions, DecisionStage, rule_entries

__all__ = [
    "CAPACITY_FEATURES",
    "MISSING_SUFFIX",
    "REGISTER_FEATURES",
    "RULE_TEXTS",
    "DecisionStage",
    "Decisions",
    "Hints",
    "Policy",
    "actionable",
    "current_policy",
    "cutoff_line",
    "hint_text",
    "load_policy",
    "monthly_net_pen",
    "policy_notice",
    "policy_record",
    "reasons",
    "rule_entries",
]
