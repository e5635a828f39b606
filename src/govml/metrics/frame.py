"""``MetricFrame``: Fairlearn's, with any metric, computed from statistics wherever it can be.

The constructor takes Fairlearn's arguments (``metrics``, ``y_true``, ``y_pred``,
``sensitive_features``, ``control_features``, ``sample_params``, ``n_boot``,
``ci_quantiles``, ``random_state``) and gives Fairlearn's results: the same properties and
methods, returning pandas objects with the same index, column names and dtypes, raising
``ValueError`` (:class:`MetricInputError`) with Fairlearn's messages.

How each metric is computed:

- **From statistics (fast).** scikit-learn's, Fairlearn's and govml's metric functions
  (also in ``functools.partial`` with options the statistics cover), and govml's metric
  names (``"selection_rate"``), are read off per-group statistics built in one vectorised
  pass (confusion counts, score samples, regression moments), shared between the metrics
  that read the same counts. A group the statistics leave undefined (a 0/0) is handed to
  the function itself, so its value is the function's own.
- **On the rows (slow).** Any other callable (a lambda, ``confusion_matrix``,
  ``functools.partial(recall_score, average="macro")``) is called with each group's rows,
  as Fairlearn does; its cost is the function's, times the number of groups. Nothing is
  refused: results that are not numbers (a confusion matrix per group) are kept as they are.

The bootstrap (``n_boot``, ``ci_quantiles``) resamples the rows with replacement, as
Fairlearn does; for confusion-count metrics a replicate is one multinomial draw over the
cells group × label × prediction (see :mod:`govml.metrics.bootstrap`), so its cost does not
grow with the rows. See :mod:`govml.metrics._frame_bootstrap`.

govml adds keyword arguments of its own: metric names and lists of metrics,
``sample_weight`` (a ``sample_weight`` sample parameter for every metric), ``pos_label``
(for metric names), ``missing="group"`` (a missing feature value forms its own group) and
``min_group_size`` (smaller groups are NaN and take no part in the aggregates), and
:meth:`MetricFrame.bootstrap` for the named fairness aggregates' intervals.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Hashable, Mapping
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from govml.metrics._aggregate import Method
from govml.metrics._base_metrics import as_rows
from govml.metrics._catalogue import Known, recognise
from govml.metrics._cells import group_cells
from govml.metrics._confusion import BinaryConfusion, MulticlassConfusion
from govml.metrics._features import (
    CONTROL_BASE,
    SENSITIVE_BASE,
    check_unique_names,
    feature_columns,
)
from govml.metrics._frame_bootstrap import Intervals, bootstrap_requested, replicate
from govml.metrics._frame_tables import Aggregate, Layout, aggregate
from govml.metrics._frame_values import (
    Column,
    Inputs,
    StatsCache,
    Values,
    fast_values,
    row_values,
)
from govml.metrics._groups import Groups, MissingPolicy
from govml.metrics._registry import Stats
from govml.metrics._validate import EMPTY_INPUT, LENGTH_MISMATCH, MetricInputError
from govml.metrics.bootstrap import NOT_CONFUSION, BootstrapResult, bootstrap

METRIC_NONE = "Found 'None' instead of metric function"
METRIC_NOT_CALLABLE = "Object passed as metric function not callable"
UNNAMED_METRIC = "Supplied 'func' had no __name__ attribute"
SAMPLE_PARAMS_NOT_DICT = "Sample parameters must be a dictionary"
SAMPLE_PARAM_KEYS_NOT_METRICS = "Keys in 'sample_params' do not match those in 'metric'"
NAME_TAKES_WEIGHTS_ONLY = (
    "metric {name!r} is given by name, which takes only a sample_weight sample parameter; "
    "got {params}"
)
NO_METRICS = "MetricFrame needs at least one metric"
INVALID_COMPARE_METHOD = "Unrecognised comparison method: {0}"
INVALID_ERRORS = "Invalid error value specified. Valid values are ['raise', 'coerce']"
NON_SCALAR_CELLS = (
    "Metric frame contains non-scalar cells. Please remove non-scalar columns from your"
    " metric frame or use parameter errors='coerce'."
)
NOT_ONE_STATISTICS = (
    "MetricFrame.bootstrap resamples the confusion counts of metrics that share them; "
    "these metrics have {count} sets of statistics ({kinds}); use n_boot= and ci_quantiles="
)
Errors = Literal["raise", "coerce"]
_DEFAULT_NAME = "metric"


class MetricFrame:
    """Metrics per group, overall, and their extremes, differences and ratios.

    Parameters
    ----------
    metrics : callable, dict of name to callable, str or list
        A callable (or metric name) gives Series / scalar results, a dict or list gives
        DataFrame / Series results with one column per metric, as in Fairlearn. Callables
        are called as ``f(y_true, y_pred, **sample_params)``.
    y_true, y_pred : array-like
        Actual values and predictions (labels, scores, probabilities per class, values).
    sensitive_features : array-like, Series, DataFrame, dict of columns, 2-D array
        The features whose combinations are the groups.
    control_features : same types as ``sensitive_features``, optional
        Features the results are split by, with no aggregation across them.
    sample_params : dict, optional
        For a single metric, sample parameters (arrays as long as ``y_true``) by name; for
        a dict of metrics, such a dict per metric name.
    n_boot : int, optional
        Bootstrap replicates for confidence intervals (with ``ci_quantiles``).
    ci_quantiles : list of float, optional
        Quantiles of the replicates to report, each in (0, 1).
    random_state : int, numpy RandomState or Generator, optional
        Seed of the bootstrap.
    sample_weight : array-like, optional
        Row weights given to every metric as its ``sample_weight`` (govml).
    pos_label : scalar, default 1
        The positive label of metrics given by name (govml).
    missing : {"error", "group"}, default "error"
        What a missing feature value does: raise, or form its own group (govml).
    min_group_size : int, optional
        Groups with fewer rows are NaN and take no part in the aggregates (govml).

    Raises
    ------
    MetricInputError
        A ``ValueError``: on inputs Fairlearn refuses (with its messages) and on unknown
        metric names (with the closest one). Errors a metric function raises on a group's
        rows propagate unchanged.
    """

    def __init__(
        self,
        *,
        metrics: Any,
        y_true: Any,
        y_pred: Any,
        sensitive_features: Any,
        control_features: Any = None,
        sample_params: Mapping[str, Any] | None = None,
        n_boot: int | None = None,
        ci_quantiles: list[float] | None = None,
        random_state: int | np.random.RandomState | np.random.Generator | None = None,
        sample_weight: Any = None,
        pos_label: Any = 1,
        missing: MissingPolicy = "error",
        min_group_size: int | None = None,
    ) -> None:
        truth, pred = as_rows(y_true), as_rows(y_pred)
        n_rows = _check_rows(truth, pred)
        labels, columns, self._single = _resolve(metrics, sample_params, sample_weight, pos_label)
        sensitive = feature_columns(sensitive_features, base=SENSITIVE_BASE, n_rows=n_rows)
        control = (
            []
            if control_features is None
            else feature_columns(control_features, base=CONTROL_BASE, n_rows=n_rows)
        )
        check_unique_names([name for name, _ in sensitive + control])
        cells = group_cells(control, sensitive, n_rows, missing=missing)
        self._inputs = Inputs(y_true=truth, y_pred=pred, cells=cells)
        self._statistics = StatsCache(self._inputs)
        self._columns = columns
        self._values = [self._compute(column) for column in columns]
        self._layout = Layout(labels=labels, single=self._single, cells=cells)
        self._min_group_size = min_group_size
        self._n_boot = n_boot
        self._ci_quantiles = ci_quantiles
        self._intervals: Intervals | None = None
        if bootstrap_requested(n_boot, ci_quantiles):
            assert n_boot is not None and ci_quantiles is not None
            self._intervals = replicate(
                self._values,
                columns,
                self._inputs,
                self._layout,
                n_boot=n_boot,
                quantiles=ci_quantiles,
                random_state=random_state,
                min_group_size=min_group_size,
            )

    # -- what the frame was built from -------------------------------------------------------

    @property
    def sensitive_levels(self) -> list[str]:
        """The sensitive features' names (levels of the ``by_group`` index)."""
        return self._inputs.cells.sensitive_names

    @property
    def control_levels(self) -> list[str] | None:
        """The control features' names, or None without control features."""
        names = self._inputs.cells.control_names
        return names or None

    @property
    def n_boot(self) -> int | None:
        """The number of bootstrap replicates asked for."""
        return self._n_boot

    @property
    def ci_quantiles(self) -> list[float] | None:
        """The quantiles of the replicates asked for."""
        return self._ci_quantiles

    @property
    def groups(self) -> Groups:
        """The observed groups: combinations of control then sensitive features' values."""
        return self._inputs.cells.groups

    @property
    def stats(self) -> tuple[Stats, ...]:
        """The statistics the recognised metrics were computed from (one per kind of input)."""
        return tuple(self._statistics.built)

    # -- results ------------------------------------------------------------------------------

    @property
    def overall(self) -> Any:
        """The metrics over all rows (per control combination with control features).

        A single metric without control features gives its value; with them, a Series
        indexed by the control combinations. Several metrics give a Series indexed by
        their names, or a DataFrame.
        """
        return self._layout.shape(self._overall_table)

    @property
    def by_group(self) -> pd.Series[Any] | pd.DataFrame:
        """The metrics per combination of every feature's values (NaN where no row has it)."""
        table: pd.Series[Any] | pd.DataFrame = self._layout.shape(self._by_group_table)
        return table

    def group_min(self, errors: Errors = "raise") -> Any:
        """Return each metric's smallest group value (within each control combination).

        Parameters
        ----------
        errors : {"raise", "coerce"}, default "raise"
            What a value that is not a number does: raise, or count as NaN.
        """
        return self._aggregate("group_min", "between_groups", errors)

    def group_max(self, errors: Errors = "raise") -> Any:
        """Return each metric's largest group value (within each control combination).

        Parameters are those of :meth:`group_min`.
        """
        return self._aggregate("group_max", "between_groups", errors)

    def difference(self, method: Method = "between_groups", errors: Errors = "coerce") -> Any:
        """Return max − min across groups, or the largest |group − overall|.

        Parameters
        ----------
        method : {"between_groups", "to_overall"}, default "between_groups"
            Compare the groups with each other or with the overall value.
        errors : {"raise", "coerce"}, default "coerce"
            What a value that is not a number does: raise, or count as NaN.
        """
        return self._aggregate("difference", method, errors)

    def ratio(self, method: Method = "between_groups", errors: Errors = "coerce") -> Any:
        """Return min / max across groups, or the smallest group / overall ratio (at most 1).

        Parameters are those of :meth:`difference`.
        """
        return self._aggregate("ratio", method, errors)

    # -- confidence intervals ---------------------------------------------------------------

    @property
    def overall_ci(self) -> list[Any]:
        """The quantiles of ``overall`` over the bootstrap replicates, one per quantile."""
        return self._require_intervals().overall

    @property
    def by_group_ci(self) -> list[Any]:
        """The quantiles of ``by_group`` over the bootstrap replicates, one per quantile."""
        return self._require_intervals().by_group

    def group_min_ci(self) -> list[Any]:
        """Return the quantiles of :meth:`group_min` over the replicates."""
        return self._require_intervals().aggregate("group_min", "between_groups")

    def group_max_ci(self) -> list[Any]:
        """Return the quantiles of :meth:`group_max` over the replicates."""
        return self._require_intervals().aggregate("group_max", "between_groups")

    def difference_ci(self, method: Method = "between_groups") -> list[Any]:
        """Return the quantiles of :meth:`difference` over the replicates."""
        _check_method(method)
        return self._require_intervals().aggregate("difference", method)

    def ratio_ci(self, method: Method = "between_groups") -> list[Any]:
        """Return the quantiles of :meth:`ratio` over the replicates."""
        _check_method(method)
        return self._require_intervals().aggregate("ratio", method)

    def bootstrap(
        self,
        *,
        n_boot: int = 1000,
        confidence: float = 0.95,
        stratified: bool = False,
        random_state: int | np.random.Generator | None = None,
    ) -> BootstrapResult:
        """Return percentile intervals of every group metric and named fairness aggregate.

        See :func:`govml.metrics.bootstrap`: intervals in the strict reading (an undefined
        group makes an aggregate undefined), optionally stratified by group. The metrics
        must be read from one set of confusion counts (classification metrics of labels).

        Raises
        ------
        MetricInputError
            When the metrics are not all computed from the same confusion counts.
        """
        stats = {id(v.stats): v.stats for v in self._values if v.stats is not None}
        specs = [v.known.spec for v in self._values if v.known is not None]
        only = next(iter(stats.values())) if len(stats) == 1 else None
        if len(specs) != len(self._values) or any(s is None for s in specs) or only is None:
            kinds = ", ".join(sorted({type(s).__name__ for s in stats.values()})) or "none"
            raise MetricInputError(NOT_ONE_STATISTICS.format(count=len(stats), kinds=kinds))
        if not isinstance(only, BinaryConfusion | MulticlassConfusion):
            raise MetricInputError(NOT_CONFUSION.format(kind=only.kind))
        return bootstrap(
            only,
            metrics=[spec for spec in specs if spec is not None],
            n_boot=n_boot,
            confidence=confidence,
            stratified=stratified,
            random_state=random_state,
            min_group_size=self._min_group_size,
        )

    # -- internals ----------------------------------------------------------------------------

    def _compute(self, column: Column) -> Values:
        known = column.known
        if known is None:
            return row_values(column, self._inputs)
        if known.spec is None:
            return fast_values(column, None, self._inputs)
        try:
            stats = self._statistics.get(known, column.params.get("sample_weight"))
        except MetricInputError:
            if column.callable is None:
                raise
            stats = None  # weights the function may accept (negative ones): its call
        if stats is not None:
            return fast_values(column, stats, self._inputs)
        if column.callable is None:
            self._statistics.raise_for(known, column.params.get("sample_weight"))
        return row_values(column, self._inputs)

    @cached_property
    def _by_group_table(self) -> pd.DataFrame:
        return self._layout.by_group(self._values, min_group_size=self._min_group_size)

    @cached_property
    def _overall_table(self) -> pd.DataFrame | pd.Series[Any]:
        return self._layout.overall(self._values)

    @cached_property
    def _numeric(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], bool]:
        return self._layout.numeric(self._values, min_group_size=self._min_group_size)

    def _aggregate(self, which: Aggregate, method: Method, errors: str) -> Any:
        if errors not in ("raise", "coerce"):
            raise MetricInputError(INVALID_ERRORS)
        _check_method(method)
        table, overall, coerced = self._numeric
        if errors == "raise" and coerced:
            raise MetricInputError(NON_SCALAR_CELLS)
        values = aggregate(table, overall, self._inputs.cells, which, method)
        dtypes = self._by_group_table.dtypes
        integer = [which != "ratio" and dtype == np.int64 for dtype in dtypes]
        return self._layout.aggregate_table(values, integer=integer)

    def _require_intervals(self) -> Intervals:
        if self._intervals is None:
            from govml.metrics._frame_bootstrap import BOOTSTRAP_NOT_INITIALIZED

            raise MetricInputError(BOOTSTRAP_NOT_INITIALIZED)
        return self._intervals


