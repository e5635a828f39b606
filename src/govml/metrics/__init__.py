"""Metrics over sufficient statistics: performance, fairness, confidence intervals, drift.

Every metric is computed from small, mergeable statistics (per-group confusion counts,
score histograms, regression moments) built in one vectorised pass over the rows; the
statistics are the evidence an auditor recomputes the numbers from. For example::

    from govml.metrics import demographic_parity_difference, fairness_report

    demographic_parity_difference(y, y_hat, sensitive_features=sex)  # Fairlearn's number
    fairness_report(y, y_hat, sensitive_features=df[["sex", "race"]], n_boot=1000)

The Fairlearn-compatible functions and ``MetricFrame`` return Fairlearn's numbers, edge
cases included; :func:`fairness_report` reports undefined values with their reasons.
Every name of ``fairlearn.metrics`` (0.15) is here with Fairlearn's signature, so code
written for Fairlearn changes only its import: ``MetricFrame`` (control features,
sample parameters, any callable, the bootstrap), ``make_derived_metric`` and the metrics
Fairlearn generates with it (``accuracy_score_difference``, ...), the base rates,
``mean_prediction``, ``count`` and the two plots (see :mod:`govml.metrics.derived`).
AIF360's reference-group forms live in :mod:`govml.metrics.reference_group` (same names
as ``aif360.sklearn.metrics``). :func:`data_drift` compares current data (or mergeable
current statistics) with a reference DataFrame or a stored profile, with Evidently's tests
and default choices.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Bound now: a submodule has the same name, and importing it would rebind the name.
from govml.metrics.bootstrap import bootstrap

if TYPE_CHECKING:
    from govml.metrics import reference_group
    from govml.metrics._base_metrics import (
        count,
        false_negative_rate,
        false_positive_rate,
        mean_prediction,
        selection_rate,
        true_negative_rate,
        true_positive_rate,
    )
    from govml.metrics._confusion import (
        BinaryConfusion,
        MulticlassConfusion,
        binary_confusion,
        multiclass_confusion,
    )
    from govml.metrics._groups import Groups
    from govml.metrics._registry import metric_names
    from govml.metrics._regression import RegressionMoments, regression_moments
    from govml.metrics._scores import ScoreHistogram, ScoreSamples, score_histogram, score_samples
    from govml.metrics._validate import MetricInputError
    from govml.metrics.bootstrap import BootstrapResult, Interval
    from govml.metrics.derived import (
        GENERATED_METRICS,
        accuracy_score_difference,
        accuracy_score_group_min,
        accuracy_score_ratio,
        balanced_accuracy_score_group_min,
        f1_score_group_min,
        log_loss_group_max,
        make_derived_metric,
        mean_absolute_error_group_max,
        mean_squared_error_group_max,
        precision_score_group_min,
        r2_score_group_min,
        recall_score_group_min,
        roc_auc_score_group_min,
        selection_rate_difference,
        selection_rate_ratio,
        true_negative_rate_difference,
        true_negative_rate_ratio,
        true_positive_rate_difference,
        true_positive_rate_ratio,
        zero_one_loss_difference,
        zero_one_loss_group_max,
        zero_one_loss_ratio,
    )
    from govml.metrics.drift.compare import data_drift
    from govml.metrics.drift.report import ColumnDrift, DriftReport, DriftTest
    from govml.metrics.drift.stats import CurrentStatistics, current_statistics
    from govml.metrics.drift.tests import DRIFT_TESTS, DriftTestName
    from govml.metrics.fairness import (
        demographic_parity_difference,
        demographic_parity_ratio,
        equal_opportunity_difference,
        equal_opportunity_ratio,
        equalized_odds_difference,
        equalized_odds_ratio,
        false_negative_rate_difference,
        false_negative_rate_ratio,
        false_positive_rate_difference,
        false_positive_rate_ratio,
        positive_predictive_value_difference,
        positive_predictive_value_ratio,
    )
    from govml.metrics.frame import MetricFrame
    from govml.metrics.performance import (
        accuracy_score,
        average_precision_score,
        balanced_accuracy_score,
        brier_score_loss,
        f1_score,
        group_results,
        log_loss,
        mean_absolute_error,
        mean_error,
        mean_squared_error,
        metric_result,
        precision_score,
        r2_score,
        recall_score,
        roc_auc_score,
        root_mean_squared_error,
        specificity_score,
    )
    from govml.metrics.plots import plot_model_comparison, plot_roc_curve_by_group
    from govml.metrics.reference_group import (
        average_odds_difference,
        average_odds_error,
        disparate_impact_ratio,
        generalized_entropy_error,
        generalized_entropy_index,
        statistical_parity_difference,
        theil_index,
    )
    from govml.metrics.report import (
        FairnessReport,
        FairnessSection,
        fairness_report,
        report_from_stats,
    )
    from govml.metrics.results import MetricResult

# Each public name and the module that defines it, imported on first use (PEP 562), so
# importing this package (or a light submodule of it) loads no pandas, SciPy or scikit-learn.
_EXPORTS: dict[str, str] = {
    "reference_group": "govml.metrics.reference_group:",
    "count": "govml.metrics._base_metrics",
    "false_negative_rate": "govml.metrics._base_metrics",
    "false_positive_rate": "govml.metrics._base_metrics",
    "mean_prediction": "govml.metrics._base_metrics",
    "selection_rate": "govml.metrics._base_metrics",
    "true_negative_rate": "govml.metrics._base_metrics",
    "true_positive_rate": "govml.metrics._base_metrics",
    "BinaryConfusion": "govml.metrics._confusion",
    "MulticlassConfusion": "govml.metrics._confusion",
    "binary_confusion": "govml.metrics._confusion",
    "multiclass_confusion": "govml.metrics._confusion",
    "Groups": "govml.metrics._groups",
    "metric_names": "govml.metrics._registry",
    "RegressionMoments": "govml.metrics._regression",
    "regression_moments": "govml.metrics._regression",
    "ScoreHistogram": "govml.metrics._scores",
    "ScoreSamples": "govml.metrics._scores",
    "score_histogram": "govml.metrics._scores",
    "score_samples": "govml.metrics._scores",
    "MetricInputError": "govml.metrics._validate",
    "BootstrapResult": "govml.metrics.bootstrap",
    "Interval": "govml.metrics.bootstrap",
    "GENERATED_METRICS": "govml.metrics.derived",
    "accuracy_score_difference": "govml.metrics.derived",
    "accuracy_score_group_min": "govml.metrics.derived",
    "accuracy_score_ratio": "govml.metrics.derived",
    "balanced_accuracy_score_group_min": "govml.metrics.derived",
    "f1_score_group_min": "govml.metrics.derived",
    "log_loss_group_max": "govml.metrics.derived",
    "make_derived_metric": "govml.metrics.derived",
    "mean_absolute_error_group_max": "govml.metrics.derived",
    "mean_squared_error_group_max": "govml.metrics.derived",
    "precision_score_group_min": "govml.metrics.derived",
    "r2_score_group_min": "govml.metrics.derived",
    "recall_score_group_min": "govml.metrics.derived",
    "roc_auc_score_group_min": "govml.metrics.derived",
    "selection_rate_difference": "govml.metrics.derived",
    "selection_rate_ratio": "govml.metrics.derived",
    "true_negative_rate_difference": "govml.metrics.derived",
    "true_negative_rate_ratio": "govml.metrics.derived",
    "true_positive_rate_difference": "govml.metrics.derived",
    "true_positive_rate_ratio": "govml.metrics.derived",
    "zero_one_loss_difference": "govml.metrics.derived",
    "zero_one_loss_group_max": "govml.metrics.derived",
    "zero_one_loss_ratio": "govml.metrics.derived",
    "data_drift": "govml.metrics.drift.compare",
    "ColumnDrift": "govml.metrics.drift.report",
    "DriftReport": "govml.metrics.drift.report",
    "DriftTest": "govml.metrics.drift.report",
    "CurrentStatistics": "govml.metrics.drift.stats",
    "current_statistics": "govml.metrics.drift.stats",
    "DRIFT_TESTS": "govml.metrics.drift.tests",
    "DriftTestName": "govml.metrics.drift.tests",
    "demographic_parity_difference": "govml.metrics.fairness",
    "demographic_parity_ratio": "govml.metrics.fairness",
    "equal_opportunity_difference": "govml.metrics.fairness",
    "equal_opportunity_ratio": "govml.metrics.fairness",
    "equalized_odds_difference": "govml.metrics.fairness",
    "equalized_odds_ratio": "govml.metrics.fairness",
    "false_negative_rate_difference": "govml.metrics.fairness",
    "false_negative_rate_ratio": "govml.metrics.fairness",
    "false_positive_rate_difference": "govml.metrics.fairness",
    "false_positive_rate_ratio": "govml.metrics.fairness",
    "positive_predictive_value_difference": "govml.metrics.fairness",
    "positive_predictive_value_ratio": "govml.metrics.fairness",
    "MetricFrame": "govml.metrics.frame",
    "accuracy_score": "govml.metrics.performance",
    "average_precision_score": "govml.metrics.performance",
    "balanced_accuracy_score": "govml.metrics.performance",
    "brier_score_loss": "govml.metrics.performance",
    "f1_score": "govml.metrics.performance",
    "group_results": "govml.metrics.performance",
    "log_loss": "govml.metrics.performance",
    "mean_absolute_error": "govml.metrics.performance",
    "mean_error": "govml.metrics.performance",
    "mean_squared_error": "govml.metrics.performance",
    "metric_result": "govml.metrics.performance",
    "precision_score": "govml.metrics.performance",
    "r2_score": "govml.metrics.performance",
    "recall_score": "govml.metrics.performance",
    "roc_auc_score": "govml.metrics.performance",
    "root_mean_squared_error": "govml.metrics.performance",
    "specificity_score": "govml.metrics.performance",
    "plot_model_comparison": "govml.metrics.plots",
    "plot_roc_curve_by_group": "govml.metrics.plots",
    "average_odds_difference": "govml.metrics.reference_group",
    "average_odds_error": "govml.metrics.reference_group",
    "disparate_impact_ratio": "govml.metrics.reference_group",
    "generalized_entropy_error": "govml.metrics.reference_group",
    "generalized_entropy_index": "govml.metrics.reference_group",
    "statistical_parity_difference": "govml.metrics.reference_group",
    "theil_index": "govml.metrics.reference_group",
    "FairnessReport": "govml.metrics.report",
    "FairnessSection": "govml.metrics.report",
    "fairness_report": "govml.metrics.report",
    "report_from_stats": "govml.metrics.report",
    "MetricResult": "govml.metrics.results",
}

__all__ = [
    "DRIFT_TESTS",
    "GENERATED_METRICS",
    "BinaryConfusion",
    "BootstrapResult",
    "ColumnDrift",
    "CurrentStatistics",
    "DriftReport",
    "DriftTest",
    "DriftTestName",
    "FairnessReport",
    "FairnessSection",
    "Groups",
    "Interval",
    "MetricFrame",
    "MetricInputError",
    "MetricResult",
    "MulticlassConfusion",
    "RegressionMoments",
    "ScoreHistogram",
    "ScoreSamples",
    "accuracy_score",
    "accuracy_score_difference",
    "accuracy_score_group_min",
    "accuracy_score_ratio",
    "average_odds_difference",
    "average_odds_error",
    "average_precision_score",
    "balanced_accuracy_score",
    "balanced_accuracy_score_group_min",
    "binary_confusion",
    "bootstrap",
    "brier_score_loss",
    "count",
    "current_statistics",
    "data_drift",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "disparate_impact_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "f1_score",
    "f1_score_group_min",
    "fairness_report",
    "false_negative_rate",
    "false_negative_rate_difference",
    "false_negative_rate_ratio",
    "false_positive_rate",
    "false_positive_rate_difference",
    "false_positive_rate_ratio",
    "generalized_entropy_error",
    "generalized_entropy_index",
    "group_results",
    "log_loss",
    "log_loss_group_max",
    "make_derived_metric",
    "mean_absolute_error",
    "mean_absolute_error_group_max",
    "mean_error",
    "mean_prediction",
    "mean_squared_error",
    "mean_squared_error_group_max",
    "metric_names",
    "metric_result",
    "multiclass_confusion",
    "plot_model_comparison",
    "plot_roc_curve_by_group",
    "positive_predictive_value_difference",
    "positive_predictive_value_ratio",
    "precision_score",
    "precision_score_group_min",
    "r2_score",
    "r2_score_group_min",
    "recall_score",
    "recall_score_group_min",
    "reference_group",
    "regression_moments",
    "report_from_stats",
    "roc_auc_score",
    "roc_auc_score_group_min",
    "root_mean_squared_error",
    "score_histogram",
    "score_samples",
    "selection_rate",
    "selection_rate_difference",
    "selection_rate_ratio",
    "specificity_score",
    "statistical_parity_difference",
    "theil_index",
    "true_negative_rate",
    "true_negative_rate_difference",
    "true_negative_rate_ratio",
    "true_positive_rate",
    "true_positive_rate_difference",
    "true_positive_rate_ratio",
    "zero_one_loss_difference",
    "zero_one_loss_group_max",
    "zero_one_loss_ratio",
]


def __getattr__(name: str) -> Any:
    if name == "_generated_metric_dict":  # Fairlearn's name for its generated metrics
        return __getattr__("GENERATED_METRICS")
    where = _EXPORTS.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if where.endswith(":"):  # a submodule
        value: Any = importlib.import_module(where[:-1])
    else:
        value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
