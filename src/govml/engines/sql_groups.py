"""Group statistics in SQL: confusion counts, regression moments and score histograms.

Each is one ``GROUP BY`` over the sensitive features (and the labels, or a score bin) with
``SUM`` and ``COUNT``, preceded by one aggregate that checks the inputs as the numpy path
does (missing labels, bad weights, scores outside the bins), with the same messages. The
grouped rows are few (groups × labels × labels, or × bins), so they are put in order in
Python exactly as :func:`~govml.metrics._groups.encode_groups` orders them: numbers, then
strings, the missing-value group last.

Score bins: a score's bin is ``floor((s − lo) / (hi − lo) · n)`` unless it lies within
1e-6 of a bin's width of an edge; those scores (few: only values that sit on an edge) are
binned by numpy's own ``searchsorted`` on the edges, so every row lands in the same bin as
on the numpy path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from govml.engines.sql_source import NUMERIC_TYPES, SqlSource, as_double, count_if, double, is_nan
from govml.metrics import BinaryConfusion, MulticlassConfusion, RegressionMoments, ScoreHistogram
from govml.metrics._groups import (
    BAD_GROUP_VALUE,
    MISSING_HINT,
    MISSING_SENSITIVE,
    GroupKey,
    Groups,
    MissingPolicy,
)
from govml.metrics._scores import DEFAULT_BINS, SCORE_OUT_OF_RANGE
from govml.metrics._validate import (
    BAD_WEIGHTS,
    EMPTY_INPUT,
    MISSING_LABELS,
    NOT_BINARY,
    NOT_FINITE,
    NOT_NUMERIC,
    POS_LABEL_NOT_FOUND,
    MetricInputError,
    describe_values,
    is_missing,
    sort_key,
    to_python,
)

# Labels beyond this many distinct values are not a classification target.
MAX_LABELS = 1_000
_NEAR = 1e-6
_EPS = float(np.finfo(np.float64).eps)
_JSON_SCALARS = (str, int, float, bool, type(None))


class _Query:
    """The quoted columns of one statistics request and the checks they share."""

    def __init__(
        self,
        source: SqlSource,
        *,
        labels: Sequence[str],
        sensitive: Sequence[str],
        weight: str | None,
    ) -> None:
        self.source = source
        self.labels = list(labels)
        self.sensitive = list(sensitive)
        self.weight = weight
        self.types = {name: source.checked_type(name) for name in (*labels, *sensitive)}
        if weight is not None:
            self.types[weight] = source.checked_type(weight, NUMERIC_TYPES)
        self.keys = [source.quote(name) for name in sensitive]
        self.w = "1" if weight is None else as_double(source.quote(weight))

    def missing(self, name: str) -> str:
        """Return the condition of a missing value (null, or NaN in a float column)."""
        quoted = self.source.quote(name)
        if self.types[name] == "float64":
            return f"({quoted} IS NULL OR {is_nan(quoted)})"
        return f"{quoted} IS NULL"

    def check(self, what: str, cap: int, extra: Sequence[str] = ()) -> tuple[bool, list[Any]]:
        """Run every input check in one pass; return whether labels may be many, and extras.

        Checks, in the numpy path's order and with its messages: rows present, weights
        finite and non-negative, labels present. The first result is True when a label
        column may hold more than ``cap`` distinct values (an approximate count says so).

        Raises
        ------
        MetricInputError
            On empty data, bad weights or missing labels.
        """
        parts = ["COUNT(*)"]
        if self.weight is not None:
            w = as_double(self.source.quote(self.weight))
            bad = f"{w} IS NULL OR isnan({w}) OR abs({w}) = {double(math.inf)}"
            parts += [count_if(bad), f"MIN({w})"]
        parts += [count_if(self.missing(n)) for n in self.labels]
        parts += [f"approx_count_distinct({self.source.quote(n)})" for n in self.labels]
        parts += list(extra)
        (row,) = self.source.rows(f"SELECT {', '.join(parts)} FROM {self.source.table}")
        values = list(row)
        if not values.pop(0):
            raise MetricInputError(EMPTY_INPUT.format(name="y_true"))
        if self.weight is not None:
            bad_count, lowest = values.pop(0), values.pop(0)
            if bad_count:
                raise MetricInputError(BAD_WEIGHTS.format(problem="NaN or infinite values"))
            if lowest is not None and lowest < 0:
                raise MetricInputError(BAD_WEIGHTS.format(problem=f"minimum {float(lowest)!r}"))
        k = len(self.labels)
        for role, count in zip(("y_true", "y_pred"), values[:k], strict=False):
            if count and what:
                raise MetricInputError(MISSING_LABELS.format(name=role, count=count, what=what))
        # approx_count_distinct errs by a few percent: leave room before calling it many.
        many = any(int(n or 0) > cap * 1.1 + 2 for n in values[k : 2 * k])
        return many, values[2 * k :]

    def distinct(self, name: str, cap: int) -> list[Any]:
        """Return up to ``cap`` distinct non-missing values of column ``name``."""
        quoted = self.source.quote(name)
        rows = self.source.rows(
            f"SELECT DISTINCT {quoted} FROM {self.source.table} "
            f"WHERE NOT {self.missing(name)} LIMIT {int(cap)}"
        )
        return [to_python(r[0]) for r in rows]

    def grouped(
        self, extra_keys: Sequence[str], aggregates: Sequence[str], where: str = ""
    ) -> list[tuple[Any, ...]]:
        """Return ``GROUP BY`` rows: the group values, the extra keys, then the aggregates."""
        keys = [*self.keys, *extra_keys]
        select = ", ".join([*keys, *aggregates])
        group_by = f" GROUP BY {', '.join(keys)}" if keys else ""
        filtered = f" WHERE {where}" if where else ""
        return self.source.rows(f"SELECT {select} FROM {self.source.table}{filtered}{group_by}")


def _group_key(values: Sequence[Any]) -> GroupKey:
    return tuple(None if is_missing(v) else to_python(v) for v in values)


def _groups(
    rows: Sequence[tuple[Any, ...]], names: Sequence[str], missing: MissingPolicy, count_at: int
) -> tuple[Groups, list[int]]:
    """Return the sorted groups of ``rows`` and each row's group index.

    Raises
    ------
    MetricInputError
        On a missing value when ``missing="error"`` (naming the feature and the count of
        rows), or a group value that is not a string, number or boolean.
    """
    n = len(names)
    keys = [_group_key(row[:n]) for row in rows]
    for f, name in enumerate(names):
        for key in keys:
            value = key[f]
            if not isinstance(value, _JSON_SCALARS):
                raise MetricInputError(BAD_GROUP_VALUE.format(name=name, type=type(value).__name__))
        absent = sum(
            int(row[count_at]) for row, key in zip(rows, keys, strict=True) if key[f] is None
        )
        if absent and missing == "error":
            raise MetricInputError(
                MISSING_SENSITIVE.format(name=name, count=absent), hint=MISSING_HINT
            )
    ordered = sorted(set(keys), key=lambda k: tuple(sort_key(v) for v in k))
    position = {key: i for i, key in enumerate(ordered)}
    groups = Groups(names=tuple(names), keys=tuple(ordered)) if n else Groups.single()
    return groups, [position[key] for key in keys]


def _check_binary(union: list[Any], pos_label: Any) -> None:
    if len(union) > 2:
        raise MetricInputError(NOT_BINARY.format(count=len(union), values=describe_values(union)))
    if len(union) == 2 and pos_label not in union:
        raise MetricInputError(
            POS_LABEL_NOT_FOUND.format(pos_label=pos_label, values=describe_values(union)),
            hint="pass pos_label= with the value that means the positive class",
        )


def _label_values(query: _Query, names: Sequence[str], cap: int) -> list[Any]:
    union: dict[Any, None] = {}
    for name in names:
        union.update(dict.fromkeys(query.distinct(name, cap + 1)))
    return sorted(union, key=sort_key)


def _labels_of(rows: Sequence[tuple[Any, ...]], at: Sequence[int]) -> list[Any]:
    found = {to_python(row[i]) for row in rows for i in at}
    return sorted(found, key=sort_key)


def _cells(
    rows: Sequence[tuple[Any, ...]], index: list[int], shape: tuple[int, ...], cell: Any
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    weight = np.zeros(shape, dtype=np.float64)
    count = np.zeros(shape, dtype=np.int64)
    for row, g in zip(rows, index, strict=True):
        at = (g, *cell(row))
        weight[at] += float(row[-2])
        count[at] += int(row[-1])
    return weight, count


def binary_confusion(
    source: SqlSource,
    *,
    y_true: str,
    y_pred: str,
    sensitive: Sequence[str],
    weight: str | None,
    pos_label: Any,
    missing: MissingPolicy,
) -> BinaryConfusion:
    """Count weighted and unweighted TP, FP, TN, FN per group (see the module docstring)."""
    query = _Query(source, labels=[y_true, y_pred], sensitive=sensitive, weight=weight)
    many, _ = query.check("binary metrics", 2)
    if many:
        _check_binary(_label_values(query, [y_true, y_pred], 2), pos_label)
    n = len(sensitive)
    rows = query.grouped(
        [source.quote(y_true), source.quote(y_pred)], [f"SUM({query.w})", "COUNT(*)"]
    )
    _check_binary(_labels_of(rows, [n, n + 1]), pos_label)
    groups, index = _groups(rows, sensitive, missing, count_at=-1)

    def cell(row: tuple[Any, ...]) -> tuple[int, int]:
        return int(to_python(row[n]) == pos_label), int(to_python(row[n + 1]) == pos_label)

    weights, counts = _cells(rows, index, (len(groups), 2, 2), cell)
    return BinaryConfusion(groups=groups, pos_label=pos_label, weight=weights, count=counts)


def multiclass_confusion(
    source: SqlSource,
    *,
    y_true: str,
    y_pred: str,
    sensitive: Sequence[str],
    weight: str | None,
    missing: MissingPolicy,
) -> MulticlassConfusion:
    """Build the confusion matrices per group over the sorted union of labels."""
    query = _Query(source, labels=[y_true, y_pred], sensitive=sensitive, weight=weight)
    many, _ = query.check("classification metrics", MAX_LABELS)
    if many and len(_label_values(query, [y_true, y_pred], MAX_LABELS)) > MAX_LABELS:
        raise MetricInputError(
            f"classification metrics need at most {MAX_LABELS:,} label values; "
            f"{y_true!r} and {y_pred!r} hold more"
        )
    n = len(sensitive)
    rows = query.grouped(
        [source.quote(y_true), source.quote(y_pred)], [f"SUM({query.w})", "COUNT(*)"]
    )
    labels = _labels_of(rows, [n, n + 1])
    at = {label: i for i, label in enumerate(labels)}
    groups, index = _groups(rows, sensitive, missing, count_at=-1)
    k = len(labels)

    def cell(row: tuple[Any, ...]) -> tuple[int, int]:
        return at[to_python(row[n])], at[to_python(row[n + 1])]

    weights, counts = _cells(rows, index, (len(groups), k, k), cell)
    return MulticlassConfusion(groups=groups, labels=tuple(labels), weight=weights, count=counts)


def _numeric_labels(query: _Query, names: Sequence[str], what: str) -> None:
    """Refuse labels that are not numbers, or are missing or infinite (one pass)."""
    for role, name in zip(("y_true", "y_pred"), names, strict=False):
        if query.types[name] not in NUMERIC_TYPES:
            raise MetricInputError(NOT_NUMERIC.format(name=role, what=what, dtype="object"))
    bad = [
        count_if(
            f"{query.missing(n)} OR abs({as_double(query.source.quote(n))}) = {double(math.inf)}"
        )
        for n in names
    ]
    _, counts = query.check("", 0, bad)
    for role, count in zip(("y_true", "y_pred"), counts, strict=False):
        if count:
            raise MetricInputError(NOT_FINITE.format(name=role, count=count, what=what))


def regression_moments(
    source: SqlSource,
    *,
    y_true: str,
    y_pred: str,
    sensitive: Sequence[str],
    weight: str | None,
    missing: MissingPolicy,
) -> RegressionMoments:
    """Build per-group regression moments: one grouped pass, then one for M2 about the means."""
    query = _Query(source, labels=[y_true, y_pred], sensitive=sensitive, weight=weight)
    _numeric_labels(query, [y_true, y_pred], "regression metrics")
    y, p, w = as_double(source.quote(y_true)), as_double(source.quote(y_pred)), query.w
    sums = [
        f"SUM({w})",
        f"SUM({w} * {y})",
        f"SUM({w} * {y} * {y})",
        f"SUM({w} * {p})",
        f"SUM({w} * {p} * {p})",
        f"SUM({w} * {y} * {p})",
        f"SUM({w} * abs({p} - {y}))",
        f"SUM({w} * ({p} - {y}))",
        f"SUM({w} * ({p} - {y}) * ({p} - {y}))",
        "COUNT(*)",
    ]
    rows = query.grouped([], sums)
    groups, index = _groups(rows, sensitive, missing, count_at=-1)
    size = len(groups)
    n = len(sensitive)
    totals = np.zeros((10, size))
    for row, g in zip(rows, index, strict=True):
        totals[:, g] += np.array([float(v) for v in row[n:]])
    m2 = _centred_squares(query, rows, index, size, y, w)
    return RegressionMoments(
        groups=groups,
        n=totals[9].astype(np.int64),
        sw=totals[0],
        swy=totals[1],
        swy2=totals[2],
        swp=totals[3],
        swp2=totals[4],
        swyp=totals[5],
        sw_abs_err=totals[6],
        sw_err=totals[7],
        sw_sq_err=totals[8],
        m2_y=m2,
    )


def _centred_squares(
    query: _Query,
    rows: Sequence[tuple[Any, ...]],
    index: list[int],
    size: int,
    y: str,
    w: str,
) -> np.ndarray[Any, Any]:
    """Return Σw(y − ȳ_g)² per group, joining each row to its group's mean."""
    source = query.source
    n = len(query.keys)
    keys = ", ".join(query.keys)
    group_by = f" GROUP BY {keys}" if keys else ""
    means = (
        f"SELECT {keys + ', ' if keys else ''}"
        f"CASE WHEN SUM({w}) = 0 THEN 0 ELSE SUM({w} * {y}) / SUM({w}) END AS govml_mean "
        f"FROM {source.table}{group_by}"
    )
    on = " AND ".join(f"r.{k} {source.null_safe_equal} m.{k}" for k in query.keys) or "1 = 1"
    select = ", ".join(
        [
            *(f"r.{k}" for k in query.keys),
            f"SUM({_prefixed(w, 'r.')} * "
            f"({_prefixed(y, 'r.')} - m.govml_mean) * "
            f"({_prefixed(y, 'r.')} - m.govml_mean))",
            "COUNT(*)",
        ]
    )
    grouped = " GROUP BY " + ", ".join(f"r.{k}" for k in query.keys) if n else ""
    result = source.rows(
        f"SELECT {select} FROM {source.table} AS r JOIN ({means}) AS m ON {on}{grouped}"
    )
    _, where = _groups(result, query.sensitive, "group", count_at=-1)
    m2 = np.zeros(size)
    # The groups of both passes are the same set, so their sorted positions agree.
    for row, g in zip(result, where, strict=True):
        m2[g] += float(row[n])
    return m2


