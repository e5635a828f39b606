"""Two-sample drift tests on counts, plus the registry of test names and thresholds.

Every function here takes what both the exact path (raw values) and the statistics path
(profile and current statistics) can provide: counts on common bins, or a weighted sample
(distinct values and their counts). The definitions are those of Evidently's stattests and
of scipy, so that the same inputs give the same numbers:

* PSI ``sum((r - c) * ln(r / c))`` over bin shares, each empty share replaced by 0.0001,
  or by the smallest non-zero share / 1e6 when that is at most 0.0001 (each distribution
  on its own);
* KL divergence ``scipy.stats.entropy(r, c)`` on the same floored shares (scipy
  renormalises them);
* Jensen–Shannon distance ``scipy.spatial.distance.jensenshannon(r, c)`` (natural log, the
  square root of the divergence) on the raw shares;
* Hellinger distance ``sqrt(1 - sum(sqrt(r * c)))`` on the raw shares;
* chi-square goodness of fit of the current counts against the reference shares scaled to
  the current size (``scipy.stats.chisquare(c, r * n_cur / n_ref)``);
* two-proportion z-test with a pooled proportion, two-sided, on the share of values other
  than the smallest one (Evidently's convention, which also covers more than two values);
* two-sample Kolmogorov–Smirnov (``scipy.stats.ks_2samp``, two-sided, method "auto");
* Wasserstein-1 (``scipy.stats.wasserstein_distance``) divided by the reference's
  population standard deviation, floored at 0.001.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, get_args

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    pass

DriftTestName = Literal[
    "chisquare", "hellinger", "jensenshannon", "kl_div", "ks", "psi", "wasserstein", "z"
]
"""Names of the drift tests; the same names as Evidently's stattests."""

DRIFT_TESTS: tuple[DriftTestName, ...] = get_args(DriftTestName)

ColumnKind = Literal["numeric", "categorical"]
ScoreKind = Literal["p_value", "distance"]

# Empty-bin floor of PSI and KL (Evidently's get_binned_data).
_EMPTY_SHARE = 1e-4
_EMPTY_SHARE_DIVISOR = 1e6
# Wasserstein is divided by max(std(reference), this).
STD_FLOOR = 0.001
# ks_2samp's method="auto" computes the exact p-value up to this many values per sample.
KS_EXACT_MAX_N = 10_000


@dataclass(frozen=True, kw_only=True)
class DriftTestSpec:
    """What a test returns and when its result counts as drift.

    Attributes
    ----------
    name : str
        The test name.
    score : {"p_value", "distance"}
        The number compared with the threshold.
    default_threshold : float
        Evidently's default threshold for the test.
    kinds : tuple of {"numeric", "categorical"}
        Column kinds the test applies to.
    inclusive : bool
        For p-values: drift when ``p <= threshold`` (True) or ``p < threshold`` (False).
        Distances always drift when ``distance >= threshold``.
    """

    name: DriftTestName
    score: ScoreKind
    default_threshold: float
    kinds: tuple[ColumnKind, ...] = ("numeric", "categorical")
    inclusive: bool = True

    def drifted(self, score: float, threshold: float) -> bool:
        """Return True when ``score`` means drift at ``threshold``."""
        if self.score == "distance":
            return score >= threshold
        return score <= threshold if self.inclusive else score < threshold


# Thresholds and comparisons as Evidently's stattests define them (KS drifts at
# p <= 0.05, chi-square and z at p < 0.05).
SPECS: dict[DriftTestName, DriftTestSpec] = {
    spec.name: spec
    for spec in (
        DriftTestSpec(name="ks", score="p_value", default_threshold=0.05, kinds=("numeric",)),
        DriftTestSpec(name="chisquare", score="p_value", default_threshold=0.05, inclusive=False),
        DriftTestSpec(name="z", score="p_value", default_threshold=0.05, inclusive=False),
        DriftTestSpec(name="psi", score="distance", default_threshold=0.1),
        DriftTestSpec(name="jensenshannon", score="distance", default_threshold=0.1),
        DriftTestSpec(name="kl_div", score="distance", default_threshold=0.1),
        DriftTestSpec(name="hellinger", score="distance", default_threshold=0.1),
        DriftTestSpec(
            name="wasserstein", score="distance", default_threshold=0.1, kinds=("numeric",)
        ),
    )
}

