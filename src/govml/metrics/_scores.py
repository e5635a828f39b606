"""Per-group score statistics for ROC AUC, average precision, log loss and Brier score.

Two forms:

- :class:`ScoreSamples` keeps every row's score, label, weight and group. Metrics from it
  are exact (scikit-learn's definitions, ties included). It merges by concatenation and
  round-trips through JSON, but it is row-level data: use it on one machine.
- :class:`ScoreHistogram` keeps, per group and actual label, the weight of the scores that
  fall in each bin of fixed edges (10,000 equal bins on [0, 1] by default), plus the exact
  sums that log loss and the Brier score need. It is small and adds up across batches.

The histogram treats scores in the same bin as tied, so its ROC AUC and average precision
are *exactly* those of the scores replaced by their bin number. For ROC AUC the difference
to the exact value is at most ``½ Σ_b P_b N_b / (P N)`` (the share of positive-negative
pairs that share a bin, which the exact AUC may order either way); :meth:`roc_auc_bound`
returns it per group. Average precision has no such closed bound; with 10,000 bins it moved
by less than 1e-3 on the test data. Log loss and Brier score from the histogram are exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from govml.metrics._confusion import (
    FloatArray,
    IntArray,
    check_dict_kind,
    check_kind,
    check_pos_label,
    group_codes,
    row_count,
    scatter_add,
    weighted_sum,
)
from govml.metrics._groups import Groups, MissingPolicy
from govml.metrics._validate import (
    MetricInputError,
    as_1d,
    as_float,
    as_weights,
    check_lengths,
    positive_indicator,
)

DEFAULT_BINS = 10_000
SCORE_OUT_OF_RANGE = (
    "{count} score(s) fall outside the histogram range [{low}, {high}] (e.g. {example})"
)
EDGES_DIFFER = "cannot merge score histograms with different bin edges"
BAD_EDGES = "bin edges must be at least two finite, strictly increasing numbers"


@dataclass(frozen=True, kw_only=True, eq=False)
class ScoreSamples:
    """Row-level scores for exact ranking metrics; see the module docstring."""

    groups: Groups
    pos_label: Any
    codes: NDArray[np.intp]
    scores: FloatArray
    positive: NDArray[np.bool_]
    weight: FloatArray

    kind = "score_samples"

    def __post_init__(self) -> None:
        n = len(self.scores)
        if not (len(self.codes) == len(self.positive) == len(self.weight) == n):
            raise MetricInputError(
                f"{self.kind}: codes, scores, labels and weights differ in length"
            )
        if n and (self.codes.min() < 0 or self.codes.max() >= len(self.groups)):
            raise MetricInputError(f"{self.kind}: group codes out of range")

    @property
    def n_rows(self) -> IntArray:
        """Rows per group."""
        return row_count(self.codes, len(self.groups))

    @property
    def is_probability(self) -> bool:
        """Whether every score lies in [0, 1] (log loss and Brier need probabilities)."""
        return bool(np.all((self.scores >= 0) & (self.scores <= 1)))

    def overall(self) -> ScoreSamples:
        """Return the same rows as one group."""
        return self._regroup(Groups.single(), np.zeros(len(self.groups), dtype=np.intp))

    def marginal(self, names: list[str] | tuple[str, ...]) -> ScoreSamples:
        """Return the same rows grouped by a subset of the sensitive features."""
        return self._regroup(*self.groups.marginal(names))

    def _regroup(self, groups: Groups, position: NDArray[np.intp]) -> ScoreSamples:
        return ScoreSamples(
            groups=groups,
            pos_label=self.pos_label,
            codes=position[self.codes],
            scores=self.scores,
            positive=self.positive,
            weight=self.weight,
        )

    def merge(self, other: ScoreSamples) -> ScoreSamples:
        """Return the rows of both batches (groups aligned by value).

        Raises
        ------
        MetricInputError
            When the positive labels or the sensitive features differ.
        """
        check_kind(other, ScoreSamples)
        check_pos_label(self.pos_label, other.pos_label)
        groups, ia, ib = self.groups.union(other.groups)
        return ScoreSamples(
            groups=groups,
            pos_label=self.pos_label,
            codes=np.concatenate([ia[self.codes], ib[other.codes]]),
            scores=np.concatenate([self.scores, other.scores]),
            positive=np.concatenate([self.positive, other.positive]),
            weight=np.concatenate([self.weight, other.weight]),
        )

    def histogram(self, *, bins: int = DEFAULT_BINS, edges: Any = None) -> ScoreHistogram:
        """Return the mergeable histogram of these scores (see :func:`score_histogram`)."""
        return _histogram(
            self.groups,
            self.pos_label,
            self.codes,
            self.scores,
            self.positive,
            self.weight,
            _edges(bins, edges),
        )

    def loss_sums(self) -> tuple[FloatArray, FloatArray] | None:
        """Return per group Σw·log-loss and Σw·(y−p)², or None if scores are not probabilities."""
        if not self.is_probability:
            return None
        return _loss_sums(self.codes, self.scores, self.positive, self.weight, len(self.groups))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (row-level: scores, labels, weights and group codes)."""
        return {
            "kind": self.kind,
            "groups": self.groups.to_dict(),
            "pos_label": self.pos_label,
            "codes": self.codes.tolist(),
            "scores": self.scores.tolist(),
            "positive": self.positive.tolist(),
            "weight": self.weight.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoreSamples:
        """Rebuild from :meth:`to_dict` output.

        Raises
        ------
        MetricInputError
            When the dict is of another kind or its arrays are inconsistent.
        """
        check_dict_kind(data, cls.kind)
        return cls(
            groups=Groups.from_dict(data["groups"]),
            pos_label=data["pos_label"],
            codes=np.asarray(data["codes"], dtype=np.intp),
            scores=np.asarray(data["scores"], dtype=np.float64),
            positive=np.asarray(data["positive"], dtype=np.bool_),
            weight=np.asarray(data["weight"], dtype=np.float64),
        )


@dataclass(frozen=True, kw_only=True, eq=False)
class ScoreHistogram:
    """Binned scores per group and actual label; see the module docstring.

    ``weight[g, a, b]`` is the weight of rows of group ``g`` with actual label ``a``
    (0 negative, 1 positive) whose score falls in bin ``b`` (``edges[b] <= s <
    edges[b + 1]``, the last bin closed). ``count`` holds row numbers. ``log_loss`` and
    ``sq_err`` hold, per group and actual label, Σw·(−log p) for the label's probability
    (clipped as scikit-learn does) and Σw·(y−p)²; both are None when some score is outside
    [0, 1], since then the scores are not probabilities.
    """

    groups: Groups
    pos_label: Any
    edges: FloatArray
    weight: FloatArray
    count: IntArray
    log_loss: FloatArray | None
    sq_err: FloatArray | None

    kind = "score_histogram"

    def __post_init__(self) -> None:
        _check_edges(self.edges)
        expected = (len(self.groups), 2, len(self.edges) - 1)
        if self.weight.shape != expected or self.count.shape != expected:
            raise MetricInputError(f"{self.kind}: histogram shape differs from {expected}")
        for sums in (self.log_loss, self.sq_err):
            if sums is not None and sums.shape != (len(self.groups), 2):
                raise MetricInputError(f"{self.kind}: loss sums need shape ({len(self.groups)}, 2)")

    @property
    def n_rows(self) -> IntArray:
        """Rows per group."""
        return np.asarray(self.count.sum(axis=(1, 2)), dtype=np.int64)

    def overall(self) -> ScoreHistogram:
        """Return the histogram of all rows together, as one group."""
        return self._regroup(Groups.single(), np.zeros(len(self.groups), dtype=np.intp))

    def marginal(self, names: list[str] | tuple[str, ...]) -> ScoreHistogram:
        """Return the histogram grouped by a subset of the sensitive features."""
        return self._regroup(*self.groups.marginal(names))

    def _regroup(self, groups: Groups, position: NDArray[np.intp]) -> ScoreHistogram:
        size = len(groups)
        return ScoreHistogram(
            groups=groups,
            pos_label=self.pos_label,
            edges=self.edges,
            weight=scatter_add(self.weight, position, size),
            count=scatter_add(self.count, position, size),
            log_loss=None if self.log_loss is None else scatter_add(self.log_loss, position, size),
            sq_err=None if self.sq_err is None else scatter_add(self.sq_err, position, size),
        )

    def merge(self, other: ScoreHistogram) -> ScoreHistogram:
        """Return the histogram of both batches together (groups aligned by value).

        Raises
        ------
        MetricInputError
            When the bin edges, positive labels or sensitive features differ.
        """
        check_kind(other, ScoreHistogram)
        check_pos_label(self.pos_label, other.pos_label)
        if not np.array_equal(self.edges, other.edges):
            raise MetricInputError(EDGES_DIFFER)
        groups, ia, ib = self.groups.union(other.groups)
        size = len(groups)

        def add(a: FloatArray | None, b: FloatArray | None) -> FloatArray | None:
            return None if a is None or b is None else scatter_add(a, ia, size, b, ib)

        return ScoreHistogram(
            groups=groups,
            pos_label=self.pos_label,
            edges=self.edges,
            weight=scatter_add(self.weight, ia, size, other.weight, ib),
            count=scatter_add(self.count, ia, size, other.count, ib),
            log_loss=add(self.log_loss, other.log_loss),
            sq_err=add(self.sq_err, other.sq_err),
        )

    def loss_sums(self) -> tuple[FloatArray, FloatArray] | None:
        """Return per group Σw·log-loss and Σw·(y−p)², or None if scores are not probabilities."""
        if self.log_loss is None or self.sq_err is None:
            return None
        return self.log_loss.sum(axis=1), self.sq_err.sum(axis=1)

    def roc_auc_bound(self) -> FloatArray:
        """Return per group the largest possible |histogram ROC AUC − exact ROC AUC|.

        NaN for a group without positives or without negatives.
        """
        pos, neg = self.weight[:, 1, :], self.weight[:, 0, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(
                0.5 * (pos * neg).sum(axis=1) / (pos.sum(axis=1) * neg.sum(axis=1)),
                dtype=np.float64,
            )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict; the bins are stored sparsely (non-empty ones only)."""
        nonzero = np.nonzero(self.count)
        return {
            "kind": self.kind,
            "groups": self.groups.to_dict(),
            "pos_label": self.pos_label,
            "edges": self.edges.tolist(),
            "cells": [index.tolist() for index in nonzero],
            "weight": self.weight[nonzero].tolist(),
            "count": self.count[nonzero].tolist(),
            "log_loss": None if self.log_loss is None else self.log_loss.tolist(),
            "sq_err": None if self.sq_err is None else self.sq_err.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoreHistogram:
        """Rebuild from :meth:`to_dict` output.

        Raises
        ------
        MetricInputError
            When the dict is of another kind or its arrays are inconsistent.
        """
        check_dict_kind(data, cls.kind)
        groups = Groups.from_dict(data["groups"])
        edges = np.asarray(data["edges"], dtype=np.float64)
        shape = (len(groups), 2, len(edges) - 1)
        cells = tuple(np.asarray(index, dtype=np.intp) for index in data["cells"])
        weight = np.zeros(shape)
        count = np.zeros(shape, dtype=np.int64)
        try:
            weight[cells] = data["weight"]
            count[cells] = data["count"]
        except (IndexError, ValueError) as exc:
            raise MetricInputError(f"{cls.kind}: cells do not fit the histogram") from exc

        def sums(key: str) -> FloatArray | None:
            value = data.get(key)
            return None if value is None else np.asarray(value, dtype=np.float64)

        return cls(
            groups=groups,
            pos_label=data["pos_label"],
            edges=edges,
            weight=weight,
            count=count,
            log_loss=sums("log_loss"),
            sq_err=sums("sq_err"),
        )


def score_samples(
    y_true: Any,
    y_score: Any,
    *,
    sensitive_features: Any = None,
    sample_weight: Any = None,
    pos_label: Any = 1,
    missing: MissingPolicy = "error",
) -> ScoreSamples:
    """Keep scores with their labels, weights and groups for exact ranking metrics.

    Parameters
    ----------
    y_true : array-like
        Actual labels; at most two values.
    y_score : array-like
        Scores (probabilities of ``pos_label`` for log loss and Brier; any finite numbers
        for ROC AUC and average precision).
    sensitive_features : array-like, DataFrame or dict, optional
        One or several sensitive features; None makes one group of all rows.
    sample_weight : array-like, optional
        Non-negative row weights.
    pos_label : scalar, default 1
        The label of the positive class.
    missing : {"error", "group"}, default "error"
        What a missing value in a sensitive feature does.

    Returns
    -------
    ScoreSamples

    Raises
    ------
    MetricInputError
        On lengths that differ, empty input, non-binary labels, scores that are not finite
        numbers, bad weights or missing sensitive values.
    """
    truth = as_1d(y_true, name="y_true")
    raw_scores = as_1d(y_score, name="y_score")
    n_rows = check_lengths({"y_true": truth, "y_score": raw_scores})
    scores = as_float(raw_scores, name="y_score", what="score metrics")
    weights = as_weights(sample_weight, n_rows)
    positive = positive_indicator(truth, pos_label=pos_label)
    codes, groups = group_codes(sensitive_features, n_rows, missing)
    return ScoreSamples(
        groups=groups,
        pos_label=pos_label,
        codes=codes,
        scores=scores,
        positive=positive,
        weight=np.ones(n_rows) if weights is None else weights,
    )


def score_histogram(
    y_true: Any,
    y_score: Any,
    *,
    sensitive_features: Any = None,
    sample_weight: Any = None,
    pos_label: Any = 1,
    bins: int = DEFAULT_BINS,
    edges: Any = None,
    missing: MissingPolicy = "error",
) -> ScoreHistogram:
    """Build the mergeable score histogram per group and actual label.

    Parameters are those of :func:`score_samples`, and:

    Parameters
    ----------
    bins : int, default 10,000
        Number of equal bins on [0, 1] when ``edges`` is not given.
    edges : array-like, optional
        Increasing bin edges; scores must lie within ``[edges[0], edges[-1]]``. Batches
        merge only if built with the same edges.

    Returns
    -------
    ScoreHistogram

    Raises
    ------
    MetricInputError
        As :func:`score_samples`, and when a score falls outside the edges.
    """
    samples = score_samples(
        y_true,
        y_score,
        sensitive_features=sensitive_features,
        sample_weight=sample_weight,
        pos_label=pos_label,
        missing=missing,
    )
    return samples.histogram(bins=bins, edges=edges)


def _edges(bins: int, edges: Any) -> FloatArray:
    if edges is None:
        if bins < 1:
            raise MetricInputError(BAD_EDGES)
        return np.linspace(0.0, 1.0, bins + 1)
    array = np.asarray(edges, dtype=np.float64)
    _check_edges(array)
    return array


def _check_edges(edges: FloatArray) -> None:
    if edges.ndim != 1 or len(edges) < 2 or not np.all(np.isfinite(edges)):
        raise MetricInputError(BAD_EDGES)
    if np.any(np.diff(edges) <= 0):
        raise MetricInputError(BAD_EDGES)


def _histogram(
    groups: Groups,
    pos_label: Any,
    codes: NDArray[np.intp],
    scores: FloatArray,
    positive: NDArray[np.bool_],
    weight: FloatArray,
    edges: FloatArray,
) -> ScoreHistogram:
    low, high = edges[0], edges[-1]
    outside = (scores < low) | (scores > high)
    if outside.any():
        raise MetricInputError(
            SCORE_OUT_OF_RANGE.format(
                count=int(outside.sum()), low=low, high=high, example=scores[outside][0]
            )
        )
    n_bins = len(edges) - 1
    bin_index = np.clip(np.searchsorted(edges, scores, side="right") - 1, 0, n_bins - 1)
    cell = (codes * 2 + positive) * n_bins + bin_index
    size = len(groups) * 2 * n_bins
    shape = (len(groups), 2, n_bins)
    is_probability = bool(np.all((scores >= 0) & (scores <= 1)))
    sums = (
        _label_loss_sums(codes, scores, positive, weight, len(groups)) if is_probability else None
    )
    return ScoreHistogram(
        groups=groups,
        pos_label=pos_label,
        edges=edges,
        weight=weighted_sum(cell, weight, size).reshape(shape),
        count=row_count(cell, size).reshape(shape),
        log_loss=None if sums is None else sums[0],
        sq_err=None if sums is None else sums[1],
    )


def _row_losses(scores: FloatArray, positive: NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
    # scikit-learn clips the probability of each class to [eps, 1 - eps] before the log.
    eps = np.finfo(np.float64).eps
    label_probability = np.where(positive, scores, 1.0 - scores)
    log_loss = -np.log(np.clip(label_probability, eps, 1 - eps))
    sq_err = (positive - scores) ** 2
    return log_loss, sq_err


def _label_loss_sums(
    codes: NDArray[np.intp],
    scores: FloatArray,
    positive: NDArray[np.bool_],
    weight: FloatArray,
    n_groups: int,
) -> tuple[FloatArray, FloatArray]:
    log_loss, sq_err = _row_losses(scores, positive)
    cell = codes * 2 + positive
    size = n_groups * 2
    return (
        weighted_sum(cell, weight * log_loss, size).reshape(n_groups, 2),
        weighted_sum(cell, weight * sq_err, size).reshape(n_groups, 2),
    )


def _loss_sums(
    codes: NDArray[np.intp],
    scores: FloatArray,
    positive: NDArray[np.bool_],
    weight: FloatArray,
    n_groups: int,
) -> tuple[FloatArray, FloatArray]:
    log_loss, sq_err = _row_losses(scores, positive)
    return (
        weighted_sum(codes, weight * log_loss, n_groups),
        weighted_sum(codes, weight * sq_err, n_groups),
    )
