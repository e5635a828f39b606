"""The ``robustness`` section: perturbations, monotonicity, the counterfactual flip test.

Every measurement runs on at most ``sample_rows`` rows of the evaluation data drawn with the
evaluation's seed, so it is deterministic and its cost bounded. A perturbation changes the
model's inputs (``numeric_noise``: Gaussian noise of ``scale`` times each numeric column's
standard deviation; ``category_swap``: a share ``rate`` of each categorical column's cells
set to another observed value; ``missing_values``: a share ``rate`` of cells made missing)
and its checks bound the share of decisions that change (``max_flip_rate``) and the fall of
the performance metric (``max_metric_drop``, in the metric's unit). ``monotone`` declares
features whose increase must never lower (``increasing``) or raise (``decreasing``) the
model's score. ``counterfactual`` swaps each sensitive feature's value (and gives its
``proxies`` values drawn from the other group's rows) and bounds the share of decisions
that change, in the worst group.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from govml.policy._base import Name, PolicyModel, unique
from govml.policy.diagnostics import FieldProblems, Path

PerturbationKind = Literal["numeric_noise", "category_swap", "missing_values"]
Direction = Literal["increasing", "decreasing"]
RobustnessMetric = Literal["accuracy", "balanced_accuracy", "mean_absolute_error", "r2"]

ERR_SCALE_KIND = "scale applies to numeric_noise; {kind} takes a rate"
ERR_RATE_KIND = "rate applies to category_swap and missing_values; numeric_noise takes a scale"
ERR_NO_LIMIT = "give max_flip_rate, max_metric_drop or both"
ERR_EMPTY = "give perturbations, monotone or counterfactual"
ERR_PROXY_NOT_LISTED = "proxies of {name!r}: {name!r} is not one of counterfactual.features"


class Perturbation(PolicyModel):
    """One perturbation of the model's inputs and the limits on what it may change."""

    kind: PerturbationKind
    scale: float | None = Field(default=None, gt=0, le=10)
    rate: float | None = Field(default=None, gt=0, le=1)
    columns: list[Name] = Field(default_factory=list)
    max_flip_rate: float | None = Field(default=None, ge=0, le=1)
    max_metric_drop: float | None = Field(default=None, ge=0)

    @field_validator("columns")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        unique(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[tuple[Path, str]] = []
        if self.kind == "numeric_noise" and self.rate is not None:
            problems.append((("rate",), ERR_RATE_KIND))
        if self.kind != "numeric_noise" and self.scale is not None:
            problems.append((("scale",), ERR_SCALE_KIND.format(kind=self.kind)))
        if self.max_flip_rate is None and self.max_metric_drop is None:
            problems.append(((), ERR_NO_LIMIT))
        if problems:
            raise FieldProblems(problems)
        return self

    @property
    def amount(self) -> float:
        """The scale (noise) or rate (swaps, missing values), with its default."""
        if self.kind == "numeric_noise":
            return self.scale if self.scale is not None else 0.1
        return self.rate if self.rate is not None else 0.05


class Counterfactual(PolicyModel):
    """The counterfactual flip test: swap each sensitive feature, count changed decisions.

    ``features`` defaults to the fairness section's sensitive features.
    """

    features: list[Name] = Field(default_factory=list)
    proxies: dict[str, list[Name]] = Field(default_factory=dict)
    max_flip_rate: float = Field(ge=0, le=1)

    @field_validator("features")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        unique(value)
        return value

    @model_validator(mode="after")
    def _proxies_listed(self) -> Self:
        if not self.features:
            return self
        problems: list[tuple[Path, str]] = [
            (("proxies", name), ERR_PROXY_NOT_LISTED.format(name=name))
            for name in self.proxies
            if name not in self.features
        ]
        if problems:
            raise FieldProblems(problems)
        return self


class Robustness(PolicyModel):
    """Perturbations, monotone features and the counterfactual test (see the module doc)."""

    sample_rows: int = Field(default=1000, ge=10, le=100_000)
    metric: RobustnessMetric | None = None
    perturbations: list[Perturbation] = Field(default_factory=list)
    monotone: dict[str, Direction] = Field(default_factory=dict)
    max_monotone_violation_rate: float = Field(default=0.0, ge=0, le=1)
    counterfactual: Counterfactual | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if not self.perturbations and not self.monotone and self.counterfactual is None:
            raise FieldProblems.at((), ERR_EMPTY)
        return self