Counts = NDArray[np.int64]
Floats = NDArray[np.float64]


def default_test(kind: ColumnKind, reference_size: int, n_unique: int | None) -> DriftTestName:
    """Return Evidently's default test for a column.

    Parameters
    ----------
    kind : {"numeric", "categorical"}
        Column kind.
    reference_size : int
        Number of usable reference values (nulls and infinities dropped).
    n_unique : int or None
        Number of distinct values over reference and current together; None when it is
        only known to be large (more than 5).

    Returns
    -------
    str
        Reference of at most 1,000 values: ``ks`` for numeric columns with more than 5
        distinct values, otherwise ``chisquare`` above 2 distinct values and ``z`` at 2 or
        fewer. Larger references: ``wasserstein`` for numeric columns with more than 5
        distinct values, ``jensenshannon`` otherwise.
    """
    many = n_unique is None or n_unique > 5
    if reference_size <= 1000:
        if kind == "numeric" and many:
            return "ks"
        return "chisquare" if n_unique is None or n_unique > 2 else "z"
    if kind == "numeric" and many:
        return "wasserstein"
    return "jensenshannon"


def sturges_edges(low: float, high: float, size: int, *, integer: bool = False) -> Floats:
    """Return ``numpy.histogram_bin_edges(x, bins="sturges")`` from min, max and size of x.

    A profile knows the minimum, maximum and count of a column but not its values, which
    is all the Sturges rule needs: ``ceil(log2(size)) + 1`` equal-width bins. For integer
    data numpy widens bins narrower than 1 to 1 (``integer=True``).
    """
    if low == high:
        return np.linspace(low - 0.5, high + 0.5, 2)
    width = (high - low) / (np.log2(size) + 1.0)
    if integer and width < 1:
        width = 1.0
    return np.linspace(low, high, int(np.ceil((high - low) / width)) + 1)


def sturges_bin_count(size: int) -> int:
    """Return the number of bins of the Sturges rule for ``size`` values."""
    return math.ceil(math.log2(size) + 1.0) if size > 0 else 1


def floored_shares(counts: Counts) -> Floats:
    """Return bin shares with each empty bin set to Evidently's floor (see module docs)."""
    shares = counts / counts.sum()
    smallest = float(shares[shares > 0].min())
    floor = smallest / _EMPTY_SHARE_DIVISOR if smallest <= _EMPTY_SHARE else _EMPTY_SHARE
    return np.where(shares == 0, floor, shares)


def psi(reference: Counts, current: Counts) -> float:
    """Return the population stability index of two histograms on the same bins."""
    r, c = floored_shares(reference), floored_shares(current)
    return float(np.sum((r - c) * np.log(r / c)))


def kl_divergence(reference: Counts, current: Counts) -> float:
    """Return KL(reference || current) in nats, on floored shares."""
    from scipy import stats

    return float(stats.entropy(floored_shares(reference), floored_shares(current)))


def jensen_shannon(reference: Counts, current: Counts) -> float:
    """Return the Jensen–Shannon distance (natural log) of two histograms on the same bins."""
    from scipy.spatial import distance

    return float(distance.jensenshannon(reference / reference.sum(), current / current.sum()))


def hellinger(reference: Counts, current: Counts) -> float:
    """Return the Hellinger distance of two histograms on the same bins, in [0, 1]."""
    r, c = reference / reference.sum(), current / current.sum()
    # Rounding can push the Bhattacharyya coefficient a hair above 1.
    return math.sqrt(1.0 - min(max(float(np.sum(np.sqrt(r * c))), 0.0), 1.0))