def _check_rows(truth: np.ndarray[Any, Any], pred: np.ndarray[Any, Any]) -> int:
    if len(truth) != len(pred):
        raise MetricInputError(
            LENGTH_MISMATCH.format(
                first="y_true", first_len=len(truth), second="y_pred", second_len=len(pred)
            )
        )
    if len(truth) == 0:
        raise MetricInputError(EMPTY_INPUT.format(name="y_true"))
    return len(truth)


def _check_method(method: str) -> None:
    if method not in ("between_groups", "to_overall"):
        raise MetricInputError(INVALID_COMPARE_METHOD.format(method))


def _resolve(
    metrics: Any, sample_params: Any, sample_weight: Any, pos_label: Any
) -> tuple[list[Hashable], list[Column], bool]:
    """Return the metrics' labels and columns, and whether a single metric was given."""
    if sample_params is not None and not isinstance(sample_params, Mapping):
        raise MetricInputError(SAMPLE_PARAMS_NOT_DICT)
    params: Mapping[str, Any] = sample_params or {}
    items: list[tuple[Hashable, Any, Any]]
    if isinstance(metrics, Mapping):
        if not set(params) <= set(metrics):
            raise MetricInputError(SAMPLE_PARAM_KEYS_NOT_METRICS)
        items = [(label, metric, params.get(label, {})) for label, metric in metrics.items()]
        single = False
    elif isinstance(metrics, list | tuple):
        labels = [_label(metric) for metric in metrics]
        nested = bool(params) and all(
            key in labels and isinstance(value, Mapping) for key, value in params.items()
        )
        items = [
            (label, metric, params.get(str(label), {}) if nested else params)
            for label, metric in zip(labels, metrics, strict=True)
        ]
        single = False
    else:
        items = [(_label(metrics), metrics, params)]
        single = True
    if not items:
        raise MetricInputError(NO_METRICS)
    columns = [
        _column(label, metric, own, sample_weight, pos_label) for label, metric, own in items
    ]
    return [label for label, _, _ in items], columns, single


