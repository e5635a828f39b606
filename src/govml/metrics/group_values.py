"""Disparities of any per-group metric, for regression, multiclass and calibration fairness.

Each of those starts from its own mergeable statistics (regression moments, multiclass
confusion counts, calibration bins), computes one value per group of some base metrics
(and, for bootstrap intervals, one per replicate and group), and hands them here as a
`GroupTable`. `fairness_section` turns a table into the same `FairnessSection` the binary
report gives, so that the evaluation's checks, evidence and messages are the same for
every kind of model.

Aggregates follow Fairlearn's definitions (`govml.metrics._aggregate`), in govml's strict
reading: a group without a value makes the aggregate undefined, with the reason. A
``worst`` aggregate is the largest value over the judged groups (Fairlearn's
``bounded_group_loss`` constraint asks that every group's loss stay below a bound: it holds
exactly when the largest one does).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from govml.metrics._aggregate import difference, group_max, ratio
from govml.metrics._confusion import FloatArray, IntArray
from govml.metrics.bootstrap import Interval
from govml.metrics.report import FairnessSection
from govml.metrics.results import (
    GROUP_UNDEFINED,
    SMALL_GROUP,
    TOO_FEW_GROUPS,
    ZERO_DENOMINATOR,
    MetricResult,
    result,
)

Kind = Literal["difference", "ratio", "worst"]
UNDEFINED = "no rows with weight"


@dataclass(frozen=True)
class Aggregate:
    """A named aggregate of one base metric over the groups.

    ``difference`` and ``ratio`` give ``name`` (between groups) and ``name_to_overall``;
    ``worst`` gives ``name``, the largest group value.
    """

    name: str
    base: str
    kind: Kind


@dataclass(frozen=True, kw_only=True)
class GroupTable:
    """Values of base metrics per group of one grouping, and optionally their replicates.

    Attributes
    ----------
    features : tuple of str
        The sensitive features of the grouping.
    groups : tuple of tuple
        The groups' values, one tuple per group.
    rows : ndarray of int, shape (G,)
        Rows per group (``min_group_size`` reads them).
    values : dict of str to ndarray, shape (G,)
        Each base metric per group, NaN where undefined.
    overall : dict of str to float
        Each base metric over all rows, NaN where undefined.
    why : callable
        ``why(metric, g)`` says why a value is undefined (``g`` None for all rows).
    replicates, replicates_overall : dict or None
        Bootstrap values (n_boot, G) and (n_boot,), NaN where undefined in a replicate.
    confidence : float
        The intervals' coverage.
    """

    features: tuple[str, ...]
    groups: tuple[tuple[Any, ...], ...]
    rows: IntArray
    values: Mapping[str, FloatArray]
    overall: Mapping[str, float]
    why: Callable[[str, int | None], str]
    replicates: Mapping[str, FloatArray] | None = None
    replicates_overall: Mapping[str, FloatArray] | None = None
    confidence: float = 0.95

    def label(self, g: int) -> str:
        """Return ``feature=value, ...`` for group ``g``."""
        return ", ".join(f"{n}={v}" for n, v in zip(self.features, self.groups[g], strict=True))


def aggregate_values(
    values: FloatArray, overall: FloatArray, kind: Kind, method: str
) -> FloatArray:
    """Return an aggregate over the last (group) axis, in the strict reading."""
    if kind == "worst":
        return group_max(values, skipna=False)
    function = difference if kind == "difference" else ratio
    return function(values, overall, method, skipna=False)  # type: ignore[arg-type]


def fairness_section(
    table: GroupTable,
    aggregates: Sequence[Aggregate],
    *,
    min_group_size: int | None,
    reported: Sequence[str] | None = None,
) -> FairnessSection:
    """Return the per-group results and the aggregates of ``table`` as a `FairnessSection`.

    Groups with fewer rows than ``min_group_size`` are reported without a value and take no
    part in the aggregates. ``reported`` lists the base metrics shown per group (all by
    default).
    """
    included = table.rows >= (min_group_size or 0)
    by_group: dict[str, tuple[MetricResult, ...]] = {}
    overall: dict[str, MetricResult] = {}
    for metric in reported if reported is not None else list(table.values):
        by_group[metric] = tuple(
            _group(table, metric, g, min_group_size) for g in range(len(table.groups))
        )
        overall[metric] = with_draws(
            result(metric, table.overall[metric], table.why(metric, None)),
            None if table.replicates_overall is None else table.replicates_overall[metric],
            table.confidence,
        )
    disparities: dict[str, MetricResult] = {}
    for spec in aggregates:
        methods = ("between_groups",) if spec.kind == "worst" else ("between_groups", "to_overall")
        for method in methods:
            label = spec.name if method == "between_groups" else f"{spec.name}_to_overall"
            disparities[label] = _aggregate(table, spec, method, included, label)
    return FairnessSection(
        features=table.features,
        groups=table.groups,
        rows=tuple(int(r) for r in table.rows),
        by_group=by_group,
        overall=overall,
        disparities=disparities,
    )


def _group(table: GroupTable, metric: str, g: int, min_group_size: int | None) -> MetricResult:
    key = table.groups[g]
    rows = int(table.rows[g])
    if min_group_size is not None and rows < min_group_size:
        reason = SMALL_GROUP.format(n=rows, minimum=min_group_size)
        return MetricResult(metric=metric, value=None, reason=reason, group=key)
    out = result(metric, float(table.values[metric][g]), table.why(metric, g), key)
    draws = None if table.replicates is None else table.replicates[metric][:, g]
    return with_draws(out, draws, table.confidence)


def _aggregate(
    table: GroupTable,
    spec: Aggregate,
    method: str,
    included: NDArray[np.bool_],
    label: str,
) -> MetricResult:
    values = table.values[spec.base][included]
    value = float(aggregate_values(values, np.asarray(table.overall[spec.base]), spec.kind, method))
    minimum = 1 if spec.kind == "worst" else 2
    reason = None
    if int(included.sum()) < minimum:
        value = float("nan")
        reason = TOO_FEW_GROUPS.format(count=int(included.sum()), total=len(included))
        if spec.kind == "worst":
            reason = "no group is large enough to judge"
    elif np.isnan(value):
        reason = _why(table, spec, method, included)
    out = result(label, value, reason)
    if table.replicates is None or table.replicates_overall is None or out.value is None:
        return out
    draws = aggregate_values(
        table.replicates[spec.base][:, included],
        table.replicates_overall[spec.base],
        spec.kind,
        method,
    )
    return with_draws(out, draws, table.confidence)


def _why(table: GroupTable, spec: Aggregate, method: str, included: NDArray[np.bool_]) -> str:
    for g in np.flatnonzero(included):
        if np.isnan(table.values[spec.base][g]):
            reason = table.why(spec.base, int(g))
            return GROUP_UNDEFINED.format(
                metric=spec.base, group=table.label(int(g)), reason=reason
            )
    if method == "to_overall" and np.isnan(table.overall[spec.base]):
        reason = table.why(spec.base, None)
        return GROUP_UNDEFINED.format(metric=spec.base, group="all rows", reason=reason)
    what = "the overall value" if method == "to_overall" else "the largest group value"
    return ZERO_DENOMINATOR.format(what=f"{what} of {spec.base}")


def with_draws(out: MetricResult, draws: FloatArray | None, confidence: float) -> MetricResult:
    """Return ``out`` with the percentile interval of bootstrap ``draws`` (NaN skipped)."""
    if draws is None or out.value is None:
        return out
    found = Interval.of(np.asarray(draws, dtype=np.float64), confidence)
    return out.with_interval(
        found.bounds, confidence=confidence, replicates=found.replicates, skipped=found.skipped
    )
