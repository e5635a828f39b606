"""Performance rules turned into checks: bounds, and the comparison with the champion.

A rule's metric is a `Measure`: a built-in metric, ``expected_cost`` with the rule's costs,
or a metric an installed package provides (from confusion counts or from the rows). The
statistics come from a `StatsFor` function the caller builds from the evaluation's inputs
(:func:`govml.evaluation.inputs.stats_lookup`); nothing here reads files or the store.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from govml.checks import CheckResult
from govml.evaluation.gates import judged_text, not_run, shown, threshold_of, within
from govml.metrics import BinaryConfusion, metric_names, metric_result
from govml.metrics._registry import MetricSpec, spec_for
from govml.metrics._validate import MetricInputError
from govml.metrics.custom import (
    EXPECTED_COST,
    CustomMetric,
    RowValues,
    expected_cost_spec,
    load_metric,
    row_value,
)
from govml.metrics.results import MetricResult, result
from govml.policy.rules import PerformanceRule
from govml.policy.vocabulary import format_number

NO_CHAMPION = "no version of {model} holds the production alias; nothing to compare with"
SAME_CHAMPION = "{subject} holds the production alias itself; nothing to compare with"

StatsFor = Callable[["Measure"], "tuple[Any, None] | tuple[None, str]"]
"""Return the statistics a measure is computed from, or None and the reason."""


@dataclass(frozen=True, kw_only=True)
class Measure:
    """How a performance rule's metric is computed.

    ``spec`` computes it from statistics (a built-in metric, ``expected_cost`` with the
    rule's costs, an installed confusion metric); ``rows`` is an installed row metric,
    called with the evaluation's rows.
    """

    name: str
    spec: MetricSpec | None = None
    rows: CustomMetric | None = None

    @classmethod
    def of(cls, rule: PerformanceRule) -> Measure:
        """Return the measure of ``rule``'s metric.

        Raises
        ------
        MetricInputError
            When an installed metric can no longer be loaded.
        """
        if rule.metric == EXPECTED_COST:
            costs = {} if rule.costs is None else rule.costs.model_dump()
            return cls(name=rule.metric, spec=expected_cost_spec(costs))
        if rule.metric in metric_names():
            return cls(name=rule.metric, spec=spec_for(rule.metric))
        custom = load_metric(rule.metric)
        if custom.inputs == "rows":
            return cls(name=rule.metric, rows=custom)
        return cls(name=rule.metric, spec=custom.spec(rule.metric))

    @property
    def kinds(self) -> tuple[str, ...]:
        """The statistics kinds the measure reads, preferred first (``rows`` for rows)."""
        return ("rows",) if self.spec is None else self.spec.kinds

    @property
    def needs_scores(self) -> bool:
        """Whether a row metric reads the scores."""
        return self.rows is not None and self.rows.needs_scores

    def result(self, stats: Any) -> MetricResult:
        """Return the value from ``stats`` (`RowValues` for a row metric)."""
        if self.spec is not None:
            found = metric_result(stats, self.spec)
            return found if found.metric == self.name else replace(found, metric=self.name)
        assert self.rows is not None and isinstance(stats, RowValues)
        try:
            value = row_value(self.name, self.rows, stats)
        except MetricInputError as exc:
            return MetricResult(metric=self.name, value=None, reason=exc.message)
        return result(self.name, value, f"{self.name} returned no value (NaN)")


@dataclass(frozen=True, kw_only=True)
class Champion:
    """The version the candidate is compared with, and how to get its statistics."""

    subject: str
    stats_for: StatsFor | None
    """None when there is no champion (``reason`` says why)."""
    reason: str | None = None


def performance_checks(
    rules: Sequence[PerformanceRule],
    stats_for: StatsFor,
    *,
    champion: Champion,
) -> list[CheckResult]:
    """Check each performance rule's bounds and its comparison with the champion.

    A rule with bounds gives a check named after its metric; a rule with ``vs_champion``
    adds ``<metric>_vs_champion``, which passes with a note when there is no champion.
    """
    out: list[CheckResult] = []
    for rule in rules:
        started = time.perf_counter()
        measure = Measure.of(rule)
        stats, why = stats_for(measure)
        value = None if stats is None else measure.result(stats)
        if rule.low is not None or rule.high is not None:
            bounded = _bounded(rule, value, why, stats)
            out.append(bounded.with_duration(time.perf_counter() - started))
        if rule.vs_champion is not None:
            started = time.perf_counter()
            versus = _versus(rule, measure, value, why, champion)
            out.append(versus.with_duration(time.perf_counter() - started))
    return out


def performance_not_run(rules: Sequence[PerformanceRule], reason: str) -> list[CheckResult]:
    """Return each performance check an evaluation would have made, undefined with ``reason``."""
    out: list[CheckResult] = []
    for rule in rules:
        if rule.low is not None or rule.high is not None:
            threshold = threshold_of(rule.low, rule.high)
            out.append(not_run(rule.metric, "performance", reason, threshold))
        if rule.vs_champion is not None:
            threshold = rule.vs_champion.model_dump(exclude_none=True)
            out.append(not_run(f"{rule.metric}_vs_champion", "performance", reason, threshold))
    return out


def _stats_evidence(rule: PerformanceRule, stats: Any) -> dict[str, Any]:
    if isinstance(stats, RowValues):
        return {"statistics": "rows", "rows": stats.n_rows}
    rows = getattr(stats, "n_rows", None)
    evidence: dict[str, Any] = {"statistics": type(stats).__name__}
    if rows is not None:
        evidence["rows"] = int(rows.sum())
    if isinstance(stats, BinaryConfusion):
        w = stats.overall().weight[0]
        evidence["confusion"] = {"tn": w[0, 0], "fp": w[0, 1], "fn": w[1, 0], "tp": w[1, 1]}
    if rule.costs is not None:
        evidence["costs"] = rule.costs.model_dump()
    return evidence


def _bounded(
    rule: PerformanceRule, value: MetricResult | None, why: str | None, stats: Any
) -> CheckResult:
    threshold = threshold_of(rule.low, rule.high)
    if value is None or value.value is None:
        reason = why if value is None else (value.reason or "undefined")
        return CheckResult(
            check=rule.metric,
            category="performance",
            status="undefined",
            message=f"{rule.metric} is undefined: {reason}",
            threshold=threshold,
            reason=reason,
        )
    ok = within(value.value, rule.low, rule.high)
    relation = judged_text(ok, rule.low, rule.high)
    return CheckResult(
        check=rule.metric,
        category="performance",
        status="pass" if ok else "fail",
        message=f"{rule.metric} {shown(value.value)} {relation}",
        value=value.value,
        threshold=threshold,
        evidence=_stats_evidence(rule, stats),
    )


def _versus(
    rule: PerformanceRule,
    measure: Measure,
    value: MetricResult | None,
    why: str | None,
    champion: Champion,
) -> CheckResult:
    comparison = rule.vs_champion
    assert comparison is not None
    check = f"{rule.metric}_vs_champion"
    threshold = comparison.model_dump(exclude_none=True)
    if champion.stats_for is None:
        return CheckResult(
            check=check,
            category="performance",
            status="pass",
            message=champion.reason or "no champion",
            threshold=threshold,
            evidence={"champion": None},
        )
    their_stats, their_why = champion.stats_for(measure)
    theirs = None if their_stats is None else measure.result(their_stats)
    if value is None or value.value is None or theirs is None or theirs.value is None:
        if value is None or value.value is None:
            reason = (
                f"the candidate's {rule.metric} is undefined: {why or (value and value.reason)}"
            )
        else:
            detail = their_why if theirs is None else theirs.reason
            reason = f"the champion's {rule.metric} is undefined: {detail}"
        return CheckResult(
            check=check,
            category="performance",
            status="undefined",
            message=reason,
            threshold=threshold,
            reason=reason,
            evidence={"champion": champion.subject},
        )
    higher = rule.traits().direction == "higher"
    change = value.value - theirs.value
    worse = -change if higher else change
    limit = comparison.max_drop if comparison.max_drop is not None else comparison.max_increase
    assert limit is not None
    ok = worse <= limit + 1e-12
    word = "drop" if higher else "increase"
    message = (
        f"{rule.metric} {shown(value.value)} against {shown(theirs.value)} for "
        f"{champion.subject}: a {word} of {shown(max(worse, 0.0))} "
        f"({'within' if ok else 'beyond'} the allowed {format_number(limit)})"
    )
    return CheckResult(
        check=check,
        category="performance",
        status="pass" if ok else "fail",
        message=message,
        value=change,
        threshold=threshold,
        evidence={"champion": champion.subject, "candidate": value.value, "theirs": theirs.value},
    )
