"""ROC AUC and average precision per group, from exact scores or from a score histogram.

Both forms reduce to the same thing: thresholds sorted by group and then by descending
score, each with the weight of positives and negatives at exactly that score (the exact
form collapses tied scores; the histogram form takes each non-empty bin as one score). From
cumulative sums over those thresholds, ROC AUC is the trapezoid area under (FP, TP) and
average precision is scikit-learn's Σ (Rₙ − Rₙ₋₁) Pₙ, so ties count as scikit-learn counts
them.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from govml.metrics._confusion import FloatArray, weighted_sum
from govml.metrics._scores import ScoreHistogram, ScoreSamples


def ranking_metrics(
    stats: ScoreSamples | ScoreHistogram,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Return per group ROC AUC, average precision, positive weight and negative weight.

    AUC and AP are NaN where a group has no positive (AP, AUC) or no negative (AUC) weight.
    """
    if isinstance(stats, ScoreSamples):
        group, pos_w, neg_w = _exact_thresholds(stats)
    else:
        group, pos_w, neg_w = _binned_thresholds(stats)
    return _ranking_from_thresholds(group, pos_w, neg_w, len(stats.groups))


def _exact_thresholds(stats: ScoreSamples) -> tuple[NDArray[np.intp], FloatArray, FloatArray]:
    """Collapse rows into (group, score) thresholds, by group then descending score."""
    order = np.lexsort((-stats.scores, stats.codes))
    codes, scores = stats.codes[order], stats.scores[order]
    new = np.empty(len(order), dtype=np.bool_)
    new[:1] = True
    new[1:] = (codes[1:] != codes[:-1]) | (scores[1:] != scores[:-1])
    threshold = np.cumsum(new) - 1
    n_thresholds = int(threshold[-1]) + 1 if len(threshold) else 0
    weight, positive = stats.weight[order], stats.positive[order]
    pos_w = weighted_sum(threshold, weight * positive, n_thresholds)
    neg_w = weighted_sum(threshold, weight * ~positive, n_thresholds)
    return codes[new], pos_w, neg_w


def _binned_thresholds(stats: ScoreHistogram) -> tuple[NDArray[np.intp], FloatArray, FloatArray]:
    """Each non-empty bin is one threshold, by group then descending bin."""
    neg = stats.weight[:, 0, ::-1]
    pos = stats.weight[:, 1, ::-1]
    occupied = stats.count[:, :, ::-1].sum(axis=1) > 0
    group = np.broadcast_to(np.arange(len(stats.groups))[:, None], occupied.shape)
    return group[occupied].astype(np.intp), pos[occupied], neg[occupied]


def _ranking_from_thresholds(
    group: NDArray[np.intp], pos_w: FloatArray, neg_w: FloatArray, n_groups: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    # Cumulative sums restart at each group; a loop over the few groups (each step
    # vectorised) keeps every cumulative sum as exact as scikit-learn's.
    tps, fps = np.empty_like(pos_w), np.empty_like(neg_w)
    starts = np.searchsorted(group, np.arange(n_groups + 1))
    for g in range(n_groups):
        lo, hi = starts[g], starts[g + 1]
        tps[lo:hi] = np.cumsum(pos_w[lo:hi])
        fps[lo:hi] = np.cumsum(neg_w[lo:hi])
    first = np.zeros(len(group), dtype=np.bool_)
    first[starts[:-1][starts[:-1] < len(group)]] = True
    prev_tps = np.where(first, 0.0, np.roll(tps, 1))
    prev_fps = np.where(first, 0.0, np.roll(fps, 1))
    positives = weighted_sum(group, pos_w, n_groups)
    negatives = weighted_sum(group, neg_w, n_groups)
    area = weighted_sum(group, (fps - prev_fps) * (tps + prev_tps) / 2, n_groups)
    predicted = tps + fps
    precision = np.divide(tps, predicted, out=np.zeros_like(tps), where=predicted > 0)
    ap_sum = weighted_sum(group, (tps - prev_tps) * precision, n_groups)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = np.where((positives > 0) & (negatives > 0), area / (positives * negatives), np.nan)
        ap = np.where(positives > 0, ap_sum / positives, np.nan)
    return auc, ap, positives, negatives
