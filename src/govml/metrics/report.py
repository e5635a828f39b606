"""Fairness report: every group metric and disparity, ``undefined`` with a reason where due.

This is what the policy engine reads. Where Fairlearn or AIF360 return a conventional
number for a 0/0 (TPR 0.0 for a group without positives, FPR 1.0 in AIF360's average odds,
disparate impact 0.0), the report says the value is undefined and why; aggregates over
groups are undefined when a group that takes part is, so a missing rate never hides a gap.

Groups smaller than ``min_group_size`` are reported as undefined and left out of the
differences and ratios (which need at least two groups with a value). With several
sensitive features the report has one section per feature and, with ``intersections``,
one for their combination; all sections come from one set of statistics on the
combinations, summed (Principle 3), and so does every bootstrap replicate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from govml.metrics._aggregate import NAMED, Method, strict_named
from govml.metrics._confusion import BinaryConfusion, FloatArray, IntArray, binary_confusion
from govml.metrics._groups import GroupKey, MissingPolicy
from govml.metrics._registry import Computed, spec_for
from govml.metrics._validate import MetricInputError
from govml.metrics.bootstrap import (
    BootstrapResult,
    Interval,
    evaluate_replicates,
    regroup,
    resample,
)
from govml.metrics.reference_group import (
    benefit_levels,
    between_group_entropy,
    entropy_of_levels,
    split_privileged,
)
from govml.metrics.results import (
    GROUP_UNDEFINED,
    SMALL_GROUP,
    TOO_FEW_GROUPS,
    ZERO_DENOMINATOR,
    MetricResult,
    result,
)

DEFAULT_METRICS = (
    "selection_rate",
    "true_positive_rate",
    "false_positive_rate",
    "false_negative_rate",
    "precision",
    "accuracy",
)
METHODS: tuple[Method, ...] = ("between_groups", "to_overall")
# Group metrics the named disparities are built from (canonical names).
_DISPARITY_METRICS = (
    "selection_rate",
    "recall",
    "false_positive_rate",
    "false_negative_rate",
    "precision",
)
NEEDS_PRIVILEGED = "privileged names feature {name!r}, which is not a sensitive feature"


@dataclass(frozen=True, kw_only=True)
class FairnessSection:
    """Results for one grouping: one sensitive feature, or a combination of them.

    ``by_group[metric]`` lists one result per group (in ``groups`` order).
    ``disparities`` holds the named Fairlearn-style aggregates between groups
    (``demographic_parity_difference``, ...) and the same ``..._to_overall``.
    ``reference`` holds AIF360's unprivileged-vs-privileged forms when a privileged
    group was given for these features.
    """

    features: tuple[str, ...]
    groups: tuple[GroupKey, ...]
    rows: tuple[int, ...]
    by_group: dict[str, tuple[MetricResult, ...]]
    overall: dict[str, MetricResult]
    disparities: dict[str, MetricResult]
    reference: dict[str, MetricResult] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "features": list(self.features),
            "groups": [list(k) for k in self.groups],
            "rows": list(self.rows),
            "by_group": {m: [r.to_dict() for r in rs] for m, rs in self.by_group.items()},
            "overall": {m: r.to_dict() for m, r in self.overall.items()},
            "disparities": {m: r.to_dict() for m, r in self.disparities.items()},
            "reference": {m: r.to_dict() for m, r in self.reference.items()},
        }


@dataclass(frozen=True, kw_only=True)
class FairnessReport:
    """Sections per grouping, overall inequality indices, and the statistics used.

    ``statistics`` (per-combination confusion counts) is the evidence: the whole report
    can be recomputed from it with :func:`report_from_stats`.
    """

    sections: tuple[FairnessSection, ...]
    inequality: dict[str, MetricResult]
    statistics: BinaryConfusion
    options: dict[str, Any]

    def section(self, *features: str) -> FairnessSection:
        """Return the section grouped by exactly ``features``.

        Raises
        ------
        MetricInputError
            When the report has no such section.
        """
        for section in self.sections:
            if section.features == tuple(features):
                return section
        have = [list(s.features) for s in self.sections]
        raise MetricInputError(f"no section grouped by {list(features)}; the report has {have}")

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict, statistics included."""
        return {
            "sections": [s.to_dict() for s in self.sections],
            "inequality": {m: r.to_dict() for m, r in self.inequality.items()},
            "statistics": self.statistics.to_dict(),
            "options": self.options,
        }


