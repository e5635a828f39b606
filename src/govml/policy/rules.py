"""Metric rules: performance (absolute and against the champion) and fairness.

A performance rule of an evaluation may also name ``expected_cost`` (with its ``costs``) or
a metric an installed package provides under the entry-point group ``govml.metrics``
(`govml.metrics.custom`); monitoring rules take the built-in metrics only.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import Field, PlainValidator, field_validator, model_validator

from govml.metrics._validate import MetricInputError
from govml.metrics.custom import (
    EXPECTED_COST,
    cost_range,
    installed_metrics,
    load_metric,
)
from govml.policy import messages as msg
from govml.policy._base import (
    Bounds,
    Name,
    PolicyModel,
    Scalar,
    describe_value,
    unique,
    unknown_name,
)
from govml.policy.diagnostics import KEY, FieldProblems, Path
from govml.policy.vocabulary import (
    CALIBRATION_DISPARITIES,
    FAIRLEARN_DISPARITIES,
    FAIRNESS_RULE_METRICS,
    INEQUALITY_INDICES,
    REFERENCE_GROUP_FORMS,
    REGRESSION_DISPARITIES,
    WORST_GROUP_METRICS,
    Comparison,
    MetricTraits,
    Outcome,
    default_comparison,
    fairness_traits,
    performance_metrics,
    performance_traits,
)


def check_performance_metric(value: Any) -> str:
    """Return ``value`` if it names a built-in performance metric, else raise `ValueError`."""
    if not isinstance(value, str):
        raise ValueError(msg.ERR_TYPE.format(expected="a metric name", got=describe_value(value)))
    if value in FAIRNESS_RULE_METRICS:
        raise ValueError(msg.ERR_FAIRNESS_IN_PERFORMANCE.format(name=value))
    names = performance_metrics()
    if value not in names:
        if value == EXPECTED_COST or value in installed_metrics():
            raise ValueError(msg.ERR_GATE_METRIC_ONLY.format(name=value))
        listing = msg.ERR_METRIC_LIST.format(family="performance", choices=", ".join(names))
        raise ValueError(
            unknown_name(value, names, template=msg.ERR_UNKNOWN_METRIC, listing=listing)
        )
    return value


def check_gate_metric(value: Any) -> str:
    """Return ``value`` if an evaluation can gate on it, else raise `ValueError`.

    That is a built-in performance metric, ``expected_cost`` or a metric an installed
    package provides (which is imported here, so that a broken one is named at once).
    """
    if not isinstance(value, str):
        raise ValueError(msg.ERR_TYPE.format(expected="a metric name", got=describe_value(value)))
    if value in FAIRNESS_RULE_METRICS:
        raise ValueError(msg.ERR_FAIRNESS_IN_PERFORMANCE.format(name=value))
    builtin = sorted([*performance_metrics(), EXPECTED_COST])
    if value in builtin:
        return value
    installed = sorted(installed_metrics())
    if value in installed:
        try:
            load_metric(value)
        except MetricInputError as exc:
            raise ValueError(exc.message) from None
        return value
    listing = msg.ERR_METRIC_LIST.format(family="performance", choices=", ".join(builtin))
    listing = listing[:-1] + (
        msg.ERR_INSTALLED_LIST.format(choices=", ".join(installed))
        if installed
        else msg.ERR_NONE_INSTALLED
    )
    raise ValueError(
        unknown_name(
            value, [*builtin, *installed], template=msg.ERR_UNKNOWN_METRIC, listing=listing
        )
    )


def check_fairness_metric(value: Any) -> str:
    """Return ``value`` if it names a fairness metric, else raise `ValueError`."""
    if not isinstance(value, str):
        raise ValueError(msg.ERR_TYPE.format(expected="a metric name", got=describe_value(value)))
    if value in performance_metrics():
        raise ValueError(msg.ERR_PERFORMANCE_IN_FAIRNESS.format(name=value))
    if value not in FAIRNESS_RULE_METRICS:
        choices = ", ".join(FAIRNESS_RULE_METRICS)
        listing = msg.ERR_METRIC_LIST.format(family="fairness", choices=choices)
        raise ValueError(
            unknown_name(
                value, FAIRNESS_RULE_METRICS, template=msg.ERR_UNKNOWN_METRIC, listing=listing
            )
        )
    return value


PerformanceMetric = Annotated[str, PlainValidator(check_performance_metric)]
GateMetric = Annotated[str, PlainValidator(check_gate_metric)]
FairnessMetric = Annotated[str, PlainValidator(check_fairness_metric)]


class ChampionComparison(PolicyModel):
    """How far a candidate may fall behind the version holding the ``production`` alias.

    ``max_drop`` for metrics where higher is better, ``max_increase`` where lower is better;
    both are absolute differences in the metric's unit.
    """

    max_drop: float | None = Field(default=None, ge=0)
    max_increase: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.max_drop is None) == (self.max_increase is None):
            raise FieldProblems.at((), msg.ERR_CHAMPION_ONE)
        return self


class Costs(PolicyModel):
    """What one decision costs, per cell of the confusion matrix (0 when not given).

    German credit's matrix, with "bad" as the positive label: a bad customer classed good
    (a false negative) costs 5, a good one classed bad (a false positive) costs 1.
    """

    true_positive: float = Field(default=0.0, ge=0)
    false_positive: float = Field(default=0.0, ge=0)
    true_negative: float = Field(default=0.0, ge=0)
    false_negative: float = Field(default=0.0, ge=0)

    @model_validator(mode="after")
    def _some_cost(self) -> Self:
        if not any(self.model_dump().values()):
            raise FieldProblems.at((), msg.ERR_COSTS_ZERO)
        return self


class PerformanceRule(Bounds):
    """A performance metric's bounds, and optionally how it compares with the champion.

    ``expected_cost`` needs ``costs``; a metric installed as an entry point takes its range
    and better side from its package.
    """

    metric: GateMetric
    # Left out of the document when absent, so the digests of earlier policies stay.
    costs: Costs | None = Field(default=None, exclude_if=lambda v: v is None)
    vs_champion: ChampionComparison | None = None
    undefined: Outcome | None = None

    def traits(self) -> MetricTraits:
        """Return the range and better side of the rule's metric."""
        if self.metric == EXPECTED_COST:
            costs = (self.costs or Costs(false_negative=1.0)).model_dump()
            low, high = cost_range(costs)
            return MetricTraits(low=low, high=high, direction="lower")
        if self.metric in performance_metrics():
            return performance_traits(self.metric)
        custom = load_metric(self.metric)
        return MetricTraits(low=custom.low, high=custom.high, direction=custom.direction)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[tuple[Path, str]] = []
        if self.metric == EXPECTED_COST and self.costs is None:
            problems.append((("metric",), msg.ERR_COSTS_MISSING))
        elif self.metric != EXPECTED_COST and self.costs is not None:
            problems.append((("costs",), msg.ERR_COSTS_NOT_APPLICABLE.format(metric=self.metric)))
        traits = self.traits()
        asked = "min, max, between or vs_champion" if self.vs_champion is None else None
        problems += self.bound_problems(metric=self.metric, traits=traits, alternatives=asked)
        champion = self.vs_champion
        if champion is not None:
            given = "max_drop" if champion.max_drop is not None else "max_increase"
            wanted = {"higher": "max_drop", "lower": "max_increase"}.get(traits.direction)
            path: Path = ("vs_champion", given)
            if wanted is None:
                problems.append((path, msg.ERR_CHAMPION_NO_DIRECTION.format(metric=self.metric)))
            elif wanted != given:
                problems.append(
                    (
                        path,
                        msg.ERR_CHAMPION_DIRECTION.format(
                            metric=self.metric, better=traits.direction, use=wanted
                        ),
                    )
                )
        if problems:
            raise FieldProblems(problems)
        return self


