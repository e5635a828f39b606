"""The README documents every field of the data, performance and fairness sections."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from govml.policy.baseline import Baseline
from govml.policy.robustness import Counterfactual, Perturbation, Robustness
from govml.policy.rules import Costs, Fairness, FairnessRule, PerformanceRule
from govml.policy.training_data import TrainingData

README = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "model",
    [
        PerformanceRule,
        Costs,
        Fairness,
        FairnessRule,
        Robustness,
        Perturbation,
        Counterfactual,
        Baseline,
        TrainingData,
    ],
)
def test_every_field_is_in_the_readme(model: type[BaseModel]) -> None:
    for name in model.model_fields:
        assert f"`{name}`" in README, f"{model.__name__}.{name}"
