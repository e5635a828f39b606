"""Business metrics: a cost-weighted error, and metrics users install as entry points.

**Expected cost.** ``expected_cost`` is the cost of the decisions per row:
``(c_TP·TP + c_FP·FP + c_TN·TN + c_FN·FN) / N`` over weighted confusion counts, so it is
computed from the same statistics as accuracy, per group and inside the bootstrap.
German credit's cost matrix (a bad customer classed good costs 5, a good one classed bad
costs 1) is, with "bad" as the positive label, ``false_negative: 5, false_positive: 1``.

**Installed metrics.** A package registers a metric under the entry-point group
``govml.metrics``; the entry point's name is the name a policy uses::

    [project.entry-points."govml.metrics"]
    fraud_loss = "acme_metrics:fraud_loss"

The object it points at is made with one of two decorators:

- `confusion_metric` (the fast path) wraps ``f(tp, fp, tn, fn)``, called with numpy
  arrays of weighted counts of any shape; it is computed from the confusion statistics,
  per group and for every bootstrap replicate at once, and its evidence is the counts.
- `row_metric` (the slow path) wraps ``f(y_true, y_pred, y_score)``, called once with the
  evaluation's rows (for a binary task, 1 for the positive label and 0 otherwise;
  ``y_score`` is the positive class's score, or None). Use it only for what counts cannot
  give (a lift at the top decile, say): it needs the rows, has no per-group values and no
  bootstrap.

Only installed entry points are loaded, never a module or file a policy names: policies
arrive with requests to the server, and a policy must not be able to make the server
import code that its operator did not install.
"""

from __future__ import annotations

import functools
import importlib.metadata
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from govml.metrics._confusion import FloatArray, IntArray, binary_confusion
from govml.metrics._registry import NO_WEIGHT, Computed, MetricSpec
from govml.metrics._validate import MetricInputError

ENTRY_POINT_GROUP = "govml.metrics"
EXPECTED_COST = "expected_cost"
COST_CELLS: tuple[str, ...] = ("true_positive", "false_positive", "true_negative", "false_negative")

Direction = Literal["higher", "lower", "none"]
Inputs = Literal["confusion", "rows"]

ERR_NOT_A_METRIC = (
    "entry point {name!r} ({value}) of group govml.metrics is a {kind}, not a metric made with "
    "govml.metrics.custom.confusion_metric or row_metric"
)
ERR_LOAD = "entry point {name!r} ({value}) of group govml.metrics cannot be loaded: {error}"
ERR_RAISED = "{name} raised {error}"
ERR_SHAPE = "{name} returned shape {got} for counts of shape {expected}"
NO_VALUE = "{name} returned no value (NaN)"


@dataclass(frozen=True, kw_only=True)
class CustomMetric:
    """A user's metric: its function, what it reads, and its range and better side.

    Attributes
    ----------
    function : callable
        ``f(tp, fp, tn, fn)`` for ``inputs="confusion"``, ``f(y_true, y_pred, y_score)``
        for ``inputs="rows"``.
    inputs : {"confusion", "rows"}
        What the function reads.
    direction : {"higher", "lower", "none"}
        Which side is better (a champion comparison needs one).
    low, high : float
        The range of its values (a bound outside it is refused when the policy is read).
    needs_scores : bool
        A row metric that reads ``y_score`` (undefined without scores).
    """

    function: Callable[..., Any]
    inputs: Inputs
    direction: Direction = "none"
    low: float = -math.inf
    high: float = math.inf
    needs_scores: bool = False

    def __post_init__(self) -> None:
        if not callable(self.function):
            raise MetricInputError("a custom metric wraps a function")
        if self.low > self.high:
            raise MetricInputError(
                f"a custom metric's low {self.low} is above its high {self.high}"
            )

    def spec(self, name: str) -> MetricSpec:
        """Return the metric as a spec on binary confusion counts (``confusion`` inputs only).

        Raises
        ------
        MetricInputError
            For a row metric.
        """
        if self.inputs != "confusion":
            raise MetricInputError(f"{name} reads rows, not confusion counts")
        return MetricSpec(name, (), binary=_cells_formula(name, self.function))


