"""Metric rules: performance (absolute and against the champion) and fairness."""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import Field, PlainValidator, field_validator, model_validator

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
    FAIRLEARN_DISPARITIES,
    FAIRNESS_METRICS,
    INEQUALITY_INDICES,
    REFERENCE_GROUP_FORMS,
    Comparison,
    Outcome,
    default_comparison,
    fairness_traits,
    performance_metrics,
    performance_traits,
)


def check_performance_metric(value: Any) -> str:
    """Return ``value`` if it names a performance metric, else raise `ValueError`."""
    if not isinstance(value, str):
        raise ValueError(msg.ERR_TYPE.format(expected="a metric name", got=describe_value(value)))
    if value in FAIRNESS_METRICS:
        raise ValueError(msg.ERR_FAIRNESS_IN_PERFORMANCE.format(name=value))
    names = performance_metrics()
    if value not in names:
        listing = msg.ERR_METRIC_LIST.format(family="performance", choices=", ".join(names))
        raise ValueError(
            unknown_name(value, names, template=msg.ERR_UNKNOWN_METRIC, listing=listing)
        )
    return value


def check_fairness_metric(value: Any) -> str:
    """Return ``value`` if it names a fairness metric, else raise `ValueError`."""
    if not isinstance(value, str):
        raise ValueError(msg.ERR_TYPE.format(expected="a metric name", got=describe_value(value)))
    if value in performance_metrics():
        raise ValueError(msg.ERR_PERFORMANCE_IN_FAIRNESS.format(name=value))
    if value not in FAIRNESS_METRICS:
        listing = msg.ERR_METRIC_LIST.format(family="fairness", choices=", ".join(FAIRNESS_METRICS))
        raise ValueError(
            unknown_name(value, FAIRNESS_METRICS, template=msg.ERR_UNKNOWN_METRIC, listing=listing)
        )
    return value


PerformanceMetric = Annotated[str, PlainValidator(check_performance_metric)]
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


class PerformanceRule(Bounds):
    """A performance metric's bounds, and optionally how it compares with the champion."""

    metric: PerformanceMetric
    vs_champion: ChampionComparison | None = None
    undefined: Outcome | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        traits = performance_traits(self.metric)
        asked = "min, max, between or vs_champion" if self.vs_champion is None else None
        problems = self.bound_problems(metric=self.metric, traits=traits, alternatives=asked)
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
        if metric in INEQUALITY_INDICES:
            if compare is not None:
                return [(("compare",), msg.ERR_COMPARE_NOT_APPLICABLE.format(metric=metric))]
            return []
        allowed: list[Comparison] = []
        if metric in FAIRLEARN_DISPARITIES:
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


class Fairness(PolicyModel):
    """Which features are sensitive, how groups are formed, and the rules on them.

    Groups with fewer than ``min_group_size`` rows are undefined and take no part in the
    disparities; ``intersectional`` adds the combinations of the sensitive features;
    ``reference_groups`` names the privileged value of a feature for AIF360's forms.
    """

    sensitive: list[Name] = Field(min_length=1)
    intersectional: bool = True
    min_group_size: int = Field(default=30, ge=1)
    reference_groups: dict[str, Scalar] = Field(default_factory=dict)
    rules: list[FairnessRule] = Field(min_length=1)

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
        if not self.reference_groups:
            for index, rule in enumerate(self.rules):
                if rule.needs_reference_group:
                    message = msg.ERR_NEEDS_REFERENCE_GROUPS.format(metric=rule.metric)
                    problems.append((("rules", index, "metric"), message))
        if problems:
            raise FieldProblems(problems)
        return self
