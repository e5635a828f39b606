"""Each metric of a ``MetricFrame``, per cell and per control combination: fast or on the rows.

A recognised metric (see :mod:`govml.metrics._catalogue`) is read off statistics built in
one vectorised pass; metrics that share the statistics (TPR, FPR, selection rate and
accuracy all read the same binary counts) share the pass. Where the statistics leave a
group undefined (a 0/0) the function itself is called on that group's rows, so its own
convention (scikit-learn's 0.0 and warning, its error) is what the group gets.

Any other callable is called once per cell and once per control combination (or once on all
rows) with the rows of that cell, as Fairlearn does: the slow path, whose cost grows with
the number of groups times the cost of the function.
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NoReturn, cast

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from govml.metrics._catalogue import Known, StatsKind, labels_allow, rates_pos_label
from govml.metrics._cells import Cells
from govml.metrics._confusion import (
    BinaryConfusion,
    MulticlassConfusion,
    binary_cells,
    row_count,
    weighted_sum,
)
from govml.metrics._registry import Stats
from govml.metrics._regression import regression_moments
from govml.metrics._scores import score_samples
from govml.metrics._validate import (
    LENGTH_MISMATCH,
    MetricInputError,
    as_1d,
    as_weights,
    binary_indicators,
    check_labels,
    distinct_values,
)

FloatArray = NDArray[np.float64]
ObjectArray = NDArray[np.object_]

# Building statistics fails on inputs outside what they cover; the metric then goes to the
# rows, where the function decides.
_NOT_COVERED = (MetricInputError, TypeError, ValueError)


@dataclass(frozen=True, eq=False)
class Inputs:
    """The rows of a ``MetricFrame``: labels or values, and their cells."""

    y_true: NDArray[Any]
    y_pred: NDArray[Any]
    cells: Cells

    @property
    def n_rows(self) -> int:
        """The number of rows."""
        return len(self.y_true)

    @cached_property
    def true_values(self) -> list[Any]:
        """The distinct values of ``y_true`` (one hash pass, the first time asked)."""
        return distinct_values(self.y_true) if self.y_true.ndim == 1 else []

    @cached_property
    def pred_values(self) -> list[Any]:
        """The distinct values of ``y_pred``."""
        return distinct_values(self.y_pred) if self.y_pred.ndim == 1 else []


@dataclass(frozen=True, eq=False)
class Column:
    """One metric of the frame: its label, what it is, and its sample parameters."""

    label: Hashable
    metric: Any
    params: Mapping[str, Any]
    known: Known | None

    @property
    def callable(self) -> Callable[..., Any] | None:
        """The function to call on rows; None for a metric given by name."""
        return None if isinstance(self.metric, str) else self.metric


@dataclass(frozen=True, eq=False)
class Source:
    """Statistics a metric was read from, and how they were built."""

    kind: StatsKind
    pos_label: Any
    weights: NDArray[np.float64] | None
    stats: Stats


@dataclass(frozen=True, eq=False)
class Values:
    """One metric's values per cell and per observed control combination.

    ``cells`` and ``overall`` are float arrays, or object arrays when a value is not a
    number (a confusion matrix). ``known`` is set for a recognised metric, ``source`` when
    its values were read from statistics.
    """

    cells: FloatArray | ObjectArray
    overall: FloatArray | ObjectArray
    integer: bool
    known: Known | None = None
    source: Source | None = None

    @property
    def stats(self) -> Stats | None:
        """The statistics the values were read from, if any."""
        return None if self.source is None else self.source.stats


class StatsCache:
    """Statistics built once per kind, positive label and weights, shared by the metrics."""

    def __init__(self, inputs: Inputs) -> None:
        self._inputs = inputs
        self._built: dict[tuple[Any, ...], Source | None] = {}
        self._weights: list[tuple[Any, NDArray[np.float64]]] = []

    @property
    def built(self) -> list[Stats]:
        """The statistics built so far."""
        return [source.stats for source in self._built.values() if source is not None]

    def weights(self, sample_weight: Any) -> tuple[int, NDArray[np.float64] | None]:
        """Return a key and the checked weights; equal weights share a key (and statistics).

        Raises
        ------
        MetricInputError
            On weights of another length, NaN, infinite or negative.
        """
        if sample_weight is None:
            return 0, None
        for i, (given, checked) in enumerate(self._weights, start=1):
            if given is sample_weight:
                return i, checked
        weights = as_weights(sample_weight, self._inputs.n_rows)
        assert weights is not None
        checked = weights
        for i, (_, other) in enumerate(self._weights, start=1):
            if np.array_equal(other, checked):
                return i, other
        self._weights.append((sample_weight, checked))
        return len(self._weights), checked

    def get(self, known: Known, sample_weight: Any) -> Source | None:
        """Return statistics ``known`` can be read from, or None when no kind covers the rows.

        Raises
        ------
        MetricInputError
            On bad weights.
        """
        pos_label = self._pos_label(known)
        if pos_label is _UNCOVERED:
            return None
        key, weights = self.weights(sample_weight)
        candidates = [(kind, pos_label, key) for kind in known.kinds]
        for candidate in candidates:  # reuse what another metric built
            if self._built.get(candidate) is not None:
                return self._built[candidate]
        for candidate in candidates:
            if candidate not in self._built:
                self._built[candidate] = self._build(candidate[0], pos_label, weights)
            if self._built[candidate] is not None:
                return self._built[candidate]
        return None

    def _pos_label(self, known: Known) -> Any:
        inputs = self._inputs
        if known.labels == "any":
            return known.pos_label
        true_values, pred_values = inputs.true_values, inputs.pred_values
        if not labels_allow(known.labels, true_values, pred_values):
            return _UNCOVERED
        if known.labels == "rates" and known.pos_label is None:
            positive = rates_pos_label(true_values, pred_values)
            return _UNCOVERED if positive is None else positive
        return known.pos_label

    def raise_for(self, known: Known, sample_weight: Any) -> NoReturn:
        """Raise the error that building ``known``'s preferred statistics gives.

        Raises
        ------
        MetricInputError
            Always: why the rows are not what the metric reads.
        """
        _, weights = self.weights(sample_weight)
        build_stats(known.kinds[0], self._inputs, known.pos_label, weights)
        name = "count" if known.spec is None else known.spec.name
        raise MetricInputError(f"{name} cannot be computed from these rows")

    def _build(
        self, kind: StatsKind, pos_label: Any, weights: NDArray[np.float64] | None
    ) -> Source | None:
        try:
            stats = build_stats(kind, self._inputs, pos_label, weights)
        except _NOT_COVERED:
            return None
        return Source(kind=kind, pos_label=pos_label, weights=weights, stats=stats)


def build_stats(
    kind: StatsKind, inputs: Inputs, pos_label: Any, weights: NDArray[np.float64] | None
) -> Stats:
    """Build statistics of ``kind`` over the cells of ``inputs``.

    Raises
    ------
    MetricInputError
        When the rows are not what the statistics count (labels for confusion counts,
        finite numbers for moments and scores).
    """
    if kind in ("binary", "prediction"):
        truth = inputs.y_pred if kind == "prediction" else inputs.y_true
        known = {
            "y_true": inputs.pred_values if kind == "prediction" else inputs.true_values,
            "y_pred": inputs.pred_values,
        }
        return _binary(truth, inputs.y_pred, inputs.cells, pos_label, weights, known)
    if kind == "multiclass":
        return _multiclass(inputs.y_true, inputs.y_pred, inputs.cells, weights)
    return _by_builder(kind, inputs, pos_label, weights)


def reweighted(source: Source, inputs: Inputs, multiplicity: FloatArray) -> Stats:
    """Return the statistics of ``source`` with each row weighted by ``multiplicity`` more."""
    weights = multiplicity if source.weights is None else source.weights * multiplicity
    return build_stats(source.kind, inputs, source.pos_label, weights)


class _Uncovered:
    pass


_UNCOVERED = _Uncovered()


def _binary(
    y_true: NDArray[Any],
    y_pred: NDArray[Any],
    cells: Cells,
    pos_label: Any,
    weights: NDArray[np.float64] | None,
    known: Mapping[str, list[Any]] | None = None,
) -> BinaryConfusion:
    truth, pred = as_1d(y_true, name="y_true"), as_1d(y_pred, name="y_pred")
    if known is not None and (truth.ndim != 1 or pred.ndim != 1):
        known = None
    true_pos, pred_pos = binary_indicators(truth, pred, pos_label=pos_label, known=known)
    cell = binary_cells(cells.codes, true_pos, pred_pos)
    weight, count = _cell_sums(cell, weights, cells.n_cells * 4)
    return BinaryConfusion(
        groups=cells.groups,
        pos_label=pos_label,
        weight=weight.reshape(-1, 2, 2),
        count=count.reshape(-1, 2, 2),
    )


def _multiclass(
    y_true: NDArray[Any], y_pred: NDArray[Any], cells: Cells, weights: NDArray[np.float64] | None
) -> MulticlassConfusion:
    truth, pred = as_1d(y_true, name="y_true"), as_1d(y_pred, name="y_pred")
    labels, _ = check_labels({"y_true": truth, "y_pred": pred}, what="classification metrics")
    k = len(labels)
    true_index, pred_index = _label_index(truth, labels), _label_index(pred, labels)
    cell = (cells.codes * k + true_index) * k + pred_index
    weight, count = _cell_sums(cell, weights, cells.n_cells * k * k)
    return MulticlassConfusion(
        groups=cells.groups,
        labels=tuple(labels),
        weight=weight.reshape(-1, k, k),
        count=count.reshape(-1, k, k),
    )


def _label_index(values: NDArray[Any], labels: list[Any]) -> NDArray[np.intp]:
    index = np.zeros(len(values), dtype=np.intp)
    for i, label in enumerate(labels[1:], start=1):
        index[values == label] = i
    return index


def _cell_sums(
    cell: NDArray[np.intp], weights: NDArray[np.float64] | None, size: int
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    count = row_count(cell, size)
    if weights is None:
        return count.astype(np.float64), count
    return weighted_sum(cell, weights, size), count


def _by_builder(
    kind: StatsKind, inputs: Inputs, pos_label: Any, weights: NDArray[np.float64] | None
) -> Stats:
    # The builders group by a categorical of the cells, which costs no hashing, and the
    # result is given the cells' own keys.
    cells = inputs.cells
    codes = pd.Series(
        pd.Categorical.from_codes(cast(Any, cells.codes), categories=pd.RangeIndex(cells.n_cells)),
        name="cell",
        copy=False,
    )
    stats: Stats
    if kind == "score":
        stats = score_samples(
            inputs.y_true,
            inputs.y_pred,
            sensitive_features=codes,
            sample_weight=weights,
            pos_label=pos_label,
        )
    else:
        truth = inputs.y_pred if kind == "prediction_moments" else inputs.y_true
        stats = regression_moments(
            truth, inputs.y_pred, sensitive_features=codes, sample_weight=weights
        )
    return dataclasses.replace(stats, groups=cells.groups)


def overall_stats(stats: Stats, cells: Cells) -> Stats:
    """Return ``stats`` over each observed control combination (all rows without any)."""
    if not cells.n_control:
        return stats.overall()
    return stats.marginal(cells.control_names)


def fast_values(column: Column, source: Source | None, inputs: Inputs) -> Values:
    """Return a recognised metric's values from its statistics (``count`` from the cells).

    Groups the statistics leave undefined are computed by the function on their rows.
    """
    known = column.known
    assert known is not None
    cells = inputs.cells
    if known.spec is None:
        totals = np.bincount(cells.control, weights=cells.n_rows)[cells.observed_controls]
        return Values(
            cells.n_rows.astype(np.float64),
            np.asarray(totals, dtype=np.float64),
            integer=True,
            known=known,
        )
    assert source is not None
    stats = source.stats
    computed = known.spec.compute(stats)
    over = overall_stats(stats, cells)
    computed_overall = known.spec.compute(over)
    values = computed.compat.astype(np.float64, copy=True)
    overall = computed_overall.compat.astype(np.float64, copy=True)
    function = column.callable
    if function is not None and not known.own:
        ask = np.isnan(computed.value)
        ask_overall = np.isnan(computed_overall.value)
        if known.also_rows is not None:
            ask |= known.also_rows(stats)
            ask_overall |= known.also_rows(over)
        if ask.any() or ask_overall.any():
            rows = RowCaller(function, column.params, inputs)
            for cell in np.flatnonzero(ask):
                values[cell] = rows.cell(int(cell))
            for i in np.flatnonzero(ask_overall):
                overall[i] = rows.control(int(i))
    return Values(values, overall, integer=False, known=known, source=source)


def row_values(column: Column, inputs: Inputs) -> Values:
    """Return a metric's values by calling it on each cell's rows (Fairlearn's way)."""
    function = column.callable
    assert function is not None
    rows = RowCaller(function, column.params, inputs)
    per_cell = [rows.cell(cell) for cell in range(inputs.cells.n_cells)]
    n_controls = len(inputs.cells.observed_controls)
    per_control = [rows.control(i) for i in range(n_controls)]
    return _packed(per_cell, per_control)


class RowCaller:
    """Calls one metric function on the rows of a cell or a control combination."""

    def __init__(
        self, function: Callable[..., Any], params: Mapping[str, Any], inputs: Inputs
    ) -> None:
        self._function = function
        self._params = sample_arrays(params, inputs.n_rows)
        self._inputs = inputs

    @cached_property
    def _control_rows(self) -> list[NDArray[np.intp]]:
        return self._inputs.cells.control_rows()

    def cell(self, cell: int) -> Any:
        """Return the metric on the rows of ``cell``."""
        return self.on(self._inputs.cells.rows(cell))

    def control(self, index: int) -> Any:
        """Return the metric on the rows of the ``index``-th observed control combination."""
        if not self._inputs.cells.n_control:
            return self.on(None)
        return self.on(self._control_rows[index])

    def on(self, rows: NDArray[np.intp] | None) -> Any:
        """Return the metric on ``rows`` (all rows when None)."""
        inputs = self._inputs
        if rows is None:
            return self._function(inputs.y_true, inputs.y_pred, **self._params)
        params = {name: value[rows] for name, value in self._params.items()}
        return self._function(inputs.y_true[rows], inputs.y_pred[rows], **params)


def sample_arrays(params: Mapping[str, Any], n_rows: int) -> dict[str, NDArray[Any]]:
    """Return the sample parameters as arrays of ``n_rows`` (those that are None left out).

    Raises
    ------
    MetricInputError
        When a parameter's length is not ``n_rows``, naming it.
    """
    arrays: dict[str, NDArray[Any]] = {}
    for name, value in params.items():
        if value is None:
            continue
        array = np.asarray(value)
        if array.ndim == 0 or len(array) != n_rows:
            length = 1 if array.ndim == 0 else len(array)
            raise MetricInputError(
                LENGTH_MISMATCH.format(
                    first="y_true", first_len=n_rows, second=name, second_len=length
                )
            )
        arrays[name] = array
    return arrays


def _packed(per_cell: list[Any], per_control: list[Any]) -> Values:
    everything = [*per_cell, *per_control]
    if all(_is_number(v) for v in everything):
        integer = all(_is_integer(v) for v in everything)
        return Values(
            np.array(per_cell, dtype=np.float64),
            np.array(per_control, dtype=np.float64),
            integer=integer,
        )
    return Values(objects(per_cell), objects(per_control), integer=False)


def objects(values: list[Any]) -> ObjectArray:
    """Return ``values`` as an object array, each value one element."""
    array = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):  # one by one: equal-shaped arrays must not broadcast
        array[i] = value
    return array


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral)
