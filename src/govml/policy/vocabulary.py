"""The names a policy may use, and what govml knows about each metric.

Performance metric names come from the metrics engine (`govml.metrics.metric_names`), drift
test names from `govml.metrics.DRIFT_TESTS`. Fairness metrics are the labels of
`govml.metrics.fairness_report`: Fairlearn's disparities (compared between groups or to the
overall value), AIF360's reference-group forms and the inequality indices over all rows; a
test checks that these lists and the report agree.

Each metric also has a range and a direction. The range lets validation catch a bound that
can never be met (``min: 80`` for an accuracy, meant as 80 %); the direction says whether a
champion comparison is a drop (``max_drop``) or an increase (``max_increase``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal, get_args

from govml.metrics import DRIFT_TESTS, metric_names
from govml.metrics.drift.tests import SPECS

Tier = Literal["minimal", "limited", "high", "unacceptable"]
"""EU AI Act risk tiers, as in `govml.RiskTier`."""

TIERS: Final[tuple[Tier, ...]] = get_args(Tier)
HIGH_RISK_TIERS: Final[frozenset[str]] = frozenset({"high", "unacceptable"})

Outcome = Literal["fail", "warn", "pass"]
"""What an undefined metric result counts as."""

Direction = Literal["higher", "lower", "none"]
Comparison = Literal["between_groups", "to_overall", "reference_group"]

Expectation = Literal[
    "no_nulls",
    "between",
    "in_set",
    "unique",
    "regex",
    "row_count",
    "schema_matches_training",
    "no_personal_data",
]
PersonalDataKind = Literal["email", "phone", "us_ssn", "uk_nino", "iban", "card"]
"""What `govml.checks.personal_data` recognises (national ids: US SSN, UK NINO)."""
Explainer = Literal["auto", "tree", "linear", "kernel", "permutation"]
Serialization = Literal["safe_only", "trusted_types", "scanned_pickle", "custom_code"]
"""``safe_only`` refuses every pickle-based artifact and every skops artifact that relies on
types beyond the built-in allowlist; ``trusted_types`` refuses pickles and accepts, with a
warning, extra types the operator trusts (``GOVML_TRUSTED_TYPES``); ``scanned_pickle`` judges
extra types as ``trusted_types`` does and accepts a pickle when a scan of its stream (without
loading it) finds no dangerous import; ``custom_code`` allows what ``scanned_pickle`` allows
and MLflow python_function models whose code ships with the model (every pickle in them
importing only allowed callables and the model's own ``code/`` modules). Each level allows
what the ones before it allow."""
Severity = Literal["low", "medium", "high", "critical"]
"""Vulnerability levels, least to most severe (CVSS v3 bands)."""

DocumentationField = Literal[
    "intended_use",
    "out_of_scope_use",
    "owner",
    "description",
    "limitations",
    "ethical_considerations",
    "training_data",
    "validation_data",
    "code",
    "environment",
    "signature",
    "params",
    "metrics",
]
"""Model-card fields a policy can require, as `govml.checks.documentation` reads them: the
model's own fields (intended_use, out_of_scope_use, owner, description), model-card text
kept as model tags of the same name (limitations, ethical_considerations), and the
version's lineage (training_data and validation_data fingerprints, the code's git commit,
the environment's packages, the signature, params and metrics)."""

ApproverRole = Literal["approver", "risk_officer"]
"""Roles that may approve a version (DESIGN: "approver / risk_officer")."""

Action = Literal["notify", "rollback", "retrain"]
"""What monitoring does on an alert."""

WINDOW_UNITS: Final[dict[str, str]] = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True, kw_only=True)
class MetricTraits:
    """The range a metric's values lie in and which way is better.

    Attributes
    ----------
    low, high : float
        Smallest and largest possible values (infinite when unbounded).
    direction : {"higher", "lower", "none"}
        Whether larger or smaller values are better; ``none`` for counts, rates and signed
        errors that have no better side.
    """

    low: float
    high: float
    direction: Direction


