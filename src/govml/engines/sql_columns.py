"""Column statistics in SQL: dataset profiles and drift counts on a reference's bins.

Three passes at most, whatever the number of columns:

1. one aggregate: row count and, per column, nulls (NaN counted as null), infinities, zeros,
   minimum and maximum of the finite values, their sum (profiles), non-null strings;
2. one ``UNION ALL`` of per-column ``GROUP BY``: the quantile sketch's bucket counts for a
   numeric column, the value counts of a string column (the most frequent ``capacity + 1``
   of the values the reference does not know, and all those it does);
3. only for columns with at most 32 buckets: the exact value counts (and, for profiles, the
   sum of squares about the mean, the ``M2`` of the variance).

A bucket index is ``ceil(ln(x) / ln(γ))``, computed in SQL unless ``ln(x) / ln(γ)`` lies
within 1e-6 of an integer, that is unless ``x`` sits on a bucket boundary where the last
bit of a logarithm may decide the bucket. Those values (few: only boundary values) are
counted by value and given their bucket by the numpy expression the sketch itself uses, so
the buckets, and every count on the reference's bins (sums of buckets), equal the numpy
path's exactly. Categorical counts are exact while a column has at most ``capacity``
distinct values, and otherwise carry the Misra–Gries bound of one prune
(:mod:`govml.datasets.frequent`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from govml.datasets import (
    VALUE_COUNTS_CAP,
    CategoricalColumnProfile,
    FrequentValues,
    NumericColumnProfile,
    Profile,
    QuantileSketch,
)
from govml.datasets.frequent import prune
from govml.engines.sql_source import SqlSource, as_double, count_if, double
from govml.errors import InputError
from govml.metrics.drift.inputs import (
    check_columns,
    check_families,
    family_of_profile_type,
    kind_of,
)
from govml.metrics.drift.stats import (
    CategoryCounts,
    CurrentStatistics,
    NumericCounts,
    as_profile,
    reference_digest,
)

_NEAR = 1e-6
_INF = double(math.inf)


def _family(type_name: str) -> Any:
    return family_of_profile_type(type_name)


class _Plan:
    """The columns of one pass, with their normalised types and SQL expressions."""

    def __init__(self, source: SqlSource, names: Sequence[str]) -> None:
        self.source = source
        self.names = list(names)
        self.types = {name: source.checked_type(name) for name in names}

    def value(self, name: str) -> str:
        return as_double(self.source.quote(name))

    def finite(self, name: str) -> str:
        v = self.value(name)
        return f"({v} IS NOT NULL AND NOT isnan({v}) AND abs({v}) < {_INF})"

    def first_pass(self, with_sums: bool) -> tuple[int, dict[str, dict[str, Any]]]:
        """Return the row count and each column's counts, minimum and maximum."""
        parts = ["COUNT(*)"]
        layout: list[tuple[str, str]] = []
        for name in self.names:
            quoted = self.source.quote(name)
            kind = self.types[name]
            if kind == "string" or kind == "null":
                parts.append(count_if(f"{quoted} IS NULL"))
                layout.append((name, "nulls"))
                continue
            v, finite = self.value(name), self.finite(name)
            raw = quoted if kind in ("int64", "uint64") else v
            fields = {
                "nulls": count_if(f"{v} IS NULL OR isnan({v})"),
                "pos_inf": count_if(f"{v} = {_INF}"),
                "neg_inf": count_if(f"{v} = -{_INF}"),
                "zeros": count_if(f"{v} = 0"),
                "finite": count_if(finite),
                "min": f"MIN(CASE WHEN {finite} THEN {raw} END)",
                "max": f"MAX(CASE WHEN {finite} THEN {raw} END)",
            }
            if with_sums:
                fields["sum"] = f"SUM(CASE WHEN {finite} THEN {v} END)"
            for field, expression in fields.items():
                parts.append(expression)
                layout.append((name, field))
        (row,) = self.source.rows(f"SELECT {', '.join(parts)} FROM {self.source.table}")
        found: dict[str, dict[str, Any]] = {name: {} for name in self.names}
        for (name, field), value in zip(layout, row[1:], strict=True):
            found[name][field] = value
        return int(row[0]), found

    def buckets(self, names: Sequence[str], inv_log_gamma: Mapping[str, float]) -> dict[str, Any]:
        """Return each numeric column's sketch buckets ``(positive, negative)``."""
        if not names:
            return {}
        branches = []
        for i, name in enumerate(names):
            v, finite = self.value(name), self.finite(name)
            # Rows the WHERE drops still reach the expression in some plans: give them a
            # harmless 1 so that no NaN or infinity is ever cast to an integer.
            safe = f"CASE WHEN {finite} AND {v} <> 0 THEN {v} ELSE 1 END"
            scaled = f"(ln(abs({safe})) * {double(inv_log_gamma[name])})"
            near = f"abs({scaled} - round({scaled})) < {double(_NEAR)}"
            bucket = (
                f"CASE WHEN {near} THEN NULL WHEN {v} > 0 THEN CAST(ceil({scaled}) AS BIGINT) "
                f"ELSE CAST(floor({scaled}) AS BIGINT) + 1 END"
            )
            branches.append(
                f"SELECT {i} AS c, CASE WHEN {v} > 0 THEN 1 ELSE -1 END AS s, {bucket} AS b, "
                f"CASE WHEN {near} THEN {v} END AS v, COUNT(*) AS n FROM {self.source.table} "
                f"WHERE {finite} AND {v} <> 0 GROUP BY 1, 2, 3, 4"
            )
        rows = self.source.rows(" UNION ALL ".join(branches))
        per: dict[str, dict[int, list[tuple[int, int]]]] = {n: {1: [], -1: []} for n in names}
        for c, sign, index, value, count in rows:
            name = names[int(c)]
            if index is None:  # on a boundary: the numpy expression decides
                x = np.array([abs(float(value))])
                scaled = np.log(x) * inv_log_gamma[name]
                index = int(np.ceil(scaled)[0]) if sign > 0 else int(np.floor(scaled)[0]) + 1
            per[name][int(sign)].append((int(index), int(count)))
        return {name: (_buckets(per[name][1]), _buckets(per[name][-1])) for name in names}

    def values_and_squares(
        self, names: Sequence[str], means: Mapping[str, float]
    ) -> tuple[dict[str, Any], dict[str, float]]:
        """Return exact value counts (None beyond the cap) and Σ(x − mean)², in one pass."""
        branches = []
        for i, name in enumerate(names):
            kind = self.types[name]
            quoted = self.source.quote(name)
            as_key = self.value(name) if kind == "float64" else f"CAST({quoted} AS BIGINT)"
            branches.append(
                f"SELECT * FROM (SELECT {i} AS c, {as_double(as_key)} AS v, "
                f"{as_double('COUNT(*)')} AS n FROM {self.source.table} "
                f"WHERE {self.finite(name)} GROUP BY 1, 2 LIMIT {VALUE_COUNTS_CAP + 1}) AS q{i}"
            )
        ordered = list(means)
        prefix = ""
        if ordered:
            squares = ", ".join(
                f"SUM(CASE WHEN {self.finite(n)} THEN ({self.value(n)} - {double(m)}) * "
                f"({self.value(n)} - {double(m)}) END) AS m{j}"
                for j, (n, m) in enumerate(means.items())
            )
            stacked = " UNION ALL ".join(
                f"SELECT {-1 - j} AS c, {as_double('NULL')} AS v, {as_double(f'm{j}')} AS n FROM sq"
                for j in range(len(ordered))
            )
            prefix = f"WITH sq AS (SELECT {squares} FROM {self.source.table}) "
            branches.append(f"SELECT * FROM ({stacked}) AS stacked")
        if not branches:
            return {}, {}
        counted: dict[str, dict[Any, int]] = {name: {} for name in names}
        m2: dict[str, float] = {}
        for c, value, count in self.source.rows(prefix + " UNION ALL ".join(branches)):
            if int(c) < 0:
                m2[ordered[-1 - int(c)]] = float(count or 0.0)
                continue
            name = names[int(c)]
            key = float(value) + 0.0 if self.types[name] == "float64" else int(value)
            counted[name][key] = counted[name].get(key, 0) + int(count)
        values = {
            name: None if len(found) > VALUE_COUNTS_CAP else tuple(sorted(found.items()))
            for name, found in counted.items()
        }
        return values, m2

    def categories(
        self, known: Mapping[str, Sequence[str]], capacity: Mapping[str, int]
    ) -> dict[str, tuple[dict[str, int], list[tuple[str, int]]]]:
        """Return per string column the counts of its ``known`` values and the top new ones.

        One ``UNION ALL`` over the columns: each branch orders a column's value counts
        known values first, then by count, and keeps as many rows as there are known
        values plus ``capacity + 1``, so every known value and the most frequent new
        ones are there.
        """
        names = list(known)
        if not names:
            return {}
        branches = []
        for i, name in enumerate(names):
            quoted = self.source.quote(name)
            listed = ", ".join("'" + k.replace("'", "''") + "'" for k in known[name])
            is_known = f"{quoted} IN ({listed})" if known[name] else "1 = 0"
            limit = len(known[name]) + capacity[name] + 1
            branches.append(
                f"SELECT * FROM (SELECT {i} AS c, {quoted} AS v, COUNT(*) AS n, "
                f"CASE WHEN {is_known} THEN 1 ELSE 0 END AS k FROM {self.source.table} "
                f"WHERE {quoted} IS NOT NULL GROUP BY 2, 4 "
                f"ORDER BY 4 DESC, 3 DESC, 2 LIMIT {limit}) AS q{i}"
            )
        found: dict[str, tuple[dict[str, int], list[tuple[str, int]]]] = {
            name: ({}, []) for name in names
        }
        for c, value, count, is_known in self.source.rows(" UNION ALL ".join(branches)):
            counts, top = found[names[int(c)]]
            if is_known:
                counts[str(value)] = int(count)
            else:
                top.append((str(value), int(count)))
        for _, top in found.values():
            top.sort(key=lambda item: (-item[1], item[0]))
        return found