def _prefixed(expression: str, prefix: str) -> str:
    """Qualify the quoted column of a ``CAST(<column> AS DOUBLE)`` with a table alias."""
    if expression.startswith("CAST(") and expression.endswith(" AS DOUBLE)"):
        return f"CAST({prefix}{expression[5:-11]} AS DOUBLE)"
    return expression


def score_histogram(
    source: SqlSource,
    *,
    y_true: str,
    score: str,
    sensitive: Sequence[str],
    weight: str | None,
    pos_label: Any,
    bins: int = DEFAULT_BINS,
    missing: MissingPolicy,
) -> ScoreHistogram:
    """Build the score histogram on ``bins`` equal bins of [0, 1] (see the module docstring)."""
    if bins < 1:
        raise MetricInputError("bin edges must be at least two finite, strictly increasing numbers")
    query = _Query(source, labels=[y_true], sensitive=sensitive, weight=weight)
    query.types[score] = source.checked_type(score, NUMERIC_TYPES)
    s = as_double(source.quote(score))
    outside = f"{s} < 0 OR {s} > 1"
    many, (bad, n_outside, example) = query.check(
        "binary metrics",
        2,
        [
            count_if(f"{query.missing(score)} OR abs({s}) = {double(math.inf)}"),
            count_if(outside),
            f"MIN(CASE WHEN {outside} THEN {s} END)",
        ],
    )
    if many:
        _check_binary(_label_values(query, [y_true], 2), pos_label)
    if bad:
        raise MetricInputError(NOT_FINITE.format(name="y_score", count=bad, what="score metrics"))
    if n_outside:
        raise MetricInputError(
            SCORE_OUT_OF_RANGE.format(count=n_outside, low=0.0, high=1.0, example=example)
        )
    edges = np.linspace(0.0, 1.0, bins + 1)
    position = f"({s} * {double(float(bins))})"
    near = f"abs({position} - round({position})) < {double(_NEAR)}"
    bin_of = f"CASE WHEN {near} THEN -1 ELSE CAST(floor({position}) AS BIGINT) END"
    value_of = f"CASE WHEN {near} THEN {s} END"
    w = query.w
    clip_s = f"greatest(least({s}, {double(1 - _EPS)}), {double(_EPS)})"
    clip_1s = f"greatest(least(1 - {s}, {double(1 - _EPS)}), {double(_EPS)})"
    rows = query.grouped(
        [source.quote(y_true), bin_of, value_of],
        [
            f"SUM({w} * -ln({clip_s}))",
            f"SUM({w} * -ln({clip_1s}))",
            f"SUM({w} * (1 - {s}) * (1 - {s}))",
            f"SUM({w} * {s} * {s})",
            f"SUM({w})",
            "COUNT(*)",
        ],
    )
    n = len(sensitive)
    _check_binary(_labels_of(rows, [n]), pos_label)
    groups, index = _groups(rows, sensitive, missing, count_at=-1)
    size = len(groups)
    weights = np.zeros((size, 2, bins))
    counts = np.zeros((size, 2, bins), dtype=np.int64)
    log_loss = np.zeros((size, 2))
    sq_err = np.zeros((size, 2))
    for row, g in zip(rows, index, strict=True):
        positive = int(to_python(row[n]) == pos_label)
        b = int(row[n + 1])
        if b < 0:
            value = float(row[n + 2])
            b = int(np.searchsorted(edges, value, side="right")) - 1
        b = min(max(b, 0), bins - 1)
        weights[g, positive, b] += float(row[-2])
        counts[g, positive, b] += int(row[-1])
        log_loss[g, positive] += float(row[n + 3] if positive else row[n + 4])
        sq_err[g, positive] += float(row[n + 5] if positive else row[n + 6])
    return ScoreHistogram(
        groups=groups,
        pos_label=pos_label,
        edges=edges,
        weight=weights,
        count=counts,
        log_loss=log_loss,
        sq_err=sq_err,
    )
