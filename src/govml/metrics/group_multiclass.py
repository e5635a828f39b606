"""Fairness of a multiclass classifier: each class against the rest, and the worst class.

From the multiclass confusion matrices per group (`MulticlassConfusion`), each class ``c``
gives a binary problem, "c or not c": its selection rate (the share of rows predicted
``c``), true and false positive rates, precision and false negative rate per group. Each of
Fairlearn's named disparities (``demographic_parity_difference``, ``equalized_odds_ratio``,
...) is computed per class exactly as Fairlearn computes it on the indicator vectors
``y_true == c`` and ``y_pred == c``; the value a rule checks is the worst class (the largest
difference, the smallest ratio). Strict reading: a class whose disparity is undefined (a
group with no row of that class, say) makes the worst class undefined, and the reason names
the class.

Disparities of the section are keyed by the metric (the worst class) and by
``metric@class`` (each class), so that the evidence shows every class.

Bootstrap: the matrices are resampled like binary confusion counts (a multinomial draw over
the cells group × actual × predicted), so the intervals come from the statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from govml.metrics._aggregate import NAMED, strict_named
from govml.metrics._confusion import FloatArray, MulticlassConfusion
from govml.metrics.bootstrap import regroup, resample
from govml.metrics.group_regression import Replication
from govml.metrics.group_values import with_draws
from govml.metrics.report import FairnessSection
from govml.metrics.results import SMALL_GROUP, TOO_FEW_GROUPS, MetricResult, result

BASES = ("selection_rate", "recall", "false_positive_rate", "false_negative_rate", "precision")
CLASS_UNDEFINED = "undefined for class {label!r}: {reason}"
NO_ROWS = "a judged group has no {what} of that class"


def class_key(metric: str, label: Any) -> str:
    """Return the key of ``metric`` for one class: ``metric@label``."""
    return f"{metric}@{label}"


def one_vs_rest(weight: FloatArray) -> dict[str, FloatArray]:
    """Return each class's base rates per group from matrices (..., G, K, K).

    The results have shape (..., K, G): the class axis before the group axis, so that the
    aggregates over the last axis are across groups.
    """
    total = weight.sum(axis=(-2, -1))[..., None]  # (..., G, 1)
    diagonal = np.diagonal(weight, axis1=-2, axis2=-1)  # (..., G, K)
    actual = weight.sum(axis=-1)  # (..., G, K) rows whose label is c
    predicted = weight.sum(axis=-2)  # (..., G, K) rows predicted c
    negatives = total - actual
    false_pos = predicted - diagonal
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = {
            "selection_rate": predicted / total,
            "recall": diagonal / actual,
            "false_positive_rate": false_pos / negatives,
            "false_negative_rate": (actual - diagonal) / actual,
            "precision": diagonal / predicted,
        }
    return {
        name: np.swapaxes(np.where(np.isfinite(v), v, np.nan), -1, -2) for name, v in rates.items()
    }


def multiclass_sections(
    stats: MulticlassConfusion,
    *,
    min_group_size: int | None,
    intersections: bool,
    names: Sequence[str] = tuple(NAMED),
    classes: Sequence[Any] | None = None,
    replication: Replication | None = None,
) -> tuple[FairnessSection, ...]:
    """Return one `FairnessSection` per grouping with the named disparities per class.

    ``classes`` limits the classes judged (all labels by default).
    """
    replicates = None
    if replication is not None:
        rng = np.random.default_rng(replication.random_state)
        replicates = resample(stats, n_boot=replication.n_boot, stratified=False, rng=rng)
    features = stats.groups.names
    groupings: list[tuple[str, ...]] = [(f,) for f in features]
    if len(features) > 1 and intersections:
        groupings.append(tuple(features))
    chosen = list(stats.labels) if classes is None else [c for c in stats.labels if c in classes]
    out = []
    for grouping in groupings or [features]:
        part, position = stats.marginal(grouping), stats.groups.marginal(grouping)[1]
        cells = None
        if replicates is not None:
            cells = regroup(*replicates, position, len(part.groups))[0]
        out.append(_section(part, grouping, names, chosen, min_group_size, cells, replication))
    return tuple(out)


def _section(
    stats: MulticlassConfusion,
    features: tuple[str, ...],
    names: Sequence[str],
    classes: list[Any],
    min_group_size: int | None,
    cells: FloatArray | None,
    replication: Replication | None,
) -> FairnessSection:
    index = [stats.labels.index(c) for c in classes]
    rows = stats.n_rows
    included = rows >= (min_group_size or 0)
    rates = {k: v[index] for k, v in one_vs_rest(stats.weight).items()}  # (C, G)
    overall = {k: v[index][:, 0] for k, v in one_vs_rest(stats.overall().weight).items()}
    boot = boot_overall = None
    if cells is not None:
        boot = {k: v[:, index] for k, v in one_vs_rest(cells).items()}  # (B, C, G)
        total = cells.sum(axis=1, keepdims=True)
        boot_overall = {k: v[:, index, 0] for k, v in one_vs_rest(total).items()}
    confidence = 0.95 if replication is None else replication.confidence
    by_group: dict[str, tuple[MetricResult, ...]] = {}
    for c, label in enumerate(classes):
        key = class_key("selection_rate", label)
        by_group[key] = tuple(
            _group(key, float(rates["selection_rate"][c, g]), stats, g, min_group_size)
            for g in range(len(stats.groups))
        )
    disparities: dict[str, MetricResult] = {}
    for name in names:
        bases = NAMED[name][0]
        for method in ("between_groups", "to_overall"):
            label = name if method == "between_groups" else f"{name}_to_overall"
            values = strict_named(
                name,
                {m: rates[m][:, included] for m in bases},
                {m: overall[m] for m in bases},
                method,
            )  # (C,)
            draws = None
            if boot is not None and boot_overall is not None:
                draws = strict_named(
                    name,
                    {m: boot[m][..., included] for m in bases},
                    {m: boot_overall[m] for m in bases},
                    method,
                )  # (B, C)
            worse = np.max if NAMED[name][1] == "difference" else np.min
            reasons = [
                None if not np.isnan(v) else _why(bases, rates, c, included, method)
                for c, v in enumerate(values)
            ]
            for c, cls in enumerate(classes):
                found = result(class_key(label, cls), float(values[c]), reasons[c])
                disparities[class_key(label, cls)] = with_draws(
                    found, None if draws is None else draws[:, c], confidence
                )
            if int(included.sum()) < 2:
                reason = TOO_FEW_GROUPS.format(count=int(included.sum()), total=len(included))
                disparities[label] = MetricResult(metric=label, value=None, reason=reason)
                continue
            undefined = [(cls, r) for cls, r in zip(classes, reasons, strict=True) if r]
            if undefined or not classes:
                cls, why = undefined[0] if undefined else (None, "no class to judge")
                reason = CLASS_UNDEFINED.format(label=cls, reason=why)
                disparities[label] = MetricResult(metric=label, value=None, reason=reason)
                continue
            worst = MetricResult(metric=label, value=float(worse(values)))
            disparities[label] = with_draws(
                worst, None if draws is None else worse(draws, axis=1), confidence
            )
    return FairnessSection(
        features=features,
        groups=stats.groups.keys,
        rows=tuple(int(r) for r in rows),
        by_group=by_group,
        overall={},
        disparities=disparities,
    )


def _group(
    metric: str, value: float, stats: MulticlassConfusion, g: int, min_group_size: int | None
) -> MetricResult:
    key = stats.groups.keys[g]
    rows = int(stats.n_rows[g])
    if min_group_size is not None and rows < min_group_size:
        reason = SMALL_GROUP.format(n=rows, minimum=min_group_size)
        return MetricResult(metric=metric, value=None, reason=reason, group=key)
    return result(metric, value, "the group has no rows with weight", key)


def _why(
    bases: tuple[str, ...],
    rates: dict[str, FloatArray],
    c: int,
    included: Any,
    method: str,
) -> str:
    for base in bases:
        if np.isnan(rates[base][c][included]).any():
            what = {"precision": "prediction"}.get(base, "row")
            if base in ("false_positive_rate",):
                return "a judged group has only rows of that class"
            return NO_ROWS.format(what=what)
    return "the largest group value is 0, so the ratio is 0/0"
