"""Per-group confusion counts: binary (with ``pos_label``) and multiclass.

Both keep, for every cell group × actual label × predicted label, the weighted sum (what the
metrics use) and the number of rows (what ``min_group_size`` and the bootstrap use). Without
sample weights the two are equal. They are built in one vectorised pass (a ``bincount`` over
the cell index of each row), add up exactly across batches, and round-trip through JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray

from govml.metrics._groups import Groups, MissingPolicy, encode_groups
from govml.metrics._validate import (
    MetricInputError,
    as_1d,
    as_weights,
    binary_indicators,
    check_labels,
    check_lengths,
    sort_key,
)

POS_LABEL_DIFFERS = "cannot merge statistics with pos_label={first!r} and pos_label={second!r}"
WRONG_KIND = "expected statistics of kind {expected!r}, got {found!r}"
BAD_SHAPE = "{kind}: {field} has shape {shape}, expected {expected}"

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, kw_only=True, eq=False)
class GroupedCounts:
    """Weighted and unweighted counts per group × actual label × predicted label.

    The base of :class:`BinaryConfusion` and :class:`MulticlassConfusion`: ``weight`` and
    ``count`` have shape (groups, k, k); grouping them differently (all rows, a subset of
    the features) adds cells up the same way for both. A subclass says how to rebuild
    itself around new arrays (:meth:`_with`).
    """

    groups: Groups
    weight: FloatArray
    count: IntArray

    @property
    def n_rows(self) -> IntArray:
        """Rows per group."""
        return np.asarray(self.count.sum(axis=(1, 2)), dtype=np.int64)

    def _with(self, groups: Groups, weight: FloatArray, count: IntArray) -> Self:
        raise NotImplementedError

    def overall(self) -> Self:
        """Return the counts of all rows together, as one group."""
        return self._with(
            Groups.single(),
            self.weight.sum(axis=0, keepdims=True),
            self.count.sum(axis=0, keepdims=True),
        )

    def marginal(self, names: list[str] | tuple[str, ...]) -> Self:
        """Return the counts grouped by a subset of the sensitive features."""
        groups, position = self.groups.marginal(names)
        return self._with(
            groups,
            scatter_add(self.weight, position, len(groups)),
            scatter_add(self.count, position, len(groups)),
        )


@dataclass(frozen=True, kw_only=True, eq=False)
class BinaryConfusion(GroupedCounts):
    """Weighted and unweighted binary confusion counts per group.

    ``weight[g, a, p]`` is the weight sum of rows of group ``g`` whose actual label is
    ``a`` and predicted label ``p`` (0 negative, 1 positive); so ``weight[g, 1, 1]`` is the
    weighted TP, ``[g, 0, 1]`` FP, ``[g, 0, 0]`` TN and ``[g, 1, 0]`` FN. ``count`` holds
    the numbers of rows of the same cells.
    """

    pos_label: Any

    kind = "binary_confusion"

    def __post_init__(self) -> None:
        _check_cells(self.kind, self.groups, self.weight, self.count, (2, 2))

    def _with(self, groups: Groups, weight: FloatArray, count: IntArray) -> BinaryConfusion:
        return BinaryConfusion(groups=groups, pos_label=self.pos_label, weight=weight, count=count)

    def swapped(self, pos_label: Any) -> BinaryConfusion:
        """Return the same counts with the other label, ``pos_label``, as the positive one.

        Positive and negative trade places in the actual and the predicted label alike:
        TP with TN and FP with FN. The selection rate of the result is the share of rows
        predicted ``pos_label``.
        """
        return BinaryConfusion(
            groups=self.groups,
            pos_label=pos_label,
            weight=np.ascontiguousarray(self.weight[:, ::-1, ::-1]),
            count=np.ascontiguousarray(self.count[:, ::-1, ::-1]),
        )

    def merge(self, other: BinaryConfusion) -> BinaryConfusion:
        """Return the counts of both batches together (groups aligned by value).

        Raises
        ------
        MetricInputError
            When the positive labels or the sensitive features differ.
        """
        check_kind(other, BinaryConfusion)
        check_pos_label(self.pos_label, other.pos_label)
        groups, ia, ib = self.groups.union(other.groups)
        return BinaryConfusion(
            groups=groups,
            pos_label=self.pos_label,
            weight=scatter_add(self.weight, ia, len(groups), other.weight, ib),
            count=scatter_add(self.count, ia, len(groups), other.count, ib),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "kind": self.kind,
            "groups": self.groups.to_dict(),
            "pos_label": self.pos_label,
            "weight": self.weight.tolist(),
            "count": self.count.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BinaryConfusion:
        """Rebuild from :meth:`to_dict` output.

        Raises
        ------
        MetricInputError
            When the dict is of another kind or its arrays have the wrong shape.
        """
        check_dict_kind(data, cls.kind)
        return cls(
            groups=Groups.from_dict(data["groups"]),
            pos_label=data["pos_label"],
            weight=np.asarray(data["weight"], dtype=np.float64),
            count=np.asarray(data["count"], dtype=np.int64),
        )


@dataclass(frozen=True, kw_only=True, eq=False)
class MulticlassConfusion(GroupedCounts):
    """Weighted and unweighted confusion matrices per group over sorted ``labels``.

    ``weight[g, i, j]`` is the weight of rows of group ``g`` with actual label
    ``labels[i]`` and predicted label ``labels[j]``; ``count`` holds the row numbers.
    """

    labels: tuple[Any, ...]

    kind = "multiclass_confusion"

    def __post_init__(self) -> None:
        k = len(self.labels)
        _check_cells(self.kind, self.groups, self.weight, self.count, (k, k))
        if list(self.labels) != sorted(set(self.labels), key=sort_key):
            raise MetricInputError(f"{self.kind}: labels must be distinct and sorted")

    def _with(self, groups: Groups, weight: FloatArray, count: IntArray) -> MulticlassConfusion:
        return MulticlassConfusion(groups=groups, labels=self.labels, weight=weight, count=count)

    def merge(self, other: MulticlassConfusion) -> MulticlassConfusion:
        """Return the matrices of both batches together (groups and labels aligned).

        Raises
        ------
        MetricInputError
            When the sensitive features differ.
        """
        check_kind(other, MulticlassConfusion)
        groups, ga, gb = self.groups.union(other.groups)
        labels = tuple(sorted(set(self.labels) | set(other.labels), key=sort_key))
        la = np.array([labels.index(v) for v in self.labels], dtype=np.intp)
        lb = np.array([labels.index(v) for v in other.labels], dtype=np.intp)
        shape = (len(groups), len(labels), len(labels))
        weight = np.zeros(shape, dtype=np.float64)
        count = np.zeros(shape, dtype=np.int64)
        for target, arrays in (
            (weight, (self.weight, other.weight)),
            (count, (self.count, other.count)),
        ):
            np.add.at(target, np.ix_(ga, la, la), arrays[0])
            np.add.at(target, np.ix_(gb, lb, lb), arrays[1])
        return MulticlassConfusion(groups=groups, labels=labels, weight=weight, count=count)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "kind": self.kind,
            "groups": self.groups.to_dict(),
            "labels": list(self.labels),
            "weight": self.weight.tolist(),
            "count": self.count.tolist(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MulticlassConfusion:
        """Rebuild from :meth:`to_dict` output.

        Raises
        ------
        MetricInputError
            When the dict is of another kind or its arrays have the wrong shape.
        """
        check_dict_kind(data, cls.kind)
        k = len(data["labels"])
        groups = Groups.from_dict(data["groups"])
        return cls(
            groups=groups,
            labels=tuple(data["labels"]),
            weight=np.asarray(data["weight"], dtype=np.float64).reshape(len(groups), k, k),
            count=np.asarray(data["count"], dtype=np.int64).reshape(len(groups), k, k),
        )


def binary_confusion(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any = None,
    sample_weight: Any = None,
    pos_label: Any = 1,
    missing: MissingPolicy = "error",
) -> BinaryConfusion:
    """Count weighted and unweighted TP, FP, TN, FN per group in one pass.

    Parameters
    ----------
    y_true, y_pred : array-like
        Actual and predicted labels (numpy, pandas, polars, pyarrow or lists); together at
        most two distinct values.
    sensitive_features : array-like, DataFrame or dict, optional
        One or several sensitive features; groups are their observed combinations. None
        makes one group of all rows.
    sample_weight : array-like, optional
        Non-negative row weights.
    pos_label : scalar, default 1
        The label of the positive class.
    missing : {"error", "group"}, default "error"
        What a missing value in a sensitive feature does: raise, or form its own group
        (whose key holds None).

    Returns
    -------
    BinaryConfusion

    Raises
    ------
    MetricInputError
        On lengths that differ, empty input, missing or non-binary labels, a ``pos_label``
        not among the labels, bad weights or missing sensitive values.
    """
    truth, pred = as_1d(y_true, name="y_true"), as_1d(y_pred, name="y_pred")
    n_rows = check_lengths({"y_true": truth, "y_pred": pred})
    weights = as_weights(sample_weight, n_rows)
    true_pos, pred_pos = binary_indicators(truth, pred, pos_label=pos_label)
    codes, groups = group_codes(sensitive_features, n_rows, missing)
    cell = binary_cells(codes, true_pos, pred_pos)
    weight, count = _cell_sums(cell, weights, len(groups) * 4)
    return BinaryConfusion(
        groups=groups,
        pos_label=pos_label,
        weight=weight.reshape(-1, 2, 2),
        count=count.reshape(-1, 2, 2),
    )


def prediction_confusion(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any = None,
    sample_weight: Any = None,
    pos_label: Any = 1,
    missing: MissingPolicy = "error",
) -> BinaryConfusion:
    """Count predictions per group for metrics that read ``y_pred`` only (selection rate).

    Like Fairlearn's ``selection_rate``, ``y_true`` is only checked for its length, so it
    may hold anything (scores, other labels). The actual-label axis of the result repeats
    the predictions: use it for selection rates and counts, never for error rates.

    Raises
    ------
    MetricInputError
        As :func:`binary_confusion`, for ``y_pred``.
    """
    truth, pred = as_1d(y_true, name="y_true"), as_1d(y_pred, name="y_pred")
    check_lengths({"y_true": truth, "y_pred": pred})
    return binary_confusion(
        pred,
        pred,
        sensitive_features=sensitive_features,
        sample_weight=sample_weight,
        pos_label=pos_label,
        missing=missing,
    )


def multiclass_confusion(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any = None,
    sample_weight: Any = None,
    missing: MissingPolicy = "error",
) -> MulticlassConfusion:
    """Build weighted and unweighted confusion matrices per group in one pass.

    The labels are the sorted union of the values in ``y_true`` and ``y_pred``. Other
    parameters are as in :func:`binary_confusion`.

    Returns
    -------
    MulticlassConfusion

    Raises
    ------
    MetricInputError
        On lengths that differ, empty input, missing labels, bad weights or missing
        sensitive values.
    """
    truth, pred = as_1d(y_true, name="y_true"), as_1d(y_pred, name="y_pred")
    n_rows = check_lengths({"y_true": truth, "y_pred": pred})
    weights = as_weights(sample_weight, n_rows)
    labels, _ = check_labels({"y_true": truth, "y_pred": pred}, what="classification metrics")
    codes, groups = group_codes(sensitive_features, n_rows, missing)
    k = len(labels)
    true_index = _label_index(truth, labels)
    pred_index = _label_index(pred, labels)
    cell = (codes * k + true_index) * k + pred_index
    weight, count = _cell_sums(cell, weights, len(groups) * k * k)
    return MulticlassConfusion(
        groups=groups,
        labels=tuple(labels),
        weight=weight.reshape(-1, k, k),
        count=count.reshape(-1, k, k),
    )


def group_codes(
    features: Any, n_rows: int, missing: MissingPolicy
) -> tuple[NDArray[np.intp], Groups]:
    """Return each row's group code and the groups; one group of all rows without features."""
    if features is None:
        return np.zeros(n_rows, dtype=np.intp), Groups.single()
    return encode_groups(features, n_rows, missing=missing)