def confusion_metric(
    *, direction: Direction = "none", low: float = -math.inf, high: float = math.inf
) -> Callable[[Callable[..., Any]], CustomMetric]:
    """Make ``f(tp, fp, tn, fn)`` a metric computed from confusion counts (the fast path).

    The function receives numpy arrays of weighted counts of the same shape (one value
    per group, or per group and bootstrap replicate) and returns an array of that shape;
    NaN means undefined.
    """

    def wrap(function: Callable[..., Any]) -> CustomMetric:
        return CustomMetric(
            function=function, inputs="confusion", direction=direction, low=low, high=high
        )

    return wrap


def row_metric(
    *,
    direction: Direction = "none",
    low: float = -math.inf,
    high: float = math.inf,
    needs_scores: bool = False,
) -> Callable[[Callable[..., Any]], CustomMetric]:
    """Make ``f(y_true, y_pred, y_score)`` a metric computed from the rows (the slow path)."""

    def wrap(function: Callable[..., Any]) -> CustomMetric:
        return CustomMetric(
            function=function,
            inputs="rows",
            direction=direction,
            low=low,
            high=high,
            needs_scores=needs_scores,
        )

    return wrap


# -- expected cost ------------------------------------------------------------------------------


def expected_cost_spec(costs: Mapping[str, float]) -> MetricSpec:
    """Return ``expected_cost`` for a cost per confusion cell (missing cells cost 0).

    Parameters
    ----------
    costs : mapping
        Cost of each of ``true_positive``, ``false_positive``, ``true_negative``,
        ``false_negative``.

    Raises
    ------
    MetricInputError
        For an unknown cell name or a cost that is not a finite number.
    """
    c = _cost_vector(costs)

    def formula(w: FloatArray, count: IntArray) -> Computed:
        total = np.asarray(w.sum(axis=(-2, -1)), dtype=np.float64)
        cost = c[0] * w[..., 1, 1] + c[1] * w[..., 0, 1] + c[2] * w[..., 0, 0] + c[3] * w[..., 1, 0]
        empty = total == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            value = np.where(empty, np.nan, cost / np.where(empty, 1.0, total))
        return Computed(value, value, ((empty, NO_WEIGHT),))

    return MetricSpec(EXPECTED_COST, (), binary=formula)


def expected_cost(
    y_true: Any,
    y_pred: Any,
    *,
    costs: Mapping[str, float],
    pos_label: Any = 1,
    sample_weight: Any = None,
) -> float:
    """Return the (weighted) cost of the decisions per row.

    Parameters
    ----------
    y_true, y_pred : array-like
        Actual and predicted labels (binary).
    costs : mapping
        Cost of each confusion cell: ``true_positive``, ``false_positive``,
        ``true_negative``, ``false_negative`` (missing ones cost 0).
    pos_label : scalar, default 1
        The positive label.
    sample_weight : array-like, optional
        Row weights.

    Returns
    -------
    float
        NaN when there are no rows with weight.
    """
    stats = binary_confusion(y_true, y_pred, sample_weight=sample_weight, pos_label=pos_label)
    return float(expected_cost_spec(costs).compute(stats).value[0])


def cost_range(costs: Mapping[str, float]) -> tuple[float, float]:
    """Return the smallest and largest value ``expected_cost`` can take with ``costs``."""
    vector = _cost_vector(costs)
    return float(vector.min()), float(vector.max())


def _cost_vector(costs: Mapping[str, float]) -> FloatArray:
    unknown = [name for name in costs if name not in COST_CELLS]
    if unknown:
        raise MetricInputError(
            f"unknown confusion cell {unknown[0]!r}; costs take {', '.join(COST_CELLS)}"
        )
    vector = np.array([float(costs.get(name, 0.0)) for name in COST_CELLS], dtype=np.float64)
    if not np.all(np.isfinite(vector)):
        raise MetricInputError("every cost must be a finite number")
    return vector


