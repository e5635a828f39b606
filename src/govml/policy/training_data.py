"""The ``training_data`` section, and aggregate data expectations on any data.

Representation and labels are checked on the training data given to the evaluation
(``--training-data``): each group of each sensitive feature must hold at least
``min_group_share`` of the rows and ``min_group_count`` rows; the favourable (or positive)
label's base rate per group is reported and the ratio of the smallest to the largest must
be at least ``min_base_rate_ratio``; ``min_label_coverage`` is the share of rows whose
label is present. ``expectations`` are aggregate checks on the training data;
``evaluation_expectations`` the same on the evaluation data:

- ``mean_between``: the column's mean lies in ``[min, max]``;
- ``quantile_between``: its ``quantile`` lies in ``[min, max]``;
- ``distinct_count``: the number of distinct values lies in ``[min, max]``;
- ``max_share``: no single value holds more than ``max`` of the non-missing rows;
- ``psi_vs_training``: the population stability index of the column against the version's
  training profile is at most ``max`` (evaluation data only).
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from govml.policy._base import Name, PolicyModel
from govml.policy.diagnostics import FieldProblems

ERR_NO_BOUND = "give min, max or both"
ERR_ORDER = "min {low} is above max {high}"


class _Bounded(PolicyModel):
    column: Name
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min is None and self.max is None:
            raise FieldProblems.at((), ERR_NO_BOUND)
        if self.min is not None and self.max is not None and self.min > self.max:
            raise FieldProblems.at(("max",), ERR_ORDER.format(low=self.min, high=self.max))
        return self


class MeanBetween(_Bounded):
    """The column's mean (missing values left out) lies in ``[min, max]``."""

    expect: Literal["mean_between"]


class QuantileBetween(_Bounded):
    """The column's ``quantile`` (numpy's linear interpolation) lies in ``[min, max]``."""

    expect: Literal["quantile_between"]
    quantile: float = Field(ge=0, le=1)


class DistinctCount(PolicyModel):
    """The number of distinct non-missing values lies in ``[min, max]``."""

    expect: Literal["distinct_count"]
    column: Name
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min is None and self.max is None:
            raise FieldProblems.at((), ERR_NO_BOUND)
        if self.min is not None and self.max is not None and self.min > self.max:
            raise FieldProblems.at(("max",), ERR_ORDER.format(low=self.min, high=self.max))
        return self


class MaxShare(PolicyModel):
    """No single value holds more than ``max`` of the column's non-missing rows."""

    expect: Literal["max_share"]
    column: Name
    max: float = Field(gt=0, le=1)


class PsiVsTraining(PolicyModel):
    """The population stability index against the training profile is at most ``max``."""

    expect: Literal["psi_vs_training"]
    column: Name
    max: float = Field(ge=0)


AggregateExpectation = Annotated[
    MeanBetween | QuantileBetween | DistinctCount | MaxShare | PsiVsTraining,
    Field(discriminator="expect"),
]


class TrainingData(PolicyModel):
    """Representation, base rates and label coverage of the training data; aggregate checks."""

    sensitive: list[Name] = Field(default_factory=list)
    min_group_share: float | None = Field(default=None, ge=0, le=1)
    min_group_count: int | None = Field(default=None, ge=0)
    min_base_rate_ratio: float | None = Field(default=None, ge=0, le=1)
    min_label_coverage: float | None = Field(default=None, ge=0, le=1)
    expectations: list[AggregateExpectation] = Field(default_factory=list)
    evaluation_expectations: list[AggregateExpectation] = Field(default_factory=list)