def _label_index(values: NDArray[Any], labels: list[Any]) -> NDArray[np.intp]:
    # Labels are few; one comparison per label keeps mixed types out of a sort.
    index = np.zeros(len(values), dtype=np.intp)
    for i, label in enumerate(labels[1:], start=1):
        index[values == label] = i
    return index


def binary_cells(
    codes: NDArray[np.intp], true_pos: NDArray[Any], pred_pos: NDArray[Any]
) -> NDArray[np.intp]:
    """Return each row's cell ``group * 4 + actual * 2 + predicted`` (indicators 0 / 1).

    Added in place into one new array: no temporaries as long as the rows.
    """
    cell = np.multiply(codes, 4, dtype=np.intp)
    cell += true_pos
    cell += true_pos
    cell += pred_pos
    return cell


def weighted_sum(index: NDArray[np.intp], weights: NDArray[Any], size: int) -> FloatArray:
    """Return the sum of ``weights`` per value of ``index`` (0..size-1), as float64."""
    return np.asarray(np.bincount(index, weights=weights, minlength=size), dtype=np.float64)


def row_count(index: NDArray[np.intp], size: int) -> IntArray:
    """Return the number of rows per value of ``index`` (0..size-1), as int64."""
    return np.asarray(np.bincount(index, minlength=size), dtype=np.int64)


