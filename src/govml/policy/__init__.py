"""Policy as code: the ``govml/v1`` policy format, its validation and its digest.

>>> from govml.policy import load_policy
>>> loaded = load_policy("examples/policies/credit-high-risk.yaml")
>>> loaded.policy.fairness.rules[0].metric, loaded.digest

A file that does not validate raises `InvalidPolicyError` listing every problem as
``file:line:column: path: message``, with the closest valid name for unknown ones. This
package is pure domain code: storing and applying policies is `govml.services.policy`.
"""

from govml.policy.diagnostics import Diagnostic, InvalidPolicyError
from govml.policy.expectations import DataExpectation
from govml.policy.loader import LoadedPolicy, load_policy, parse_policy
from govml.policy.rules import ChampionComparison, Fairness, FairnessRule, PerformanceRule
from govml.policy.schema import API_VERSION, KIND, Metadata, Policy
from govml.policy.sections import (
    Approvals,
    Documentation,
    Explainability,
    Monitoring,
    Security,
)
from govml.policy.vocabulary import FAIRNESS_METRICS, TIERS, performance_metrics

__all__ = [
    "API_VERSION",
    "FAIRNESS_METRICS",
    "KIND",
    "TIERS",
    "Approvals",
    "ChampionComparison",
    "DataExpectation",
    "Diagnostic",
    "Documentation",
    "Explainability",
    "Fairness",
    "FairnessRule",
    "InvalidPolicyError",
    "LoadedPolicy",
    "Metadata",
    "Monitoring",
    "PerformanceRule",
    "Policy",
    "Security",
    "load_policy",
    "parse_policy",
    "performance_metrics",
]
