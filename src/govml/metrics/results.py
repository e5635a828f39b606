"""Metric values that say when they are undefined, and why.

A :class:`MetricResult` holds either a number or the reason it has none (a 0/0, a group
without positives, a group smaller than ``min_group_size``); it is never a silent 0. The
policy engine reads these: ``undefined`` is a status of its own, not a pass or a fail.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from govml.metrics._validate import MetricInputError

SMALL_GROUP = "the group has {n} rows, fewer than min_group_size={minimum}"
TOO_FEW_GROUPS = "fewer than two groups have a value ({count} of {total})"
GROUP_UNDEFINED = "{metric} is undefined for {group}: {reason}"
ZERO_DENOMINATOR = "{what} is 0, so the ratio is 0/0 or unbounded"


@dataclass(frozen=True, kw_only=True)
class MetricResult:
    """One metric's value, or the reason it is undefined, with an optional interval.

    Attributes
    ----------
    metric : str
        The metric's name (``true_positive_rate``, ``demographic_parity_difference``, ...).
    value : float or None
        The value; None when undefined.
    reason : str or None
        Why the value is undefined; None when it is defined.
    group : tuple or None
        The group's values (one per sensitive feature) for a group metric.
    interval : tuple of float or None
        The bootstrap percentile interval, when one was asked for and some replicates
        were defined.
    confidence : float or None
        The interval's coverage (0.95 for a 95 % interval).
    replicates : int or None
        How many bootstrap replicates were drawn.
    skipped : int or None
        How many of them left the metric undefined and were left out of the interval.
    """

    metric: str
    value: float | None
    reason: str | None = None
    group: tuple[Any, ...] | None = None
    interval: tuple[float, float] | None = None
    confidence: float | None = None
    replicates: int | None = None
    skipped: int | None = None

    def __post_init__(self) -> None:
        if (self.value is None) == (self.reason is None):
            raise MetricInputError(f"{self.metric}: give a value or a reason, exactly one")
        if self.value is not None and math.isnan(self.value):
            raise MetricInputError(f"{self.metric}: NaN is not a value; give the reason")

    @property
    def undefined(self) -> bool:
        """Whether the metric has no value."""
        return self.value is None

    def with_interval(
        self,
        interval: tuple[float, float] | None,
        *,
        confidence: float,
        replicates: int,
        skipped: int,
    ) -> MetricResult:
        """Return a copy carrying a bootstrap interval."""
        return MetricResult(
            metric=self.metric,
            value=self.value,
            reason=self.reason,
            group=self.group,
            interval=interval,
            confidence=confidence,
            replicates=replicates,
            skipped=skipped,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (fields that are None are left out)."""
        data: dict[str, Any] = {"metric": self.metric, "value": self.value}
        if self.reason is not None:
            data["reason"] = self.reason
        if self.group is not None:
            data["group"] = list(self.group)
        if self.interval is not None:
            data["interval"] = list(self.interval)
        for key in ("confidence", "replicates", "skipped"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricResult:
        """Rebuild from :meth:`to_dict` output."""
        interval = data.get("interval")
        group = data.get("group")
        return cls(
            metric=data["metric"],
            value=data.get("value"),
            reason=data.get("reason"),
            group=None if group is None else tuple(group),
            interval=None if interval is None else (float(interval[0]), float(interval[1])),
            confidence=data.get("confidence"),
            replicates=data.get("replicates"),
            skipped=data.get("skipped"),
        )


def result(
    metric: str, value: float, reason: str | None, group: tuple[Any, ...] | None = None
) -> MetricResult:
    """Return a :class:`MetricResult` from a float that is NaN when undefined."""
    if math.isnan(value):
        return MetricResult(metric=metric, value=None, reason=reason or "undefined", group=group)
    return MetricResult(metric=metric, value=float(value), group=group)