# -- installed metrics ---------------------------------------------------------------------------


def installed_metrics() -> dict[str, str]:
    """Return the metrics installed under ``govml.metrics``: name -> ``module:attribute``.

    Reading the names imports nothing.
    """
    return dict(_entry_points(tuple(sys.path)))


def load_metric(name: str) -> CustomMetric:
    """Import the installed metric ``name`` (an entry point of group ``govml.metrics``).

    Raises
    ------
    MetricInputError
        When no installed package provides it, it cannot be imported, or it is not a
        `CustomMetric`.
    """
    found = installed_metrics()
    if name not in found:
        raise MetricInputError(f"no installed package provides the metric {name!r}")
    return _load(name, found[name], tuple(sys.path))


@functools.lru_cache(maxsize=8)
def _entry_points(path: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    # Keyed on sys.path: a folder added to it (an environment activated in process) is seen.
    points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    return tuple(sorted({(point.name, point.value) for point in points}))


@functools.lru_cache(maxsize=64)
def _load(name: str, value: str, path: tuple[str, ...]) -> CustomMetric:
    point = importlib.metadata.EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)
    try:
        loaded = point.load()
    except Exception as exc:  # the package's own import: any failure is named, in one line
        raise MetricInputError(
            ERR_LOAD.format(name=name, value=value, error=one_line(exc))
        ) from None
    if not isinstance(loaded, CustomMetric):
        kind = type(loaded).__name__
        raise MetricInputError(ERR_NOT_A_METRIC.format(name=name, value=value, kind=kind))
    return loaded


def _cells_formula(name: str, function: Callable[..., Any]) -> Callable[..., Computed]:
    def formula(w: FloatArray, count: IntArray) -> Computed:
        shape = w.shape[:-2]
        try:
            out = function(w[..., 1, 1], w[..., 0, 1], w[..., 0, 0], w[..., 1, 0])
            value = np.asarray(out, dtype=np.float64)
        except Exception as exc:  # the user's code: its failure is the value's reason
            return _undefined(shape, ERR_RAISED.format(name=name, error=one_line(exc)))
        if value.shape != shape:
            if value.size != 1 or math.prod(shape) != 1:
                got = ERR_SHAPE.format(name=name, got=value.shape, expected=shape)
                return _undefined(shape, got)
            value = value.reshape(shape)
        missing = np.isnan(value)
        return Computed(value, value, ((missing, NO_VALUE.format(name=name)),))

    return formula


def _undefined(shape: tuple[int, ...], reason: str) -> Computed:
    nan = np.full(shape, np.nan)
    return Computed(nan, nan, ((np.ones(shape, dtype=np.bool_), reason),))


@dataclass(frozen=True, eq=False)
class RowValues:
    """The rows a row metric reads: outcomes, predictions and scores (or None).

    For a binary task the labels are 1 for the positive label and 0 otherwise.
    """

    y_true: Any
    y_pred: Any
    y_score: Any

    @property
    def n_rows(self) -> int:
        """The number of rows."""
        return len(self.y_true)


def row_value(name: str, metric: CustomMetric, rows: RowValues) -> float:
    """Call a row metric once on the rows; NaN when it has no value.

    Raises
    ------
    MetricInputError
        When the function raises (its error in one line) or returns something that is not
        one number.
    """
    try:
        out = metric.function(rows.y_true, rows.y_pred, rows.y_score)
    except Exception as exc:  # the user's code: its failure is named, in one line
        raise MetricInputError(ERR_RAISED.format(name=name, error=one_line(exc))) from None
    array = np.asarray(out, dtype=np.float64) if _is_number(out) else None
    if array is None or array.shape != ():
        raise MetricInputError(f"{name} returned {type(out).__name__}, not one number")
    return float(array)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.number) and not isinstance(value, bool)


def one_line(exc: BaseException) -> str:
    """Return ``Type: first line of the message`` of an exception, at most 300 characters."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0].strip()}" if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:299] + "…"
