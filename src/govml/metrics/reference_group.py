"""AIF360's reference-group fairness metrics, computed from confusion counts.

Same names, parameters and numbers as ``aif360.sklearn.metrics`` (0.6.1): the
*unprivileged* rows (every row not in ``priv_group``) are compared with the *privileged*
ones, signed (unprivileged minus privileged, or over it). ``prot_attr`` is, as there, the
name(s) of index levels of ``y_true`` (or None for all of them), or explicit arrays.

AIF360's conventions are kept, since these functions promise its numbers: rates that are
0/0 count as 0.0 (scikit-learn's ``zero_division="warn"``), so a group without actual
negatives has specificity 0 and so FPR = 1 − 0 = 1 in the average odds; a disparate impact
whose privileged selection rate is 0 is 0.0. :func:`govml.metrics.fairness_report` with
``privileged=`` gives the same quantities as ``undefined`` with the reason instead.

The inequality indices (generalized entropy, Theil, coefficient of variation) use the
benefit ``b = ŷ − y + 1`` of Speicher et al. (2018): 0 for a false negative, 1 for a
correct prediction, 2 for a false positive. For ``alpha = 0`` (mean log deviation) govml
follows the published formula, −mean(ln(b/μ)); AIF360 0.6.1's code divides that once more
by μ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from govml.metrics._confusion import (
    BinaryConfusion,
    FloatArray,
    binary_confusion,
    prediction_confusion,
)
from govml.metrics._groups import Groups, encode_groups, series_name
from govml.metrics._validate import MetricInputError, as_1d

ZeroDivision = Literal["warn", 0, 1]

PRIVILEGED_NOT_FOUND = "privileged group {group!r} is not among the groups: {groups}"
NOT_TWO_GROUPS = "expected 2 protected attribute groups, got {count}"
NOT_AN_INDEX_LEVEL = "prot_attr {name!r} is not an index level of y_true"
NEED_PROT_ATTR = "prot_attr is None, so y_true must be a pandas object with the groups in its index"


def _features(y_true: Any, prot_attr: Any) -> Any:
    """Return sensitive features from AIF360-style ``prot_attr`` and ``y_true``'s index."""
    index = y_true.index if isinstance(y_true, pd.Series | pd.DataFrame) else None
    if prot_attr is None:
        if index is None:
            raise MetricInputError(NEED_PROT_ATTR)
        return index.to_frame(index=False)
    items = prot_attr if isinstance(prot_attr, list) else [prot_attr]
    columns: dict[str, Any] = {}
    for i, item in enumerate(items):
        if isinstance(item, str):
            if index is None or item not in index.names:
                raise MetricInputError(NOT_AN_INDEX_LEVEL.format(name=item))
            columns[item] = index.get_level_values(item).to_numpy()
        else:
            columns[series_name(item) or f"prot_attr_{i}"] = item
    return columns


def split_privileged(stats: BinaryConfusion, priv_group: Any) -> BinaryConfusion:
    """Collapse the groups of ``stats`` into two: (unprivileged, privileged).

    Raises
    ------
    MetricInputError
        When ``priv_group`` is not one of the groups.
    """
    key = priv_group if isinstance(priv_group, tuple) else (priv_group,)
    if key not in stats.groups.keys:
        shown = [k[0] if len(k) == 1 else k for k in stats.groups.keys]
        raise MetricInputError(PRIVILEGED_NOT_FOUND.format(group=priv_group, groups=shown))
    privileged = np.array([k == key for k in stats.groups.keys])
    return BinaryConfusion(
        groups=Groups(names=("privileged",), keys=((False,), (True,))),
        pos_label=stats.pos_label,
        weight=np.stack([stats.weight[~privileged].sum(0), stats.weight[privileged].sum(0)]),
        count=np.stack([stats.count[~privileged].sum(0), stats.count[privileged].sum(0)]),
    )


def _split(
    y_true: Any,
    y_pred: Any,
    prot_attr: Any,
    priv_group: Any,
    pos_label: Any,
    sample_weight: Any,
    *,
    predictions_only: bool = False,
) -> FloatArray:
    """Return the weighted cells (2, 2, 2) of the unprivileged and privileged rows.

    With ``predictions_only`` (selection rates) only ``y_pred`` is read, or ``y_true``'s
    base rates when ``y_pred`` is None, as AIF360 does.
    """
    features = _features(y_true, prot_attr)
    build = prediction_confusion if predictions_only else binary_confusion
    stats = build(
        y_true,
        y_true if y_pred is None else y_pred,
        sensitive_features=features,
        sample_weight=sample_weight,
        pos_label=pos_label,
    )
    return split_privileged(stats, priv_group).weight


def _zero_division(value: ZeroDivision) -> float:
    return 0.0 if value == "warn" else float(value)


