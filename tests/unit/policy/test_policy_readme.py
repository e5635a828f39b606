"""The README documents every field of the data, performance and fairness sections."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from govml.policy.rules import Costs, Fairness, FairnessRule, PerformanceRule

README = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("model", [PerformanceRule, Costs, Fairness, FairnessRule])
def test_every_field_is_in_the_readme(model: type[BaseModel]) -> None:
    for name in model.model_fields:
        assert f"`{name}`" in README, f"{model.__name__}.{name}"