def _cell_sums(
    cell: NDArray[np.intp], weights: FloatArray | None, n_cells: int
) -> tuple[FloatArray, IntArray]:
    count = row_count(cell, n_cells)
    if weights is None:
        return count.astype(np.float64), count
    return weighted_sum(cell, weights, n_cells), count


def scatter_add(
    a: NDArray[Any],
    ia: NDArray[np.intp],
    n_groups: int,
    b: NDArray[Any] | None = None,
    ib: NDArray[np.intp] | None = None,
) -> NDArray[Any]:
    """Add group rows of ``a`` (and ``b``) into ``n_groups`` rows at the given positions."""
    out = np.zeros((n_groups, *a.shape[1:]), dtype=a.dtype)
    np.add.at(out, ia, a)
    if b is not None and ib is not None:
        np.add.at(out, ib, b)
    return out


def _check_cells(
    kind: str,
    groups: Groups,
    weight: NDArray[Any],
    count: NDArray[Any],
    cell_shape: tuple[int, ...],
) -> None:
    expected = (len(groups), *cell_shape)
    for field, array in (("weight", weight), ("count", count)):
        if array.shape != expected:
            raise MetricInputError(
                BAD_SHAPE.format(kind=kind, field=field, shape=array.shape, expected=expected)
            )
    if np.any(count < 0) or not np.all(np.isfinite(weight)) or np.any(weight < 0):
        raise MetricInputError(f"{kind}: counts and weights must be finite and non-negative")


def check_pos_label(first: Any, second: Any) -> None:
    """Raise unless two statistics share their positive label.

    Raises
    ------
    MetricInputError
        When the labels differ.
    """
    if first != second:
        raise MetricInputError(POS_LABEL_DIFFERS.format(first=first, second=second))


def check_kind(other: object, cls: type) -> None:
    """Raise unless ``other`` is statistics of class ``cls`` (a merge needs the same kind)."""
    if not isinstance(other, cls):
        raise MetricInputError(WRONG_KIND.format(expected=cls.__name__, found=type(other).__name__))


def check_dict_kind(data: Mapping[str, Any], kind: str) -> None:
    """Raise unless a stored dict holds statistics of ``kind``."""
    if data.get("kind") != kind:
        raise MetricInputError(WRONG_KIND.format(expected=kind, found=data.get("kind")))
