"""``MetricFrame``'s bootstrap (``n_boot``, ``ci_quantiles``, ``random_state``), as Fairlearn's.

Each replicate draws N rows with replacement from the N rows and computes every group value
and overall value again; the intervals are quantiles (numpy's default, linear) of the
replicates, for ``by_group``, ``overall`` and each aggregate. How a replicate is computed
depends on the metric, as for the nominal values:

- **Confusion counts** (TPR, selection rate, accuracy, ...): only how many rows each cell
  group × label × prediction draws matters, which is one multinomial draw over the cells
  (:func:`govml.metrics.bootstrap.resample`); all replicates cost milliseconds whatever N.
  With sample weights a drawn row carries its cell's mean weight.
- **Row counts** (``count``): a multinomial draw over the groups.
- **Scores and regression moments** (ROC AUC, MSE, ...): the statistics again, with each
  row weighted by how often it was drawn: one vectorised pass per replicate.
- **Any other callable**: called on each group's drawn rows, one call per group per
  replicate, as Fairlearn does.

A group no row of a replicate falls in is NaN in that replicate, and quantiles skip NaN
(numpy's ``nanquantile``), for every result. Fairlearn skips them for DataFrames only; for
its Series results (a single metric's ``overall_ci`` without control features, the
aggregates without control features) one NaN replicate makes the quantile NaN, where govml
reports the quantile of the replicates that have a value.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from govml.metrics._aggregate import Method
from govml.metrics._cells import Cells
from govml.metrics._confusion import BinaryConfusion, MulticlassConfusion
from govml.metrics._frame_tables import Aggregate, Layout, aggregate, numeric
from govml.metrics._frame_values import (
    Column,
    Inputs,
    RowCaller,
    Source,
    Values,
    overall_stats,
    reweighted,
)
from govml.metrics._validate import MetricInputError
from govml.metrics.bootstrap import regroup, resample

BOOTSTRAP_NEED_N_AND_CI = "Must specify both n_boot and ci_quantiles"
BOOTSTRAP_N_BOOT = "Must have n_boot be a positive integer"
BOOTSTRAP_CI_INVALID = "Must have all ci_quantiles be floats in (0, 1)"
BOOTSTRAP_NOT_INITIALIZED = (
    "Could not compute confidence intervals:"
    " Bootstrapping parameters n_boot and ci_quantiles were not specified"
    " in the MetricFrame constructor."
)
BOOTSTRAP_NON_SCALAR = (
    "Error calling numpy.quantiles. Most likely due to a metric returning a non-scalar result"
)
UNSUPPORTED_RANDOM_STATE = "Unsupported random_state: {0}"

FloatArray = NDArray[np.float64]


def bootstrap_requested(n_boot: Any, ci_quantiles: Any) -> bool:
    """Return whether the arguments ask for a bootstrap, checking them as Fairlearn does.

    Raises
    ------
    MetricInputError
        When only one of them is given, ``n_boot`` is not a positive integer, or a quantile
        is not a float in (0, 1).
    """
    has_quantiles = ci_quantiles is not None and len(ci_quantiles) > 0
    if n_boot is None and not has_quantiles:
        return False
    if n_boot is None or not has_quantiles:
        raise MetricInputError(BOOTSTRAP_NEED_N_AND_CI)
    if isinstance(n_boot, bool) or not isinstance(n_boot, numbers.Integral) or n_boot < 1:
        raise MetricInputError(BOOTSTRAP_N_BOOT)
    for quantile in ci_quantiles:
        if not isinstance(quantile, float) or not 0 < quantile < 1:
            raise MetricInputError(BOOTSTRAP_CI_INVALID)
    return True


def generator(random_state: Any) -> np.random.Generator:
    """Return a numpy Generator for ``random_state`` (None, an int, RandomState, Generator).

    Raises
    ------
    MetricInputError
        For anything else, in Fairlearn's words.
    """
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, np.iinfo(np.uint32).max))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.default_rng(int(random_state))
    raise MetricInputError(UNSUPPORTED_RANDOM_STATE.format(random_state))


@dataclass(frozen=True, eq=False)
class Intervals:
    """Replicated values of a frame, and their quantiles shaped like the nominal results."""

    layout: Layout
    quantiles: list[float]
    table: FloatArray  # (n_boot, n_product, n_metrics)
    overall_table: FloatArray  # (n_boot, n_control_product, n_metrics)

    @property
    def by_group(self) -> list[Any]:
        """One ``by_group``-shaped result per quantile."""
        cells = self.layout.cells
        out = []
        for values in _quantiles(self.table, self.quantiles):
            frame = pd.DataFrame(values, index=cells.index(), columns=self.layout.columns())
            out.append(self.layout.shape(frame))
        return out

    @property
    def overall(self) -> list[Any]:
        """One ``overall``-shaped result per quantile."""
        return self._shaped(_quantiles(self.overall_table, self.quantiles))

    def aggregate(self, which: Aggregate, method: Method) -> list[Any]:
        """One result per quantile, shaped like the aggregate ``which``."""
        values = aggregate(self.table, self.overall_table, self.layout.cells, which, method)
        return self._shaped(_quantiles(values, self.quantiles))

    def _shaped(self, per_quantile: FloatArray) -> list[Any]:
        index = self.layout.cells.control_index()
        out = []
        for values in per_quantile:
            if index is None:
                table: pd.DataFrame | pd.Series[Any] = pd.Series(
                    values[0], index=self.layout.columns()
                )
            else:
                table = pd.DataFrame(values, index=index, columns=self.layout.columns())
            out.append(self.layout.shape(table))
        return out


def replicate(
    values: Sequence[Values],
    columns: Sequence[Column],
    inputs: Inputs,
    layout: Layout,
    *,
    n_boot: int,
    quantiles: list[float],
    random_state: Any,
    min_group_size: int | None,
) -> Intervals:
    """Draw ``n_boot`` replicates of every metric of a frame.

    Raises
    ------
    MetricInputError
        For a bad ``random_state``, or a metric whose values are not numbers (a quantile
        of confusion matrices is not defined).
    """
    rng = generator(random_state)
    for metric in values:
        if numeric([metric.cells])[1] or numeric([metric.overall])[1]:
            raise MetricInputError(BOOTSTRAP_NON_SCALAR) from _why_not_scalar(metric)
    cells = inputs.cells
    per_cell: list[FloatArray | None] = [None] * len(values)
    per_control: list[FloatArray | None] = [None] * len(values)
    _confusion_replicates(values, cells, n_boot, rng, per_cell, per_control)
    _row_replicates(values, columns, inputs, n_boot, rng, per_cell, per_control)
    table = np.full((n_boot, cells.n_product, len(values)), np.nan)
    overall = np.full((n_boot, cells.n_control_product, len(values)), np.nan)
    small = None if min_group_size is None else cells.n_rows < min_group_size
    for m in range(len(values)):
        cell_values, control_values = per_cell[m], per_control[m]
        assert cell_values is not None and control_values is not None
        if small is not None:
            cell_values[:, small] = np.nan
        table[:, cells.position, m] = cell_values
        overall[:, cells.observed_controls, m] = control_values
    return Intervals(layout=layout, quantiles=quantiles, table=table, overall_table=overall)


def _confusion_replicates(
    values: Sequence[Values],
    cells: Cells,
    n_boot: int,
    rng: np.random.Generator,
    per_cell: list[FloatArray | None],
    per_control: list[FloatArray | None],
) -> None:
    """Fill in ``count`` and the metrics read from confusion counts: multinomial draws."""
    control = _observed_control_index(cells)
    n_controls = len(cells.observed_controls)
    drawn: dict[int, tuple[FloatArray, NDArray[np.int64]]] = {}
    for m, metric in enumerate(values):
        known, stats = metric.known, metric.stats
        if known is not None and known.spec is None:
            total = int(cells.n_rows.sum())
            rows = rng.multinomial(total, cells.n_rows / total, size=n_boot).astype(np.float64)
            onehot = np.zeros((len(control), n_controls))
            onehot[np.arange(len(control)), control] = 1.0
            totals = rows @ onehot
            per_cell[m] = np.where(rows > 0, rows, np.nan)
            per_control[m] = np.where(totals > 0, totals, np.nan)
            continue
        if known is None or known.spec is None:
            continue
        if not isinstance(stats, BinaryConfusion | MulticlassConfusion):
            continue
        if id(stats) not in drawn:  # metrics reading the same counts share the draws
            drawn[id(stats)] = resample(stats, n_boot=n_boot, stratified=False, rng=rng)
        weight, count = drawn[id(stats)]
        spec = known.spec
        formula = spec.binary if isinstance(stats, BinaryConfusion) else spec.multiclass
        assert formula is not None
        per_cell[m] = _where_rows(count, formula(weight, count).compat)
        control_weight, control_count = regroup(weight, count, control, n_controls)
        per_control[m] = _where_rows(control_count, formula(control_weight, control_count).compat)


def _where_rows(count: NDArray[Any], values: FloatArray) -> FloatArray:
    """Return ``values`` with NaN where a replicate drew no row of the group."""
    return np.where(count.sum(axis=(-2, -1)) > 0, values, np.nan)


def _row_replicates(
    values: Sequence[Values],
    columns: Sequence[Column],
    inputs: Inputs,
    n_boot: int,
    rng: np.random.Generator,
    per_cell: list[FloatArray | None],
    per_control: list[FloatArray | None],
) -> None:
    """Fill in the other metrics replicate by replicate, all from the same drawn rows."""
    todo = [m for m in range(len(values)) if per_cell[m] is None]
    if not todo:
        return
    cells = inputs.cells
    n_rows = inputs.n_rows
    n_controls = len(cells.observed_controls)
    cell_out = {m: np.full((n_boot, cells.n_cells), np.nan) for m in todo}
    control_out = {m: np.full((n_boot, n_controls), np.nan) for m in todo}
    callers = {
        m: RowCaller(function, columns[m].params, inputs)
        for m in todo
        if values[m].source is None and (function := columns[m].callable) is not None
    }
    for b in range(n_boot):
        draw = Draw(cells, rng.integers(0, n_rows, n_rows))
        for m in todo:
            source = values[m].source
            if source is not None:
                cell_out[m][b], control_out[m][b] = _reweighted(
                    values[m], source, inputs, draw.multiplicity(n_rows)
                )
                cell_out[m][b][draw.cell_rows == 0] = np.nan
                continue
            caller = callers[m]
            for cell in np.flatnonzero(draw.cell_rows):
                cell_out[m][b, cell] = _number(caller.on(draw.rows(int(cell))))
            for i, rows in enumerate(draw.control_rows()):
                if len(rows):
                    control_out[m][b, i] = _number(caller.on(rows))
    for m in todo:
        per_cell[m], per_control[m] = cell_out[m], control_out[m]


class Draw:
    """One replicate's drawn rows, grouped by cell and by control combination."""

    def __init__(self, cells: Cells, drawn: NDArray[np.int64]) -> None:
        self._cells = cells
        self.drawn = drawn
        cell_of_drawn = cells.codes[drawn]
        self._order = np.argsort(cell_of_drawn, kind="stable")
        self.cell_rows = np.bincount(cell_of_drawn, minlength=cells.n_cells)
        self._starts = np.concatenate([[0], np.cumsum(self.cell_rows)])
        self._control_of_drawn = cells.control[cell_of_drawn]

    def multiplicity(self, n_rows: int) -> FloatArray:
        """How often each row was drawn."""
        return np.bincount(self.drawn, minlength=n_rows).astype(np.float64)

    def rows(self, cell: int) -> NDArray[np.int64]:
        """Return the drawn rows of ``cell``."""
        return self.drawn[self._order[self._starts[cell] : self._starts[cell + 1]]]

    def control_rows(self) -> list[NDArray[np.int64]]:
        """Return the drawn rows of each observed control combination."""
        return [
            self.drawn[self._control_of_drawn == position]
            for position in self._cells.observed_controls
        ]