def fairness_report(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    sample_weight: Any = None,
    pos_label: Any = 1,
    metrics: Sequence[str] = DEFAULT_METRICS,
    min_group_size: int | None = None,
    missing: MissingPolicy = "error",
    intersections: bool = True,
    privileged: Mapping[str, Any] | None = None,
    n_boot: int = 0,
    confidence: float = 0.95,
    stratified: bool = False,
    random_state: int | None = None,
) -> FairnessReport:
    """Return group metrics and disparities, undefined with a reason where they are.

    Parameters
    ----------
    y_true, y_pred : array-like
        Actual and predicted labels (binary).
    sensitive_features : array-like, DataFrame or dict
        One or several sensitive features.
    sample_weight : array-like, optional
        Row weights.
    pos_label : scalar, default 1
        The positive (favourable) label.
    metrics : sequence of str
        Group metrics to report; the disparities always use selection rate, TPR, FPR,
        FNR and precision.
    min_group_size : int, optional
        Groups with fewer rows are undefined and take no part in disparities.
    missing : {"error", "group"}, default "error"
        What a missing sensitive value does: raise, or form its own group.
    intersections : bool, default True
        With several features, add a section for their combinations.
    privileged : mapping of feature name to value, optional
        The privileged value per feature; adds AIF360's reference-group forms to every
        section whose features all have one.
    n_boot : int, default 0
        Bootstrap replicates for percentile intervals (0: none).
    confidence : float, default 0.95
        Coverage of the intervals.
    stratified : bool, default False
        Keep each combination's row count fixed in the bootstrap.
    random_state : int, optional
        Seed of the bootstrap.

    Returns
    -------
    FairnessReport

    Raises
    ------
    MetricInputError
        On bad input or unknown metric names.
    """
    stats = binary_confusion(
        y_true,
        y_pred,
        sensitive_features=sensitive_features,
        sample_weight=sample_weight,
        pos_label=pos_label,
        missing=missing,
    )
    return report_from_stats(
        stats,
        metrics=metrics,
        min_group_size=min_group_size,
        intersections=intersections,
        privileged=privileged,
        n_boot=n_boot,
        confidence=confidence,
        stratified=stratified,
        random_state=random_state,
    )


def report_from_stats(
    stats: BinaryConfusion,
    *,
    metrics: Sequence[str] = DEFAULT_METRICS,
    min_group_size: int | None = None,
    intersections: bool = True,
    privileged: Mapping[str, Any] | None = None,
    n_boot: int = 0,
    confidence: float = 0.95,
    stratified: bool = False,
    random_state: int | None = None,
) -> FairnessReport:
    """Return the report of :func:`fairness_report` from stored confusion statistics.

    Parameters are those of :func:`fairness_report` after the data arguments.

    Returns
    -------
    FairnessReport

    Raises
    ------
    MetricInputError
        On unknown metric names, or a privileged value for a feature the statistics lack.
    """
    for name in privileged or {}:
        if name not in stats.groups.names:
            raise MetricInputError(NEEDS_PRIVILEGED.format(name=name))
    names = list(dict.fromkeys([*metrics, *_DISPARITY_METRICS]))
    for name in names:
        spec_for(name)
    replicates = None
    if n_boot:
        rng = np.random.default_rng(random_state)
        replicates = resample(stats, n_boot=n_boot, stratified=stratified, rng=rng)
    features = stats.groups.names
    groupings: list[tuple[str, ...]] = [(f,) for f in features]
    if len(features) > 1 and intersections:
        groupings.append(tuple(features))
    sections = tuple(
        _section(
            stats,
            grouping,
            reported=list(metrics),
            computed=names,
            min_group_size=min_group_size,
            privileged=privileged or {},
            replicates=replicates,
            confidence=confidence,
            stratified=stratified,
        )
        for grouping in groupings or [features]
    )
    options = {
        "metrics": list(metrics),
        "min_group_size": min_group_size,
        "intersections": intersections,
        "privileged": dict(privileged or {}),
        "n_boot": n_boot,
        "confidence": confidence,
        "stratified": stratified,
        "random_state": random_state,
    }
    return FairnessReport(
        sections=sections, inequality=_inequality(stats), statistics=stats, options=options
    )


