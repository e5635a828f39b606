"""Bootstrap confidence intervals computed on confusion statistics, not on rows.

What is resampled: a replicate draws N rows with replacement from the N rows. Only the
number of rows drawn from each cell (group × actual label × predicted label) matters to
the metrics, and that vector is multinomial with the cells' shares of rows; so a replicate
is one multinomial draw over the cells, whatever N is. With ``stratified=True`` each group
draws its own number of rows (a multinomial per group over its cells), so group sizes stay
fixed.

With sample weights, each drawn row carries the mean weight of its cell (the cell's weight
sum over its row count). This is exact for unweighted data and for weights that are
constant within a cell; the spread of weights inside a cell is not resampled.

Intervals are percentile intervals (numpy's default linear quantiles). A replicate in which
a metric is undefined (a group drew no positives, say) is left out of that metric's
interval, and the number left out is reported. Group values, overall values and every
difference and ratio are computed in the strict reading (undefined group -> undefined
aggregate), vectorised over all replicates at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from govml.metrics._aggregate import NAMED, Agg, Method, difference, ratio, strict_named
from govml.metrics._confusion import BinaryConfusion, FloatArray, IntArray, MulticlassConfusion
from govml.metrics._groups import Groups
from govml.metrics._registry import MetricSpec, spec_for
from govml.metrics._validate import MetricInputError

NOT_CONFUSION = "the bootstrap resamples confusion statistics; {kind} statistics are not supported"
BAD_CONFIDENCE = "confidence must be between 0 and 1 (exclusive), got {value!r}"
BAD_N_BOOT = "n_boot must be a positive integer, got {value!r}"
DEFAULT_METRICS = ("selection_rate", "true_positive_rate", "false_positive_rate")


@dataclass(frozen=True)
class Interval:
    """A percentile interval and how many replicates were left out as undefined."""

    low: float | None
    high: float | None
    skipped: int
    replicates: int

    @classmethod
    def of(cls, draws: FloatArray, confidence: float) -> Interval:
        """Return the interval of ``draws`` (NaN draws are skipped)."""
        defined = draws[~np.isnan(draws)]
        skipped = len(draws) - len(defined)
        if len(defined) == 0:
            return cls(None, None, skipped, len(draws))
        tail = (1 - confidence) / 2
        low, high = np.quantile(defined, [tail, 1 - tail])
        return cls(float(low), float(high), skipped, len(draws))

    @property
    def bounds(self) -> tuple[float, float] | None:
        """``(low, high)``, or None when every replicate was undefined."""
        if self.low is None or self.high is None:
            return None
        return (self.low, self.high)


@dataclass(frozen=True)
class BootstrapResult:
    """Replicated metric values; intervals are computed on demand.

    ``values[m]`` has shape (n_boot, n_groups) and ``overall[m]`` (n_boot,), NaN where the
    metric is undefined in a replicate. ``included`` marks the groups that take part in
    differences and ratios (those meeting ``min_group_size``).
    """

    groups: Groups
    confidence: float
    stratified: bool
    values: dict[str, FloatArray]
    overall: dict[str, FloatArray]
    included: NDArray[np.bool_]

    @property
    def n_boot(self) -> int:
        """The number of replicates."""
        return len(next(iter(self.overall.values())))

    def group_intervals(self, metric: str | MetricSpec) -> list[Interval]:
        """Return one interval per group for ``metric``."""
        draws = self._metric(metric, self.values)
        return [Interval.of(draws[:, g], self.confidence) for g in range(len(self.groups))]

    def overall_interval(self, metric: str | MetricSpec) -> Interval:
        """Return the interval of ``metric`` over all rows."""
        return Interval.of(self._metric(metric, self.overall), self.confidence)

    def difference(self, metric: str | MetricSpec, method: Method = "between_groups") -> Interval:
        """Return the interval of the difference across groups of ``metric``."""
        values = self._metric(metric, self.values)[:, self.included]
        overall = self._metric(metric, self.overall)
        return Interval.of(difference(values, overall, method, skipna=False), self.confidence)

    def ratio(self, metric: str | MetricSpec, method: Method = "between_groups") -> Interval:
        """Return the interval of the ratio across groups of ``metric``."""
        values = self._metric(metric, self.values)[:, self.included]
        overall = self._metric(metric, self.overall)
        return Interval.of(ratio(values, overall, method, skipna=False), self.confidence)

    def named(
        self, name: str, method: Method = "between_groups", agg: Agg = "worst_case"
    ) -> Interval:
        """Return the interval of a named fairness metric (``equalized_odds_difference``, ...).

        Raises
        ------
        MetricInputError
            When the metric is unknown or its group metrics were not replicated.
        """
        if name not in NAMED:
            raise MetricInputError(f"unknown fairness metric {name!r}")
        needed = NAMED[name][0]
        values = {m: self._metric(m, self.values)[:, self.included] for m in needed}
        overall = {m: self._metric(m, self.overall) for m in needed}
        return Interval.of(strict_named(name, values, overall, method, agg), self.confidence)

    def _metric(self, metric: str | MetricSpec, table: dict[str, FloatArray]) -> FloatArray:
        canonical = spec_for(metric).name
        if canonical not in table:
            raise MetricInputError(
                f"{canonical} was not bootstrapped; pass it in metrics= (have {sorted(table)})"
            )
        return table[canonical]


def resample(
    stats: BinaryConfusion | MulticlassConfusion,
    *,
    n_boot: int,
    stratified: bool,
    rng: np.random.Generator,
) -> tuple[FloatArray, IntArray]:
    """Return replicated cell weights and row counts, shape (n_boot, *stats.count.shape).

    Raises
    ------
    MetricInputError
        When ``n_boot`` is not a positive integer.
    """
    if not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise MetricInputError(BAD_N_BOOT.format(value=n_boot))
    counts = stats.count.reshape(len(stats.groups), -1)
    if stratified:
        rows = counts.sum(axis=1)
        shares = counts / np.maximum(rows, 1)[:, None]
        draws = rng.multinomial(rows, shares, size=(n_boot, len(rows)))
    else:
        total = int(counts.sum())
        draws = rng.multinomial(total, counts.ravel() / total, size=n_boot)
    draws = draws.reshape(n_boot, *stats.count.shape).astype(np.int64)
    mean_weight = np.divide(
        stats.weight, stats.count, out=np.zeros_like(stats.weight), where=stats.count > 0
    )
    return np.asarray(draws * mean_weight, dtype=np.float64), draws


def bootstrap(
    stats: BinaryConfusion | MulticlassConfusion,
    *,
    metrics: Sequence[str | MetricSpec] = DEFAULT_METRICS,
    n_boot: int = 1000,
    confidence: float = 0.95,
    stratified: bool = False,
    random_state: int | np.random.Generator | None = None,
    min_group_size: int | None = None,
) -> BootstrapResult:
    """Replicate group metrics by multinomial resampling of the confusion cells.

    Parameters
    ----------
    stats : BinaryConfusion or MulticlassConfusion
        The statistics of the sample.
    metrics : sequence of str or MetricSpec
        Group metrics to replicate (named aggregates such as ``equalized_odds_difference``
        need their group metrics here: TPR and FPR); a spec such as ``expected_cost``'s is
        replicated under its name.
    n_boot : int, default 1000
        Number of replicates.
    confidence : float, default 0.95
        Coverage of the percentile intervals.
    stratified : bool, default False
        Keep each group's row count fixed (one multinomial per group).
    random_state : int, numpy Generator or None
        Seed for reproducible intervals.
    min_group_size : int, optional
        Groups with fewer rows in the sample take no part in differences and ratios.

    Returns
    -------
    BootstrapResult

    Raises
    ------
    MetricInputError
        For other statistics, unknown metrics, or bad ``n_boot`` / ``confidence``.
    """
    if not isinstance(stats, BinaryConfusion | MulticlassConfusion):
        raise MetricInputError(NOT_CONFUSION.format(kind=type(stats).__name__))
    rng = np.random.default_rng(random_state)
    weight, count = resample(stats, n_boot=n_boot, stratified=stratified, rng=rng)
    return evaluate_replicates(
        stats,
        weight,
        count,
        metrics=metrics,
        confidence=confidence,
        stratified=stratified,
        min_group_size=min_group_size,
    )


def regroup(
    weight: FloatArray, count: IntArray, position: NDArray[np.intp], n_groups: int
) -> tuple[FloatArray, IntArray]:
    """Add replicated cells (n_boot, G, ...) into ``n_groups`` groups at ``position``.

    A replicate of the intersections is, summed this way, a replicate of any coarser
    grouping of the same rows.
    """
    onehot = np.zeros((len(position), n_groups))
    onehot[np.arange(len(position)), position] = 1.0
    new_weight = np.einsum("bg...,gh->bh...", weight, onehot)
    new_count = np.einsum("bg...,gh->bh...", count, onehot.astype(np.int64))
    return new_weight, new_count


def evaluate_replicates(
    stats: BinaryConfusion | MulticlassConfusion,
    weight: FloatArray,
    count: IntArray,
    *,
    metrics: Sequence[str | MetricSpec],
    confidence: float,
    stratified: bool,
    min_group_size: int | None,
) -> BootstrapResult:
    """Compute the group metrics of replicated cells of ``stats``' groups.

    Raises
    ------
    MetricInputError
        For unknown metrics, metrics these statistics cannot give, or a bad confidence.
    """
    if not 0 < confidence < 1:
        raise MetricInputError(BAD_CONFIDENCE.format(value=confidence))
    overall_weight, overall_count = weight.sum(axis=1), count.sum(axis=1)
    values: dict[str, FloatArray] = {}
    overall: dict[str, FloatArray] = {}
    for spec in (spec_for(m) for m in metrics):
        formula = spec.binary if isinstance(stats, BinaryConfusion) else spec.multiclass
        if formula is None:
            raise MetricInputError(f"{spec.name} cannot be computed from {stats.kind} statistics")
        values[spec.name] = formula(weight, count).value
        overall[spec.name] = formula(overall_weight, overall_count).value
    included = (
        np.ones(len(stats.groups), dtype=np.bool_)
        if min_group_size is None
        else stats.n_rows >= min_group_size
    )
    return BootstrapResult(
        groups=stats.groups,
        confidence=confidence,
        stratified=stratified,
        values=values,
        overall=overall,
        included=included,
    )