def chi_square(reference: Counts, current: Counts) -> tuple[float, float]:
    """Run a chi-square test of the current counts against the reference shares.

    Bins empty on both sides carry no information and are left out (they would only
    add degrees of freedom). A bin with current values but no reference values makes
    the statistic infinite and the p-value 0. A single remaining bin means both samples
    hold the same one value: statistic 0, p-value 1.

    Returns
    -------
    statistic, p_value : float
    """
    from scipy import stats

    used = (reference > 0) | (current > 0)
    reference, current = reference[used], current[used]
    if reference.size < 2:
        return 0.0, 1.0
    expected = reference * (current.sum() / reference.sum())
    if np.any(expected == 0):
        return math.inf, 0.0
    statistic = float(np.sum((current - expected) ** 2 / expected))
    return statistic, float(stats.chi2.sf(statistic, reference.size - 1))


def proportions_z(
    reference_hits: int, reference_size: int, current_hits: int, current_size: int
) -> tuple[float, float]:
    """Run a two-sided two-proportion z-test with a pooled proportion.

    A pooled proportion of 0 or 1 means both samples hold only one and the same value:
    statistic 0, p-value 1 (the z statistic itself would be 0 / 0).

    Returns
    -------
    statistic, p_value : float
    """
    from scipy import stats

    p1 = reference_hits / reference_size
    p2 = current_hits / current_size
    pooled = (reference_hits + current_hits) / (reference_size + current_size)
    if pooled in (0.0, 1.0):
        return 0.0, 1.0
    z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / reference_size + 1 / current_size))
    return z, float(2 * stats.norm.sf(abs(z)))


def ks_weighted(
    ref_values: Floats, ref_counts: Counts, cur_values: Floats, cur_counts: Counts
) -> tuple[float, float]:
    """Run a two-sample KS test on two samples given as sorted distinct values and counts.

    Gives what ``scipy.stats.ks_2samp`` gives on the expanded samples: up to
    :data:`KS_EXACT_MAX_N` values per sample it is that call (the exact p-value needs the
    sample sizes only, but scipy keeps its algorithm private); beyond, the statistic is the
    largest CDF difference over the common support and the p-value Smirnov's asymptotic
    one, ``scipy.stats.kstwo.sf(D, round(n m / (n + m)))``, as ks_2samp computes it.

    Returns
    -------
    statistic, p_value : float
    """
    from scipy import stats

    n, m = int(ref_counts.sum()), int(cur_counts.sum())
    if max(n, m) <= KS_EXACT_MAX_N:
        reference, current = np.repeat(ref_values, ref_counts), np.repeat(cur_values, cur_counts)
        result = stats.ks_2samp(reference, current)
        return float(result.statistic), float(result.pvalue)
    support = np.union1d(ref_values, cur_values)
    ref_cdf = _cdf(ref_values, ref_counts, support) / n
    cur_cdf = _cdf(cur_values, cur_counts, support) / m
    statistic = float(np.max(np.abs(ref_cdf - cur_cdf)))
    large, small = max(n, m), min(n, m)
    effective = np.round(large * small / (large + small))
    return statistic, float(np.clip(stats.kstwo.sf(statistic, effective), 0.0, 1.0))


def _cdf(values: Floats, counts: Counts, at: Floats) -> Counts:
    """Return the number of values <= each point of ``at``."""
    cumulative = np.concatenate([[0], np.cumsum(counts)])
    return cumulative[np.searchsorted(values, at, side="right")]


def wasserstein_norm(
    reference: Floats,
    current: Floats,
    *,
    reference_std: float,
    reference_weights: Counts | None = None,
    current_weights: Counts | None = None,
) -> float:
    """Return the Wasserstein-1 distance divided by ``max(reference_std, 0.001)``."""
    from scipy import stats

    value = stats.wasserstein_distance(reference, current, reference_weights, current_weights)
    return float(value) / max(reference_std, STD_FLOOR)
