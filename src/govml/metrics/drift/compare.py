"""Data drift per column and for the dataset, from raw data or from stored statistics.

:func:`data_drift` compares current data with a reference in one of two ways:

* **exact** — both sides are tables (DataFrame, Arrow table, path). Every test runs on
  the values with Evidently's binning, so the numbers are those of Evidently's stattests
  and of scipy (equal to 1e-12 in the tests).
* **profile** — the reference is the :class:`~govml.datasets.Profile` stored with the
  model version (or its dict); the current side is a table, or the mergeable
  :class:`~govml.metrics.drift.stats.CurrentStatistics` of one. The reference data is
  never read, and Parquet files and DataFrames are counted 32,768 rows at a time. Numeric
  columns with at most 32 distinct values on both sides and categorical columns within
  the profile's category capacity still give the exact numbers. Other numeric columns
  are binned on the reference's quantile bins and tested with KS and Wasserstein on the
  quantile sketches, each result carrying the error bound derived in
  :mod:`govml.metrics.drift.columns`.

Two raw tables take the exact path while both have at most :data:`EXACT_MAX_ROWS` rows
(``method="auto"``, the default), where sorting every column costs little. Larger ones take
the profile path: the reference is profiled with the same mergeable sketches a stored
profile holds (:func:`govml.datasets.profile`, exact where a column has few values) and the
current side is counted against it batch by batch, an order of magnitude faster than the
exact tests and in bounded memory. ``method="exact"`` or ``method="profile"`` chooses.

Default tests, thresholds and decisions are Evidently's (see
:func:`~govml.metrics.drift.tests.default_test`).

Where govml differs from Evidently
----------------------------------
Both paths:

* chi-square on a numeric column with more than 20 distinct reference values uses the
  PSI bins (Sturges) instead of one category per value. Evidently refuses chi-square on
  numeric columns when asked by name and applies it by default only up to 5 values,
  where both agree.
* chi-square with a single value on both sides gives p = 1 (Evidently: NaN); either way
  no drift.
* a column without values (all null, NaN or infinite) or with fewer than
  ``min_sample_size`` values is reported as undefined with the reason (Evidently raises),
  and the dataset's drift share counts only the columns that could be tested.

Profile path only:

* numeric columns with more distinct values than the profile counts exactly (32) are
  binned on the reference's quantile bins, as many as Sturges' rule gives for
  ``n_ref + n_cur`` values (outer bins open-ended), not on equal-width bins over
  reference ∪ current: PSI, KL, Jensen–Shannon, Hellinger and chi-square take other
  values, on bins that stay the same for every window. Hellinger uses these bins too.
* KS and Wasserstein come from the quantile sketches, within the reported
  ``error_bound``; the KS p-value is that of the sketch statistic.
* categorical counts are exact while the reference kept every category (its
  ``max_categories``); otherwise the categories it did not keep share one "other" bin.
  The z-test needs exact value counts on numeric columns and is otherwise undefined.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, Final, Literal

from govml.datasets import (
    CategoricalColumnProfile,
    ColumnProfile,
    NumericColumnProfile,
    Profile,
    profile,
    read_table,
)
from govml.errors import InputError, did_you_mean
from govml.metrics.drift.columns import (
    ColumnSamples,
    ProfiledCategorical,
    ProfiledNumeric,
    RawCategorical,
    RawNumeric,
    UndefinedTestError,
)
from govml.metrics.drift.inputs import (
    category_counts,
    check_columns,
    check_families,
    check_not_empty,
    family_of_arrow,
    is_integer,
    kind_of,
    numeric_values,
    row_count,
)
from govml.metrics.drift.report import ColumnDrift, DriftReport, DriftTest, TestChoice
from govml.metrics.drift.stats import (
    DIFFERENT_REFERENCE,
    CategoryCounts,
    CurrentColumn,
    CurrentStatistics,
    NumericCounts,
    as_profile,
    current_statistics,
    reference_digest,
)
from govml.metrics.drift.tests import (
    DRIFT_TESTS,
    SPECS,
    ColumnKind,
    DriftTestName,
    default_test,
)

__all__ = [
    "EXACT_MAX_ROWS",
    "EXACT_NEEDS_DATA",
    "INVALID_THRESHOLD",
    "STATISTICS_NEED_PROFILE",
    "TESTS_FOR_UNKNOWN_COLUMNS",
    "UNKNOWN_METHOD",
    "UNKNOWN_TEST",
    "WRONG_KIND",
    "ColumnDrift",
    "DriftReport",
    "DriftTest",
    "data_drift",
]

EXACT_MAX_ROWS: Final = 100_000
"""Raw tables up to this many rows a side are compared exactly when ``method="auto"``."""

Method = Literal["auto", "exact", "profile"]
UNKNOWN_METHOD = "method must be one of 'auto', 'exact', 'profile', got {method!r}"
EXACT_NEEDS_DATA = (
    "method='exact' needs the reference data, not its profile: the exact tests run on the values"
)
UNKNOWN_TEST = "unknown drift test {name!r}"
INVALID_THRESHOLD = "threshold of drift test {name!r} must be {rule}, got {value!r}"
WRONG_KIND = "drift test {name!r} applies to numeric columns only, not to {columns}"
TESTS_FOR_UNKNOWN_COLUMNS = "tests= names columns that are not compared: {names}"
STATISTICS_NEED_PROFILE = (
    "current statistics can only be compared with the reference profile they were counted "
    "against, not with a {kind}"
)


def data_drift(
    reference: Any,
    current: Any,
    *,
    columns: Sequence[str] | None = None,
    tests: TestChoice | Mapping[str, TestChoice] | None = None,
    drift_share: float = 0.5,
    min_sample_size: int = 1,
    method: Method = "auto",
) -> DriftReport:
    """Test every column of ``current`` for drift from ``reference``.

    Parameters
    ----------
    reference : DataFrame, Table, str, Path, Profile or dict
        Reference data, or its stored :class:`~govml.datasets.Profile` (or the profile's
        ``to_dict()``). With a profile the reference data is never read.
    current : DataFrame, Table, str, Path, CurrentStatistics or dict
        Current data, or its :class:`~govml.metrics.drift.stats.CurrentStatistics`
        counted against the same profile (or their ``to_dict()``).
    columns : sequence of str, optional
        Columns to compare; by default every column of the reference (of the current
        statistics, when given).
    tests : str, DriftTest or mapping, optional
        A test for every column (``"psi"`` or ``DriftTest("psi", threshold=0.2)``), or a
        mapping from column names to tests; other columns get the default test.
    drift_share : float
        Share of drifted columns, in (0, 1], from which the dataset counts as drifted.
    min_sample_size : int
        Columns with fewer values than this on either side are undefined.
    method : {"auto", "exact", "profile"}
        How two raw tables are compared: ``"exact"`` runs every test on the values,
        ``"profile"`` profiles the reference and counts the current side against it (see
        the module's notes), ``"auto"`` is exact up to :data:`EXACT_MAX_ROWS` rows a side.
        A profile reference always takes the profile path.

    Returns
    -------
    DriftReport
        The result of every column and the dataset decision.

    Raises
    ------
    InputError
        If a column is missing from the current data (all are named), column types
        differ, a side has no rows, a test name is unknown (with a suggestion) or does
        not apply to a column's kind, an option is out of range, current statistics
        were counted against another reference, or ``method="exact"`` is given a profile.
    """
    if not 0.0 < drift_share <= 1.0:
        raise InputError(f"drift_share must be in (0, 1], got {drift_share!r}")
    if min_sample_size < 1:
        raise InputError(f"min_sample_size must be at least 1, got {min_sample_size!r}")
    if isinstance(columns, str):
        columns = [columns]
    if method not in ("auto", "exact", "profile"):
        raise InputError(UNKNOWN_METHOD.format(method=method))
    parsed = _parse_tests(tests)  # before any data is read: a typo fails fast
    path: Literal["exact", "profile"]
    if isinstance(reference, Profile | Mapping):
        if method == "exact":
            raise InputError(EXACT_NEEDS_DATA)
        path = "profile"
        found = _profiled_columns(as_profile(reference), current, columns)
    else:
        if isinstance(current, CurrentStatistics):
            raise InputError(STATISTICS_NEED_PROFILE.format(kind=type(reference).__name__))
        ref_table = read_table(reference)
        path = "exact" if method == "exact" else "profile"
        if method == "auto" and ref_table.num_rows <= EXACT_MAX_ROWS:
            rows = row_count(current)
            if rows is None:
                current = read_table(current)
                rows = current.num_rows
            path = "exact" if rows <= EXACT_MAX_ROWS else "profile"
        if path == "exact":
            found = _raw_columns(ref_table, current, columns)
        else:
            found = _profiled_columns(_profile_of(ref_table, columns), current, columns)
    chosen = _assign_tests(parsed, list(found))
    _check_kinds(chosen, {name: kind for name, (kind, _) in found.items()})
    results = tuple(
        _column_drift(name, kind, build(), chosen.get(name), min_sample_size)
        for name, (kind, build) in found.items()
    )
    return DriftReport(columns=results, drift_share=drift_share, method=path)


# A column's view, or the sizes of both sides when one of them has no values. Views of raw
# data are built when the column is tested, so that one column's values are held at a time.
_Sizes = tuple[int, int]
_Build = Callable[[], ColumnSamples | _Sizes]
_Columns = dict[str, tuple[ColumnKind, _Build]]


def _profiled_columns(reference: Profile, current: Any, columns: Sequence[str] | None) -> _Columns:
    check_not_empty(reference.row_count, "reference")
    if isinstance(current, CurrentStatistics | Mapping):
        stats = (
            current
            if isinstance(current, CurrentStatistics)
            else CurrentStatistics.from_dict(current)
        )
        ours = reference_digest(reference)
        if stats.reference_digest != ours:
            raise InputError(DIFFERENT_REFERENCE.format(theirs=stats.reference_digest, ours=ours))
        wanted = stats.names if columns is None else columns
        names = check_columns(reference.names, stats.names, wanted)
    else:
        stats = current_statistics(reference, current, columns=columns)
        names = list(stats.names)
    check_not_empty(stats.row_count, "current")
    return {name: _profiled(reference.column(name), stats.column(name)) for name in names}


def _profiled(ref: ColumnProfile, cur: CurrentColumn) -> tuple[ColumnKind, _Build]:
    samples: ColumnSamples | _Sizes
    if isinstance(ref, NumericColumnProfile) and isinstance(cur, NumericCounts):
        sizes = ref.finite_count, cur.finite_count
        samples = ProfiledNumeric(ref, cur) if min(sizes) else sizes
    elif isinstance(ref, CategoricalColumnProfile) and isinstance(cur, CategoryCounts):
        sizes = ref.count, cur.count
        samples = ProfiledCategorical(ref, cur) if min(sizes) else sizes
    elif "null" in (ref.type, cur.type):  # all null on one side: no kind of its own
        samples = (_size(ref), _size(cur))
    else:
        raise InputError(
            f"column {ref.name!r} is {ref.kind} in the reference profile but {cur.kind} "
            "in the current statistics"
        )
    kind: ColumnKind = "numeric" if isinstance(ref, NumericColumnProfile) else "categorical"
    if ref.type == "null":
        kind = "numeric" if isinstance(cur, NumericCounts) else "categorical"
    return kind, lambda: samples


def _size(column: ColumnProfile | CurrentColumn) -> int:
    if isinstance(column, NumericColumnProfile | NumericCounts):
        return column.finite_count
    return column.count


def _profile_of(table: Any, columns: Sequence[str] | None) -> Profile:
    """Profile the reference's compared columns (all when ``columns`` is None)."""
    check_not_empty(table.num_rows, "reference")
    if columns is not None:
        # Columns it lacks are named by the current statistics, with the others missing.
        present = [name for name in dict.fromkeys(columns) if name in table.column_names]
        table = table.select(present)
    return profile(table)


def _raw_columns(ref_table: Any, current: Any, columns: Sequence[str] | None) -> _Columns:
    cur_table = read_table(current)
    check_not_empty(ref_table.num_rows, "reference")
    check_not_empty(cur_table.num_rows, "current")
    names = check_columns(ref_table.column_names, cur_table.column_names, columns)
    families = {
        name: (
            family_of_arrow(name, ref_table.schema.field(name).type),
            family_of_arrow(name, cur_table.schema.field(name).type),
        )
        for name in names
    }
    check_families(families)
    found: _Columns = {}
    for name in names:
        ref_family, cur_family = families[name]
        kind = kind_of(cur_family if ref_family == "null" else ref_family)
        build = _raw_numeric if kind == "numeric" else _raw_categorical
        found[name] = (kind, partial(build, ref_table.column(name), cur_table.column(name)))
    return found


def _raw_numeric(reference: Any, current: Any) -> ColumnSamples | _Sizes:
    ref, cur = numeric_values(reference), numeric_values(current)
    if not min(ref.size, cur.size):
        return ref.size, cur.size
    integer = is_integer(reference.type) and is_integer(current.type)
    return RawNumeric(ref, cur, integer=integer)


def _raw_categorical(reference: Any, current: Any) -> ColumnSamples | _Sizes:
    ref, cur = category_counts(reference), category_counts(current)
    sizes = int(ref[1].sum()), int(cur[1].sum())
    return RawCategorical(ref, cur) if min(sizes) else sizes


def _parse_tests(
    tests: TestChoice | Mapping[str, TestChoice] | None,
) -> DriftTest | dict[str, DriftTest] | None:
    if tests is None:
        return None
    if isinstance(tests, str | DriftTest):
        return _parse_choice(tests)
    if not isinstance(tests, Mapping):
        raise InputError(
            f"tests must be a test name, a DriftTest or a mapping, got {type(tests).__name__}"
        )
    return {str(name): _parse_choice(choice) for name, choice in tests.items()}


def _assign_tests(
    parsed: DriftTest | dict[str, DriftTest] | None, names: list[str]
) -> dict[str, DriftTest]:
    if parsed is None:
        return {}
    if isinstance(parsed, DriftTest):
        return dict.fromkeys(names, parsed)
    unknown = [name for name in parsed if name not in names]
    if unknown:
        hints = [h for h in (did_you_mean(n, names) for n in unknown) if h]
        raise InputError(
            TESTS_FOR_UNKNOWN_COLUMNS.format(names=", ".join(map(repr, unknown))),
            hint="; ".join(hints) or None,
        )
    return parsed


def _parse_choice(choice: Any) -> DriftTest:
    test = choice if isinstance(choice, DriftTest) else DriftTest(choice)
    if test.name not in DRIFT_TESTS:
        raise InputError(
            UNKNOWN_TEST.format(name=test.name),
            hint=did_you_mean(str(test.name), DRIFT_TESTS)
            or f"choose one of {', '.join(DRIFT_TESTS)}",
        )
    if test.threshold is not None:
        is_p = SPECS[test.name].score == "p_value"
        value = test.threshold
        valid = isinstance(value, int | float) and math.isfinite(value) and value > 0
        if not valid or (is_p and value >= 1):
            rule = "in (0, 1)" if is_p else "a positive number"
            raise InputError(INVALID_THRESHOLD.format(name=test.name, rule=rule, value=value))
    return test


def _check_kinds(chosen: dict[str, DriftTest], kinds: dict[str, ColumnKind]) -> None:
    wrong: dict[str, list[str]] = {}
    for name, test in chosen.items():
        if kinds[name] not in SPECS[test.name].kinds:
            wrong.setdefault(test.name, []).append(name)
    if wrong:
        name, names = next(iter(wrong.items()))
        raise InputError(
            WRONG_KIND.format(name=name, columns=", ".join(map(repr, names))),
            hint="choose psi, jensenshannon, kl_div, hellinger, chisquare or z for "
            "categorical columns",
        )


def _column_drift(
    name: str,
    kind: ColumnKind,
    samples: ColumnSamples | _Sizes,
    chosen: DriftTest | None,
    min_size: int,
) -> ColumnDrift:
    test = chosen.name if chosen else None
    threshold = None
    if chosen:
        threshold = SPECS[chosen.name].default_threshold
        threshold = threshold if chosen.threshold is None else chosen.threshold
    ref_size, cur_size = (
        samples if isinstance(samples, tuple) else (samples.reference_size, samples.current_size)
    )
    if isinstance(samples, tuple) or min(ref_size, cur_size) < min_size:
        reason = _size_reason(ref_size, cur_size, min_size)
        return _undefined(name, kind, test, threshold, (ref_size, cur_size), reason)
    if test is None or threshold is None:
        test = default_test(kind, ref_size, samples.n_unique())
        threshold = SPECS[test].default_threshold
    try:
        outcome = samples.run(test)
    except UndefinedTestError as exc:
        return _undefined(name, kind, test, threshold, (ref_size, cur_size), str(exc))
    spec = SPECS[test]
    score = outcome.p_value if spec.score == "p_value" else outcome.statistic
    assert score is not None
    return ColumnDrift(
        column=name,
        kind=kind,
        test=test,
        statistic=outcome.statistic,
        p_value=outcome.p_value,
        threshold=threshold,
        drifted=spec.drifted(score, threshold),
        reference_size=ref_size,
        current_size=cur_size,
        exact=outcome.exact,
        error_bound=outcome.error_bound,
    )


def _size_reason(ref_size: int, cur_size: int, min_size: int) -> str:
    for side, size in (("reference", ref_size), ("current data", cur_size)):
        if size == 0:
            return f"the {side} has no values (only nulls, NaN or infinities)"
        if size < min_size:
            return f"the {side} has {size} values, fewer than min_sample_size={min_size}"
    raise AssertionError("sizes are sufficient")


def _undefined(
    name: str,
    kind: ColumnKind,
    test: DriftTestName | None,
    threshold: float | None,
    sizes: _Sizes,
    reason: str,
) -> ColumnDrift:
    return ColumnDrift(
        column=name,
        kind=kind,
        test=test,
        statistic=None,
        p_value=None,
        threshold=threshold,
        drifted=None,
        reference_size=sizes[0],
        current_size=sizes[1],
        reason=reason,
    )