class MonitoringPerformanceRule(Bounds):
    """A performance metric's bounds on a monitoring window."""

    metric: PerformanceMetric
    undefined: Outcome | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = self.bound_problems(metric=self.metric, traits=performance_traits(self.metric))
        if problems:
            raise FieldProblems(problems)
        return self


class FairnessRule(Bounds):
    """A fairness metric's bounds, gated on the point estimate or a bootstrap bound.

    ``compare`` says how groups are compared: Fairlearn's ``between_groups`` (the default
    for its disparities) or ``to_overall``, or AIF360's ``reference_group`` (the default for
    its forms, against ``fairness.reference_groups``). With ``confidence``, a ``min`` is
    checked on the lower and a ``max`` on the upper bound of the bootstrap interval, from
    ``n_boot`` replicates (the evaluation's default when not given).
    """

    metric: FairnessMetric
    compare: Comparison | None = None
    confidence: float | None = Field(default=None, ge=0.9, le=0.999)
    n_boot: int | None = Field(default=None, ge=100)
    undefined: Outcome | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_comparison(cls, data: Any) -> Any:
        # Filled in before validation so that the stored document (and its digest) is the
        # same whether or not the policy spells out the default.
        if isinstance(data, dict) and "compare" not in data:
            metric = data.get("metric")
            return {
                **data,
                "compare": default_comparison(metric if isinstance(metric, str) else None),
            }
        return data

    @property
    def needs_reference_group(self) -> bool:
        """True when the rule compares groups with the policy's reference groups."""
        return self.compare == "reference_group"

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems = self._compare_problems()
        if self.n_boot is not None and self.confidence is None:
            problems.append((("n_boot",), msg.ERR_N_BOOT_WITHOUT_CONFIDENCE))
        traits = fairness_traits(self.metric, self.compare)
        problems.extend(self.bound_problems(metric=self.metric, traits=traits))
        if problems:
            raise FieldProblems(problems)
        return self

    def _compare_problems(self) -> list[tuple[Path, str]]:
        metric, compare = self.metric, self.compare
        if metric in INEQUALITY_INDICES or metric in WORST_GROUP_METRICS:
            if compare is not None:
                return [(("compare",), msg.ERR_COMPARE_NOT_APPLICABLE.format(metric=metric))]
            return []
        allowed: list[Comparison] = []
        if metric in (*FAIRLEARN_DISPARITIES, *REGRESSION_DISPARITIES, *CALIBRATION_DISPARITIES):
            allowed += ["between_groups", "to_overall"]
        if metric in REFERENCE_GROUP_FORMS:
            allowed.append("reference_group")
        if compare in allowed:
            return []
        text = " or ".join(allowed)
        if compare is None:
            return [(("compare",), msg.ERR_NOT_A_CHOICE.format(value=None, choices=text))]
        return [
            (
                ("compare",),
                msg.ERR_COMPARE_WRONG.format(metric=metric, compare=compare, allowed=text),
            )
        ]