def _section(
    full: BinaryConfusion,
    features: tuple[str, ...],
    *,
    reported: list[str],
    computed: list[str],
    min_group_size: int | None,
    privileged: Mapping[str, Any],
    replicates: tuple[FloatArray, IntArray] | None,
    confidence: float,
    stratified: bool,
) -> FairnessSection:
    if features == full.groups.names:
        stats, position = full, np.arange(len(full.groups), dtype=np.intp)
    else:
        stats, position = full.marginal(features), full.groups.marginal(features)[1]
    rows = stats.n_rows
    included = rows >= (min_group_size or 0)
    values = {m: spec_for(m).compute(stats) for m in computed}
    overall = {m: spec_for(m).compute(stats.overall()) for m in computed}
    cells = None if replicates is None else regroup(*replicates, position, len(stats.groups))
    boot = None
    if cells is not None:
        boot = evaluate_replicates(
            stats,
            *cells,
            metrics=computed,
            confidence=confidence,
            stratified=stratified,
            min_group_size=min_group_size,
        )
    by_group = {
        m: tuple(
            _group_result(m, stats, values[m], g, min_group_size, boot)
            for g in range(len(stats.groups))
        )
        for m in reported
    }
    reference: dict[str, MetricResult] = {}
    if features and all(f in privileged for f in features):
        key = tuple(privileged[f] for f in features)
        reference = _reference(stats, key, cells, confidence)
    return FairnessSection(
        features=features,
        groups=stats.groups.keys,
        rows=tuple(int(r) for r in rows),
        by_group=by_group,
        overall={m: _overall_result(m, overall[m], boot) for m in reported},
        disparities=_disparities(stats, values, overall, included, boot),
        reference=reference,
    )


def _group_result(
    metric: str,
    stats: BinaryConfusion,
    computed: Computed,
    g: int,
    min_group_size: int | None,
    boot: BootstrapResult | None,
) -> MetricResult:
    key = stats.groups.keys[g]
    rows = int(stats.n_rows[g])
    if min_group_size is not None and rows < min_group_size:
        reason = SMALL_GROUP.format(n=rows, minimum=min_group_size)
        return MetricResult(metric=metric, value=None, reason=reason, group=key)
    out = result(metric, float(computed.value[g]), computed.reason(g), key)
    return _with(out, boot.group_intervals(metric)[g] if boot else None, boot)


def _overall_result(metric: str, computed: Computed, boot: BootstrapResult | None) -> MetricResult:
    out = result(metric, float(computed.value[0]), computed.reason(0))
    return _with(out, boot.overall_interval(metric) if boot else None, boot)


def _with(
    out: MetricResult, interval: Interval | None, boot: BootstrapResult | None
) -> MetricResult:
    if interval is None or boot is None:
        return out
    return out.with_interval(
        interval.bounds,
        confidence=boot.confidence,
        replicates=interval.replicates,
        skipped=interval.skipped,
    )


def _disparities(
    stats: BinaryConfusion,
    values: dict[str, Computed],
    overall: dict[str, Computed],
    included: NDArray[np.bool_],
    boot: BootstrapResult | None,
) -> dict[str, MetricResult]:
    out: dict[str, MetricResult] = {}
    for name, (metrics, _) in NAMED.items():
        for method in METHODS:
            label = name if method == "between_groups" else f"{name}_to_overall"
            value = strict_named(
                name,
                {m: values[m].value[included] for m in metrics},
                {m: overall[m].value[0] for m in metrics},
                method,
            )
            reason = _why(stats, metrics, method, values, overall, included)
            res = result(label, float(value), reason if np.isnan(value) else None)
            out[label] = _with(res, boot.named(name, method) if boot else None, boot)
    return out


def _why(
    stats: BinaryConfusion,
    metrics: tuple[str, ...],
    method: Method,
    values: dict[str, Computed],
    overall: dict[str, Computed],
    included: NDArray[np.bool_],
) -> str:
    """Explain an undefined disparity: too few groups, an undefined group, or 0 / 0."""
    if included.sum() < 2:
        return TOO_FEW_GROUPS.format(count=int(included.sum()), total=len(included))
    for metric in metrics:
        for g in np.flatnonzero(included):
            reason = values[metric].reason(int(g))
            if reason is not None:
                group = stats.groups.label(int(g))
                return GROUP_UNDEFINED.format(metric=metric, group=group, reason=reason)
        reason = overall[metric].reason(0)
        if method == "to_overall" and reason is not None:
            return GROUP_UNDEFINED.format(metric=metric, group="all rows", reason=reason)
    what = "the overall value" if method == "to_overall" else "the largest group value"
    return ZERO_DENOMINATOR.format(what=f"{what} of {' / '.join(metrics)}")