_INF = math.inf
_SCORE = MetricTraits(low=0.0, high=1.0, direction="higher")
_ERROR_RATE = MetricTraits(low=0.0, high=1.0, direction="lower")
_LOSS = MetricTraits(low=0.0, high=_INF, direction="lower")

_PERFORMANCE_GROUPS: Final[tuple[tuple[MetricTraits, tuple[str, ...]], ...]] = (
    (
        _SCORE,
        (
            "accuracy",
            "accuracy_score",
            "average_precision",
            "average_precision_score",
            "pr_auc",
            "balanced_accuracy",
            "balanced_accuracy_score",
            "f1",
            "f1_score",
            "precision",
            "precision_score",
            "positive_predictive_value",
            "ppv",
            "recall",
            "recall_score",
            "sensitivity",
            "tpr",
            "true_positive_rate",
            "roc_auc",
            "roc_auc_score",
            "specificity",
            "specificity_score",
            "tnr",
            "true_negative_rate",
        ),
    ),
    (
        _ERROR_RATE,
        (
            "brier_score",
            "brier_score_loss",
            "fnr",
            "false_negative_rate",
            "fpr",
            "false_positive_rate",
        ),
    ),
    (
        _LOSS,
        (
            "log_loss",
            "mae",
            "mean_absolute_error",
            "mse",
            "mean_squared_error",
            "rmse",
            "root_mean_squared_error",
        ),
    ),
    (MetricTraits(low=-_INF, high=1.0, direction="higher"), ("r2", "r2_score")),
    (MetricTraits(low=0.0, high=1.0, direction="none"), ("selection_rate",)),
    (MetricTraits(low=0.0, high=_INF, direction="none"), ("count",)),
    (MetricTraits(low=-_INF, high=_INF, direction="none"), ("bias", "mean_bias", "mean_error")),
)
PERFORMANCE_TRAITS: Final[dict[str, MetricTraits]] = {
    name: traits for traits, names in _PERFORMANCE_GROUPS for name in names
}
_UNKNOWN_TRAITS = MetricTraits(low=-_INF, high=_INF, direction="none")

_DISPARITY_BASES: Final[tuple[str, ...]] = (
    "demographic_parity",
    "equal_opportunity",
    "equalized_odds",
    "false_positive_rate",
    "false_negative_rate",
    "positive_predictive_value",
)
FAIRLEARN_DISPARITIES: Final[tuple[str, ...]] = tuple(
    f"{base}_{form}" for base in _DISPARITY_BASES for form in ("difference", "ratio")
)
"""Fairlearn's named disparities; compared ``between_groups`` or ``to_overall``."""

REFERENCE_GROUP_FORMS: Final[tuple[str, ...]] = (
    "statistical_parity_difference",
    "disparate_impact_ratio",
    "equal_opportunity_difference",
    "false_positive_rate_difference",
    "false_positive_rate_ratio",
    "false_negative_rate_difference",
    "false_negative_rate_ratio",
    "positive_predictive_value_difference",
    "positive_predictive_value_ratio",
    "average_odds_difference",
    "average_odds_error",
)
"""AIF360's forms: the unprivileged rows against the policy's reference (privileged) group."""

INEQUALITY_INDICES: Final[tuple[str, ...]] = (
    "generalized_entropy_error",
    "theil_index",
    "between_group_generalized_entropy_error",
)
"""Inequality of the benefit over all rows; no comparison between groups to choose."""

FAIRNESS_METRICS: Final[tuple[str, ...]] = tuple(
    dict.fromkeys((*FAIRLEARN_DISPARITIES, *REFERENCE_GROUP_FORMS, *INEQUALITY_INDICES))
)
"""The binary classifier's fairness metrics (the labels of `govml.metrics.fairness_report`);
a multiclass classifier's rules name the Fairlearn disparities among them, measured one
class against the rest."""

REGRESSION_DISPARITIES: Final[tuple[str, ...]] = (
    "mean_absolute_error_difference",
    "mean_absolute_error_ratio",
    "root_mean_squared_error_difference",
    "root_mean_squared_error_ratio",
    "mean_prediction_difference",
    "mean_prediction_ratio",
    "mean_residual_difference",
)
"""A regression model's disparities (`govml.metrics.group_regression`); compared
``between_groups`` or ``to_overall``."""