Unjudged = Literal["fail", "warn", "ignore"]
"""What a fairness check becomes when a group was too small to judge."""


class Fairness(PolicyModel):
    """Which features are sensitive, how groups are formed, and the rules on them.

    Groups with fewer than ``min_group_size`` rows are not judged: they take no part in the
    disparities. Each check names the groups it left out, and ``unjudged`` says what that
    means: ``warn`` (the default) turns a passing check into a warning, ``fail`` fails it,
    ``ignore`` keeps its status. ``min_judged_groups`` fails a check that judged fewer
    groups. ``intersectional`` adds the combinations of the sensitive features;
    ``reference_groups`` names the privileged value of each feature for AIF360's forms.
    ``favourable_label`` is the outcome that is good for the person (``good`` credit, or
    ``0`` when the target is "default"): selection-rate rules (demographic parity,
    disparate impact, ...) and the inequality indices measure it; when not given, it is
    taken to be the positive label, and the evaluation says so.
    """

    sensitive: list[Name] = Field(min_length=1)
    intersectional: bool = True
    min_group_size: int = Field(default=30, ge=1)
    reference_groups: dict[str, Scalar] = Field(default_factory=dict)
    rules: list[FairnessRule] = Field(min_length=1)
    # Left out of the document when absent or the default, so earlier digests stay.
    unjudged: Unjudged = Field(default="warn", exclude_if=lambda v: v == "warn")
    min_judged_groups: int | None = Field(default=None, ge=2, exclude_if=lambda v: v is None)
    favourable_label: Scalar | None = Field(default=None, exclude_if=lambda v: v is None)

    @field_validator("sensitive")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        unique(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[tuple[Path, str]] = []
        choices = ", ".join(self.sensitive)
        for name in self.reference_groups:
            if name not in self.sensitive:
                message = msg.ERR_REFERENCE_NOT_SENSITIVE.format(name=name, choices=choices)
                problems.append((("reference_groups", name, KEY), message))
        problems += reference_group_problems(self.rules, self.sensitive, self.reference_groups)
        if problems:
            raise FieldProblems(problems)
        return self


def reference_group_problems(
    rules: list[FairnessRule], sensitive: list[str], reference_groups: dict[str, Any]
) -> list[tuple[Path, str]]:
    """Return a problem for each rule compared with a reference group a feature lacks.

    Paths are relative to the list of ``rules``' parent (``rules[i].metric``).
    """
    problems: list[tuple[Path, str]] = []
    for index, rule in enumerate(rules):
        if not rule.needs_reference_group:
            continue
        if not reference_groups:
            message = msg.ERR_NEEDS_REFERENCE_GROUPS.format(metric=rule.metric)
            problems.append((("rules", index, "metric"), message))
            continue
        lacking = [name for name in sensitive if name not in reference_groups]
        if lacking:
            message = msg.ERR_REFERENCE_GROUP_MISSING.format(
                metric=rule.metric, names=", ".join(repr(n) for n in lacking), first=lacking[0]
            )
            problems.append((("rules", index, "metric"), message))
    return problems