# AIF360's reference-group forms: label -> (group metric, signed difference or ratio).
_REFERENCE: dict[str, tuple[str, str]] = {
    "statistical_parity_difference": ("selection_rate", "difference"),
    "disparate_impact_ratio": ("selection_rate", "ratio"),
    "equal_opportunity_difference": ("recall", "difference"),
    "false_positive_rate_difference": ("false_positive_rate", "difference"),
    "false_positive_rate_ratio": ("false_positive_rate", "ratio"),
    "false_negative_rate_difference": ("false_negative_rate", "difference"),
    "false_negative_rate_ratio": ("false_negative_rate", "ratio"),
    "positive_predictive_value_difference": ("precision", "difference"),
    "positive_predictive_value_ratio": ("precision", "ratio"),
}
_SIDES = ("unprivileged rows", "privileged group")


def _reference_values(values: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    """Strict reference-group forms from group values (..., 2): (unprivileged, privileged)."""
    out: dict[str, FloatArray] = {}
    for label, (metric, op) in _REFERENCE.items():
        u, p = values[metric][..., 0], values[metric][..., 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[label] = u - p if op == "difference" else np.where(p > 0, u / p, np.nan)
    tpr, fpr = out["equal_opportunity_difference"], out["false_positive_rate_difference"]
    out["average_odds_difference"] = (tpr + fpr) / 2
    out["average_odds_error"] = (np.abs(tpr) + np.abs(fpr)) / 2
    return out


def _reference(
    stats: BinaryConfusion,
    key: GroupKey,
    cells: tuple[FloatArray, IntArray] | None,
    confidence: float,
) -> dict[str, MetricResult]:
    """AIF360's forms, unprivileged minus (or over) privileged, undefined with reasons."""
    labels = [*_REFERENCE, "average_odds_difference", "average_odds_error"]
    if key not in stats.groups.keys:
        reason = f"no rows in the privileged group {key}"
        return {n: MetricResult(metric=n, value=None, reason=reason) for n in labels}
    two = split_privileged(stats, key if len(key) > 1 else key[0])
    computed = {m: spec_for(m).compute(two) for m in _DISPARITY_METRICS}
    point = _reference_values({m: c.value for m, c in computed.items()})
    boot: dict[str, FloatArray] = {}
    if cells is not None:
        position = np.array([k == key for k in stats.groups.keys], dtype=np.intp)
        weight, count = regroup(*cells, position, 2)
        boot = _reference_values({m: _binary_values(m, weight, count) for m in _DISPARITY_METRICS})
    out = {}
    for label in labels:
        metrics = (
            ("recall", "false_positive_rate")
            if label.startswith("average_odds")
            else (_REFERENCE[label][0],)
        )
        why = _reference_why(metrics, computed) if np.isnan(point[label]) else None
        res = result(label, float(point[label]), why)
        if label in boot:
            interval = Interval.of(boot[label], confidence)
            res = res.with_interval(
                interval.bounds,
                confidence=confidence,
                replicates=interval.replicates,
                skipped=interval.skipped,
            )
        out[label] = res
    return out


def _binary_values(metric: str, weight: FloatArray, count: IntArray) -> FloatArray:
    formula = spec_for(metric).binary
    assert formula is not None  # the disparity metrics are all binary
    return formula(weight, count).value


def _reference_why(metrics: tuple[str, ...], computed: Mapping[str, Computed]) -> str:
    for metric in metrics:
        for side in (0, 1):
            reason = computed[metric].reason(side)
            if reason is not None:
                return f"{metric} is undefined for the {_SIDES[side]}: {reason}"
    return f"the privileged group's {metrics[0]} is 0"


def _inequality(stats: BinaryConfusion) -> dict[str, MetricResult]:
    """Generalized entropy (α = 2), Theil index and between-group entropy of all rows."""
    levels = benefit_levels(stats.weight.sum(axis=0))
    reason = "every row is a false negative, so the mean benefit is 0"
    out = {}
    for label, alpha in (("generalized_entropy_error", 2.0), ("theil_index", 1.0)):
        out[label] = result(label, entropy_of_levels(levels, alpha), reason)
    if len(stats.groups) > 1:
        label = "between_group_generalized_entropy_error"
        out[label] = result(label, between_group_entropy(stats.weight, 2.0), reason)
    return out