def _label(metric: Any) -> Hashable:
    if isinstance(metric, str):
        return metric
    name = getattr(metric, "__name__", None)
    if name is None:
        if metric is not None and callable(metric):
            warnings.warn(UNNAMED_METRIC, UserWarning, stacklevel=4)
        return _DEFAULT_NAME
    return str(name)


def _column(
    label: Hashable, metric: Any, params: Any, sample_weight: Any, pos_label: Any
) -> Column:
    if metric is None:
        raise MetricInputError(METRIC_NONE)
    if not isinstance(metric, str) and not callable(metric):
        raise MetricInputError(METRIC_NOT_CALLABLE)
    if not isinstance(params, Mapping):
        raise MetricInputError(SAMPLE_PARAMS_NOT_DICT)
    given = {str(name): value for name, value in params.items() if value is not None}
    if sample_weight is not None:
        given.setdefault("sample_weight", sample_weight)
    known: Known | None = recognise(metric)
    if isinstance(metric, str):
        assert known is not None
        extra = sorted(set(given) - {"sample_weight"})
        if extra:
            raise MetricInputError(NAME_TAKES_WEIGHTS_ONLY.format(name=metric, params=extra))
        known = dataclasses.replace(known, pos_label=pos_label)
    elif known is not None and set(given) - {"sample_weight"}:
        known = None  # parameters statistics know nothing of: the function takes them
    return Column(label=label, metric=metric, params=given, known=known)