def _buckets(pairs: list[tuple[int, int]]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    merged: dict[int, int] = {}
    for index, count in pairs:
        merged[index] = merged.get(index, 0) + count
    keys = sorted(merged)
    return tuple(keys), tuple(merged[k] for k in keys)


def _frequent(
    top: list[tuple[str, int]], total: int, capacity: int, extra: Sequence[tuple[str, int]] = ()
) -> FrequentValues:
    """Prune the top ``capacity + 1`` counts once, as the numpy path prunes all of them."""
    values = [v for v, _ in top]
    counts = np.array([n for _, n in top], dtype=np.int64)
    keep, threshold = prune(counts, capacity)
    return FrequentValues.from_counts(
        [*(v for v, _ in extra), *(values[i] for i in keep)],
        [*(n for _, n in extra), *(int(counts[i]) - threshold for i in keep)],
        capacity=capacity,
        total=total,
        error=threshold,
    )


def _sketch(accuracy: float, info: Mapping[str, Any], buckets: Any, kind: str) -> QuantileSketch:
    finite = int(info["finite"])
    if finite == 0:
        return QuantileSketch(relative_accuracy=accuracy)
    positive, negative = buckets
    return QuantileSketch(
        relative_accuracy=accuracy,
        count=finite,
        zero_count=int(info["zeros"]),
        min=float(info["min"]) + 0.0,
        max=float(info["max"]) + 0.0,
        positive=positive,
        negative=negative,
    )


def _few(sketch: QuantileSketch) -> bool:
    # Every distinct value lies in one bucket: more buckets than the cap, more values.
    return sketch.bucket_count <= VALUE_COUNTS_CAP


def _inv_log_gamma(accuracy: float) -> float:
    return 1.0 / math.log((1.0 + accuracy) / (1.0 - accuracy))


def _exact(value: Any, kind: str) -> int | float:
    if kind == "float64":
        return float(value) + 0.0
    return int(value)


def profile(source: SqlSource, *, max_categories: int, relative_accuracy: float) -> Profile:
    """Profile every column of ``source`` (see the module docstring)."""
    if max_categories < 1:
        raise InputError(f"max_categories must be at least 1, got {max_categories}")
    if not 0.0 < relative_accuracy < 1.0:
        raise InputError(f"relative_accuracy must be in (0, 1), got {relative_accuracy}")
    names = list(source.types())
    plan = _Plan(source, names)
    rows, info = plan.first_pass(with_sums=True)
    numeric = [n for n in names if kind_of(_family(plan.types[n])) == "numeric"]
    inv = {n: _inv_log_gamma(relative_accuracy) for n in numeric}
    buckets = plan.buckets([n for n in numeric if info[n]["finite"]], inv)
    sketches = {
        n: _sketch(relative_accuracy, info[n], buckets.get(n, ((), ())), plan.types[n])
        for n in numeric
    }
    small = [n for n in numeric if sketches[n].count > 0 and _few(sketches[n])]
    means = {
        n: float(info[n]["sum"]) / int(info[n]["finite"]) for n in numeric if info[n]["finite"]
    }
    counts, squares = plan.values_and_squares(small, means)
    strings = [n for n in names if plan.types[n] == "string"]
    categories = plan.categories({n: () for n in strings}, {n: max_categories for n in strings})
    columns: list[Any] = []
    for name in names:
        kind = plan.types[name]
        found = info[name]
        if name not in sketches:
            frequent = FrequentValues(capacity=max_categories)
            if name in categories:
                total = rows - int(found["nulls"])
                frequent = _frequent(categories[name][1], total, max_categories)
            columns.append(
                CategoricalColumnProfile(
                    name=name, type=kind, nulls=int(found["nulls"]), frequent=frequent
                )
            )
            continue
        finite = int(found["finite"])
        pos_inf, neg_inf = int(found["pos_inf"]), int(found["neg_inf"])
        columns.append(
            NumericColumnProfile(
                name=name,
                type=kind,
                count=finite + pos_inf + neg_inf,
                nulls=int(found["nulls"]),
                neg_inf=neg_inf,
                pos_inf=pos_inf,
                min=None if not finite else _exact(found["min"], kind),
                max=None if not finite else _exact(found["max"], kind),
                mean=means.get(name),
                m2=squares.get(name, 0.0),
                sketch=sketches[name],
                value_counts=counts.get(name) if finite else (),
            )
        )
    return Profile(row_count=rows, columns=tuple(columns))


def current_statistics(
    source: SqlSource,
    reference: Profile | Mapping[str, Any],
    *,
    columns: Sequence[str] | None = None,
) -> CurrentStatistics:
    """Count the rows of ``source`` against a reference profile, for drift.

    Raises
    ------
    InputError
        As :func:`~govml.metrics.current_statistics`: a column missing from the data or
        the reference, or a type that differs from the reference's.
    """
    ref = as_profile(reference)
    digest = reference_digest(ref)
    names = check_columns(ref.names, list(source.types()), columns)
    plan = _Plan(source, names)
    check_families({n: (_family(ref.column(n).type), _family(plan.types[n])) for n in names})
    rows, info = plan.first_pass(with_sums=False)
    numeric = [n for n in names if kind_of(_family(plan.types[n])) == "numeric"]
    empty = [n for n in names if plan.types[n] == "null"]
    accuracy = {
        n: (
            ref_column.sketch.relative_accuracy
            if isinstance(ref_column := ref.column(n), NumericColumnProfile)
            else QuantileSketch().relative_accuracy
        )
        for n in numeric
    }
    buckets = plan.buckets(
        [n for n in numeric if info[n]["finite"]],
        {n: _inv_log_gamma(a) for n, a in accuracy.items()},
    )
    sketches = {
        n: _sketch(accuracy[n], info[n], buckets.get(n, ((), ())), plan.types[n]) for n in numeric
    }
    small = [n for n in numeric if sketches[n].count > 0 and _few(sketches[n])]
    counts, _ = plan.values_and_squares(small, {})
    references = {
        n: column
        for n in names
        if plan.types[n] == "string"
        and isinstance(column := ref.column(n), CategoricalColumnProfile)
    }
    categories = plan.categories(
        {n: [v for v, _ in c.frequent.counts] for n, c in references.items()},
        {n: c.frequent.capacity for n, c in references.items()},
    )
    counted: list[NumericCounts | CategoryCounts] = []
    for name in names:
        found = info[name]
        kind = plan.types[name]
        if name in empty and isinstance(ref_column := ref.column(name), NumericColumnProfile):
            # An all-null column of a numeric reference is numeric counts without values.
            sketch = QuantileSketch(relative_accuracy=ref_column.sketch.relative_accuracy)
            counted.append(
                NumericCounts(name=name, type="null", nulls=int(found["nulls"]), sketch=sketch)
            )
            continue
        if name in sketches:
            counted.append(
                NumericCounts(
                    name=name,
                    type=kind,
                    nulls=int(found["nulls"]),
                    infinite=int(found["pos_inf"]) + int(found["neg_inf"]),
                    sketch=sketches[name],
                    value_counts=counts.get(name) if found["finite"] else (),
                )
            )
            continue
        nulls = int(found["nulls"])
        if name not in references:
            counted.append(CategoryCounts(name=name, type="null", nulls=nulls))
            continue
        frequent = references[name].frequent
        known, top = categories[name]
        new_total = rows - nulls - sum(known.values())
        counted.append(
            CategoryCounts(
                name=name,
                type="string",
                nulls=nulls,
                known=tuple((v, known.get(v, 0)) for v, _ in frequent.counts),
                new=_frequent(top, new_total, frequent.capacity),
            )
        )
    return CurrentStatistics(reference_digest=digest, row_count=rows, columns=tuple(counted))
