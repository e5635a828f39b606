"""Proxy warnings: important features strongly associated with a sensitive feature.

A model that does not use ``sex`` can still rank people by it through a feature that
encodes it (``relationship`` in the UCI Adult data: *Husband* / *Wife*). Every measure
here lies in [0, 1], 0 for no association and 1 for a feature that determines the other,
so one threshold serves all column types:

================================ ==========================================================
feature x sensitive              measure
================================ ==========================================================
categorical x categorical        Cramér's V, ``sqrt(chi2 / (n * (min(r, c) - 1)))``, without
                                 bias correction (as ``scipy.stats.contingency.association``)
numeric x categorical (or the    correlation ratio eta, ``sqrt(SS_between / SS_total)`` of
other way round)                 the numeric column over the categories' groups; for two
                                 groups it equals the absolute point-biserial correlation
numeric x numeric                absolute Pearson correlation
================================ ==========================================================

Integer and floating-point columns are numeric; everything else (text, booleans,
categoricals) is categorical. Rows missing either value are left out of that pair.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from govml.checks._columns import as_table, column_array, is_numeric, missing_mask, require_columns
from govml.checks.result import CheckResult, Status, timed
from govml.errors import InputError

__all__ = ["DEFAULT_PROXY_THRESHOLD", "Association", "association", "proxy_warnings"]

DEFAULT_PROXY_THRESHOLD = 0.5
ERR_THRESHOLD = "proxy_warnings: threshold must be in (0, 1], got {value!r}"


@dataclass(frozen=True)
class Association:
    """The strength of association between two columns, or why it is undefined."""

    measure: str
    value: float | None
    rows: int
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        out: dict[str, Any] = {"measure": self.measure, "value": self.value, "rows": self.rows}
        if self.reason is not None:
            out["reason"] = self.reason
        return out


def association(data: Any, first: str, second: str) -> Association:
    """Measure how strongly two columns are associated (see the module docstring).

    Parameters
    ----------
    data : table
        The data.
    first, second : str
        Column names.

    Returns
    -------
    Association
        The measure used, its value in [0, 1] (None when undefined, with the reason) and
        the number of rows used.
    """
    table = as_table(data)
    require_columns(table, [first, second])
    a, b = column_array(table, first), column_array(table, second)
    keep = ~(missing_mask(a) | missing_mask(b))
    a, b = a.filter(pa.array(keep)), b.filter(pa.array(keep))
    rows = int(keep.sum())
    if is_numeric(a) and is_numeric(b):
        return _pearson(_floats(a), _floats(b), rows)
    if is_numeric(a) or is_numeric(b):
        numbers, groups = (a, b) if is_numeric(a) else (b, a)
        return _correlation_ratio(_floats(numbers), _codes(groups), rows)
    return _cramers_v(_codes(a), _codes(b), rows)


@timed
def proxy_warnings(
    data: Any,
    top_features: Iterable[str],
    sensitive: Iterable[str],
    *,
    threshold: float = DEFAULT_PROXY_THRESHOLD,
) -> list[CheckResult]:
    """Warn for each top feature strongly associated with a sensitive feature.

    Parameters
    ----------
    data : table
        Rows holding the features and the sensitive columns.
    top_features : iterable of str
        The model's most important features.
    sensitive : iterable of str
        Sensitive columns (sex, race, age, ...).
    threshold : float
        Association at or above which a top feature is reported as a possible proxy.

    Returns
    -------
    list of CheckResult
        One ``proxy_association`` result per top feature that is not itself sensitive:
        ``warn`` with the association values when one reaches the threshold, ``pass``
        when none does, ``undefined`` when none does but some could not be measured.
    """
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 < threshold <= 1
    ):
        raise InputError(ERR_THRESHOLD.format(value=threshold))
    table = as_table(data)
    features, groups = list(dict.fromkeys(top_features)), list(dict.fromkeys(sensitive))
    require_columns(table, features + groups)
    results = []
    for feature in features:
        if feature in groups:
            continue
        measured = {group: association(table, feature, group) for group in groups}
        results.append(_feature_result(feature, measured, threshold))
    return results


def _feature_result(
    feature: str, measured: dict[str, Association], threshold: float
) -> CheckResult:
    evidence = {
        "feature": feature,
        "associations": {group: item.to_dict() for group, item in measured.items()},
    }
    strong = {
        group: item
        for group, item in measured.items()
        if item.value is not None and item.value >= threshold
    }
    undefined = [group for group, item in measured.items() if item.value is None]
    defined = [item.value for item in measured.values() if item.value is not None]
    value = max(defined) if defined else None
    status: Status = "pass"
    reason = None
    if strong:
        status = "warn"
        parts = [f"'{group}' ({item.measure} {item.value:.2f})" for group, item in strong.items()]
        message = f"top feature '{feature}' may be a proxy for " + ", ".join(parts)
    elif undefined:
        status = "undefined"
        reason = "; ".join(f"'{group}': {measured[group].reason}" for group in undefined)
        message = f"association of '{feature}' with {reason}"
    else:
        message = (
            f"top feature '{feature}' is not strongly associated with a sensitive feature "
            f"(max {value:.2f})"
        )
    return CheckResult(
        check="proxy_association",
        category="explainability",
        status=status,
        message=message,
        value=value,
        threshold=threshold,
        reason=reason,
        evidence=evidence,
    )


def _floats(array: Any) -> NDArray[np.float64]:
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)


def _codes(array: Any) -> NDArray[np.int64]:
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = pc.cast(array, pa.string())
    encoded = pc.dictionary_encode(array)
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)


def _cramers_v(a: NDArray[np.int64], b: NDArray[np.int64], rows: int) -> Association:
    measure = "cramers_v"
    if rows == 0:
        return Association(measure, None, rows, "no rows with both values")
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    r, c = int(a.max()) + 1, int(b.max()) + 1
    if min(r, c) < 2:
        return Association(measure, None, rows, "a column has a single value")
    observed = np.bincount(a * c + b, minlength=r * c).reshape(r, c).astype(np.float64)
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / rows
    chi2 = float(((observed - expected) ** 2 / expected).sum())
    return Association(measure, float(np.sqrt(chi2 / (rows * (min(r, c) - 1)))), rows)


def _correlation_ratio(
    values: NDArray[np.float64], groups: NDArray[np.int64], rows: int
) -> Association:
    measure = "correlation_ratio"
    if rows == 0:
        return Association(measure, None, rows, "no rows with both values")
    _, groups = np.unique(groups, return_inverse=True)
    counts = np.bincount(groups).astype(np.float64)
    means = np.bincount(groups, weights=values) / counts
    grand = values.mean()
    total = float(((values - grand) ** 2).sum())
    if total == 0:
        return Association(measure, None, rows, "the numeric column is constant")
    between = float((counts * (means - grand) ** 2).sum())
    return Association(measure, float(np.sqrt(min(between / total, 1.0))), rows)


def _pearson(a: NDArray[np.float64], b: NDArray[np.float64], rows: int) -> Association:
    measure = "abs_pearson"
    if rows < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return Association(measure, None, rows, "fewer than two rows or a constant column")
    return Association(measure, float(abs(np.corrcoef(a, b)[0, 1])), rows)