def _reweighted(
    metric: Values, source: Source, inputs: Inputs, multiplicity: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Return a replicate of a metric read from scores or moments: rows weighted by draws."""
    known = metric.known
    assert known is not None and known.spec is not None
    stats = reweighted(source, inputs, multiplicity)
    cell_values = known.spec.compute(stats).compat
    control_values = known.spec.compute(overall_stats(stats, inputs.cells)).compat
    return np.asarray(cell_values, dtype=np.float64), np.asarray(control_values, dtype=np.float64)


def _observed_control_index(cells: Cells) -> NDArray[np.intp]:
    """Return each cell's position among the observed control combinations."""
    return np.asarray(np.searchsorted(cells.observed_controls, cells.control), dtype=np.intp)


def _why_not_scalar(metric: Values) -> Exception | None:
    # What numpy says when it compares such a value, as the cause (Fairlearn's quantile
    # of an array of arrays fails on the same comparison).
    for value in [*metric.cells, *metric.overall]:
        try:
            bool(value)
        except (TypeError, ValueError) as exc:
            return exc
    return None


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise MetricInputError(BOOTSTRAP_NON_SCALAR) from exc


def _quantiles(replicates: FloatArray, quantiles: list[float]) -> FloatArray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a value no replicate has is NaN
        return np.asarray(np.nanquantile(replicates, quantiles, axis=0), dtype=np.float64)
