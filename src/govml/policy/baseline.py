"""The ``baseline`` section: the candidate must beat simpler models fitted on the same data.

The baselines are fitted on the training data given to the evaluation (``--training-data``)
with the same target and input columns: ``majority`` (the most frequent class, or the mean
for a regression) and ``linear`` (a regularised logistic or ridge regression on
standardised numbers and one-hot categories). Each is scored on the evaluation data with
``metric``; the candidate must be better by at least ``margin`` (in the metric's unit).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from govml.policy._base import PolicyModel, unique

BaselineModel = Literal["majority", "linear"]
ALL_BASELINES: tuple[BaselineModel, ...] = ("majority", "linear")
BaselineMetric = Literal[
    "accuracy",
    "balanced_accuracy",
    "roc_auc",
    "mean_absolute_error",
    "root_mean_squared_error",
    "r2",
]


class Baseline(PolicyModel):
    """Which baselines, which metric, and by how much the candidate must beat each."""

    models: list[BaselineModel] = Field(default_factory=lambda: list(ALL_BASELINES), min_length=1)
    metric: BaselineMetric | None = None
    margin: float = Field(default=0.0, ge=0)

    @field_validator("models")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        unique(value)
        return value