CALIBRATION_DISPARITIES: Final[tuple[str, ...]] = (
    "calibration_gap",
    "calibration_in_the_large_difference",
)
"""Differences of calibration between groups (`govml.metrics.calibration`): of the expected
calibration error, and of calibration-in-the-large (mean score minus observed rate)."""

WORST_GROUP_METRICS: Final[tuple[str, ...]] = (
    "bounded_group_loss",
    "bounded_group_absolute_loss",
    "expected_calibration_error",
)
"""The largest value over the groups (every group's loss or calibration error bounded); no
comparison between groups to choose."""

GROUP_RULE_METRICS: Final[tuple[str, ...]] = (
    *REGRESSION_DISPARITIES,
    "bounded_group_loss",
    "bounded_group_absolute_loss",
    *CALIBRATION_DISPARITIES,
    "expected_calibration_error",
)
"""Fairness rules beyond the binary report: regression and calibration."""

REGRESSION_RULE_METRICS: Final[frozenset[str]] = frozenset(
    (*REGRESSION_DISPARITIES, "bounded_group_loss", "bounded_group_absolute_loss")
)
CALIBRATION_RULE_METRICS: Final[frozenset[str]] = frozenset(
    (*CALIBRATION_DISPARITIES, "expected_calibration_error")
)

FAIRNESS_RULE_METRICS: Final[tuple[str, ...]] = (*FAIRNESS_METRICS, *GROUP_RULE_METRICS)
"""Every metric a fairness rule may name."""


def performance_metrics() -> tuple[str, ...]:
    """Return every performance metric name the metrics engine accepts (aliases too)."""
    return tuple(metric_names())


def drift_tests() -> tuple[str, ...]:
    """Return the drift test names (Evidently's stattest names)."""
    return tuple(DRIFT_TESTS)


def drift_test_is_p_value(name: str) -> bool:
    """Return True when test ``name`` yields a p-value (small means drift)."""
    return SPECS[name].score == "p_value"  # type: ignore[index]


def performance_traits(name: str) -> MetricTraits:
    """Return the range and direction of performance metric ``name``."""
    return PERFORMANCE_TRAITS.get(name, _UNKNOWN_TRAITS)


def fairness_traits(name: str, comparison: Comparison | None) -> MetricTraits:
    """Return the range and direction of fairness metric ``name`` under ``comparison``.

    Fairlearn's differences are absolute gaps in [0, 1] and its ratios smaller over larger
    group value, in [0, 1]. AIF360's forms are signed: unprivileged minus privileged in
    [-1, 1], or unprivileged over privileged in [0, inf).
    """
    if name in INEQUALITY_INDICES:
        return _LOSS
    ratio = name.endswith("_ratio")
    if name in CALIBRATION_RULE_METRICS:
        return _ERROR_RATE
    if name in REGRESSION_RULE_METRICS:
        return _SCORE if ratio else _LOSS
    if comparison == "reference_group":
        if name == "average_odds_error":
            return _ERROR_RATE
        if ratio:
            return MetricTraits(low=0.0, high=_INF, direction="none")
        return MetricTraits(low=-1.0, high=1.0, direction="none")
    return _SCORE if ratio else _ERROR_RATE


def default_comparison(name: str | None) -> Comparison | None:
    """Return how fairness metric ``name`` compares groups when the rule does not say."""
    if name in FAIRLEARN_DISPARITIES or name in (*REGRESSION_DISPARITIES, *CALIBRATION_DISPARITIES):
        return "between_groups"
    if name in REFERENCE_GROUP_FORMS:
        return "reference_group"
    return None


def format_number(value: float) -> str:
    """Return ``value`` as a person writes it: no trailing ``.0``, infinities spelled out."""
    if math.isinf(value):
        return "infinity" if value > 0 else "-infinity"
    return str(int(value)) if value.is_integer() else repr(value)