def _rate(num: FloatArray, den: FloatArray, fill: float = 0.0) -> FloatArray:
    out = np.full(np.shape(num), fill, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _selection(cells: FloatArray) -> FloatArray:
    total = cells.sum(axis=(-2, -1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray((cells[..., 1, 1] + cells[..., 0, 1]) / total, dtype=np.float64)


def _recall(cells: FloatArray) -> FloatArray:
    return _rate(cells[..., 1, 1], cells[..., 1, 1] + cells[..., 1, 0])


def _specificity(cells: FloatArray) -> FloatArray:
    return _rate(cells[..., 0, 0], cells[..., 0, 0] + cells[..., 0, 1])


def _precision(cells: FloatArray) -> FloatArray:
    return _rate(cells[..., 1, 1], cells[..., 1, 1] + cells[..., 0, 1])


def statistical_parity_difference(
    y_true: Any,
    y_pred: Any = None,
    *,
    prot_attr: Any = None,
    priv_group: Any = 1,
    pos_label: Any = 1,
    sample_weight: Any = None,
) -> float:
    """Return selection rate of the unprivileged minus that of the privileged rows.

    Parameters
    ----------
    y_true : array-like or pandas Series
        Actual labels; with ``y_pred`` None, the base rates of ``y_true`` are compared.
    y_pred : array-like, optional
        Predicted labels.
    prot_attr : str, array-like, list of them, or None
        Index level name(s) of ``y_true`` or explicit arrays; None uses all index levels.
    priv_group : scalar or tuple, default 1
        The privileged group's value (a tuple for several attributes).
    pos_label : scalar, default 1
        The favourable label.
    sample_weight : array-like, optional
        Row weights.

    Returns
    -------
    float
    """
    cells = _split(
        y_true, y_pred, prot_attr, priv_group, pos_label, sample_weight, predictions_only=True
    )
    rates = _selection(cells)
    return float(rates[0] - rates[1])


def disparate_impact_ratio(
    y_true: Any,
    y_pred: Any = None,
    *,
    prot_attr: Any = None,
    priv_group: Any = 1,
    pos_label: Any = 1,
    sample_weight: Any = None,
    zero_division: ZeroDivision = "warn",
) -> float:
    """Return selection rate of the unprivileged over that of the privileged rows.

    Parameters are those of :func:`statistical_parity_difference`, and:

    Parameters
    ----------
    zero_division : {"warn", 0, 1}, default "warn"
        The value when the privileged selection rate is 0 ("warn" gives 0.0, as AIF360).

    Returns
    -------
    float
    """
    cells = _split(
        y_true, y_pred, prot_attr, priv_group, pos_label, sample_weight, predictions_only=True
    )
    rates = _selection(cells)
    if rates[1] == 0:
        return _zero_division(zero_division)
    return float(rates[0] / rates[1])


def equal_opportunity_difference(
    y_true: Any,
    y_pred: Any,
    *,
    prot_attr: Any = None,
    priv_group: Any = 1,
    pos_label: Any = 1,
    sample_weight: Any = None,
) -> float:
    """Return TPR of the unprivileged minus TPR of the privileged rows (0/0 TPR is 0.0).

    Parameters are those of :func:`statistical_parity_difference`.
    """
    cells = _split(y_true, y_pred, prot_attr, priv_group, pos_label, sample_weight)
    tpr = _recall(cells)
    return float(tpr[0] - tpr[1])


def _odds_differences(cells: FloatArray) -> tuple[float, float]:
    specificity, tpr = _specificity(cells), _recall(cells)
    # AIF360 takes the FPR difference as minus the specificity difference.
    return float(tpr[0] - tpr[1]), float(-(specificity[0] - specificity[1]))


def average_odds_difference(
    y_true: Any,
    y_pred: Any,
    *,
    prot_attr: Any = None,
    priv_group: Any = 1,
    pos_label: Any = 1,
    sample_weight: Any = None,
) -> float:
    """Return ½[(FPR_u − FPR_p) + (TPR_u − TPR_p)]; opposite signs can cancel.

    Parameters are those of :func:`statistical_parity_difference`. FPR is 1 − specificity
    with a 0/0 specificity counted as 0, so a group without actual negatives has FPR 1.
    """
    cells = _split(y_true, y_pred, prot_attr, priv_group, pos_label, sample_weight)
    tpr_diff, fpr_diff = _odds_differences(cells)
    return (tpr_diff + fpr_diff) / 2


def average_odds_error(
    y_true: Any,
    y_pred: Any,
    *,
    prot_attr: Any = None,
    priv_group: Any = None,
    pos_label: Any = 1,
    sample_weight: Any = None,
) -> float:
    """Return ½[|FPR_u − FPR_p| + |TPR_u − TPR_p|].

    Parameters are those of :func:`statistical_parity_difference`; with ``priv_group``
    None there must be exactly two groups and the first row's group is privileged (as
    AIF360).

    Raises
    ------
    MetricInputError
        When ``priv_group`` is None and there are not exactly two groups.
    """
    if priv_group is None:
        priv_group = _first_row_group(y_true, prot_attr)
    cells = _split(y_true, y_pred, prot_attr, priv_group, pos_label, sample_weight)
    tpr_diff, fpr_diff = _odds_differences(cells)
    return (abs(tpr_diff) + abs(fpr_diff)) / 2


def _first_row_group(y_true: Any, prot_attr: Any) -> Any:
    codes, groups = encode_groups(_features(y_true, prot_attr), len(as_1d(y_true, name="y_true")))
    if len(groups) != 2:
        raise MetricInputError(NOT_TWO_GROUPS.format(count=len(groups)))
    key = groups.keys[int(codes[0])]
    return key[0] if len(key) == 1 else key


def generalized_entropy_index(b: Any, *, alpha: float = 2) -> float:
    """Return the generalized entropy index of the non-negative benefits ``b``.

    GE(α) = mean((b/μ)^α − 1) / (α(α − 1)); α = 1 is the Theil index mean((b/μ) ln(b/μ))
    with 0·ln 0 = 0; α = 0 the mean log deviation −mean(ln(b/μ)) (infinite if some b is
    0). NaN when μ = 0.
    """
    values = as_1d(b, name="b").astype(np.float64)
    return entropy_of_levels(np.unique(values, return_counts=True), alpha)


def entropy_of_levels(levels: tuple[FloatArray, Any], alpha: float) -> float:
    """Return GE(α) of a population given as (distinct values, their weights); NaN if μ = 0."""
    values, weights = (
        np.asarray(levels[0], dtype=np.float64),
        np.asarray(levels[1], dtype=np.float64),
    )
    total = weights.sum()
    mean = float((values * weights).sum() / total) if total else 0.0
    if mean == 0:
        return float("nan")
    share = values / mean
    with np.errstate(divide="ignore", invalid="ignore"):
        if alpha == 1:
            terms = np.where(share > 0, share * np.log(share), 0.0)
        elif alpha == 0:
            terms = -np.log(share)
        else:
            terms = (share**alpha - 1) / (alpha * (alpha - 1))
    return float((terms * weights).sum() / total)


def benefit_levels(cells: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return the benefits (0, 1, 2) and their weights from confusion cells (2, 2)."""
    tp, fp, tn, fn = cells[1, 1], cells[0, 1], cells[0, 0], cells[1, 0]
    return np.array([0.0, 1.0, 2.0]), np.array([fn, tp + tn, fp])


def generalized_entropy_error(
    y_true: Any, y_pred: Any, *, alpha: float = 2, pos_label: Any = 1
) -> float:
    """Return the generalized entropy index of the benefits ``b = ŷ − y + 1``.

    Parameters
    ----------
    y_true, y_pred : array-like
        Actual and predicted labels.
    alpha : float, default 2
        The index's parameter (1: Theil index).
    pos_label : scalar, default 1
        The favourable label.

    Returns
    -------
    float
    """
    stats = binary_confusion(y_true, y_pred, pos_label=pos_label)
    return entropy_of_levels(benefit_levels(stats.weight[0]), alpha)


def between_group_generalized_entropy_error(
    y_true: Any,
    y_pred: Any,
    *,
    prot_attr: Any = None,
    priv_group: Any = None,
    alpha: float = 2,
    pos_label: Any = 1,
) -> float:
    """Return the generalized entropy index when each row gets its group's mean benefit.

    Parameters
    ----------
    y_true, y_pred : array-like
        Actual and predicted labels.
    prot_attr : str, array-like, list of them, or None
        As in :func:`statistical_parity_difference`.
    priv_group : scalar or tuple, optional
        When given, the groups are the privileged rows and all others.
    alpha : float, default 2
        The index's parameter.
    pos_label : scalar, default 1
        The favourable label.

    Returns
    -------
    float
    """
    stats = binary_confusion(
        y_true, y_pred, sensitive_features=_features(y_true, prot_attr), pos_label=pos_label
    )
    if priv_group is not None:
        stats = split_privileged(stats, priv_group)
    return between_group_entropy(stats.weight, alpha)


def between_group_entropy(cells: FloatArray, alpha: float) -> float:
    """Return GE(α) of the group mean benefits, given per-group cells (G, 2, 2)."""
    levels = [benefit_levels(c) for c in cells]
    weights = np.array([w.sum() for _, w in levels])
    means = np.array([(v * w).sum() / w.sum() if w.sum() else 0.0 for v, w in levels])
    return entropy_of_levels((means, weights), alpha)


def theil_index(b: Any) -> float:
    """Return the Theil index, the generalized entropy index with α = 1."""
    return generalized_entropy_index(b, alpha=1)


def coefficient_of_variation(b: Any) -> float:
    """Return √(2·GE(2)), the coefficient of variation of the benefits."""
    return float(np.sqrt(2 * generalized_entropy_index(b, alpha=2)))


__all__: Sequence[str] = (
    "average_odds_difference",
    "average_odds_error",
    "between_group_generalized_entropy_error",
    "coefficient_of_variation",
    "disparate_impact_ratio",
    "equal_opportunity_difference",
    "generalized_entropy_error",
    "generalized_entropy_index",
    "statistical_parity_difference",
    "theil_index",
)
