"""The robustness section on German credit: perturbations, monotonicity, counterfactual swaps.

Known answers from models built to have them: a scorer that never reads ``sex`` changes no
decision when it is swapped, one that reads only ``sex`` changes every one; a logistic
regression is monotone in each number, in the direction of its coefficient.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from tests.integration.test_evaluate_bad_data import (
    GERMAN_CATEGORICAL,
    GERMAN_NUMERIC,
    load_german,
)

import govml
from govml.policy import InvalidPolicyError

pytestmark = [pytest.mark.datasets, pytest.mark.filterwarnings("ignore")]

POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: german-robust}
tiers: [high]
fairness:
  sensitive: [sex]
  rules:
    - {metric: demographic_parity_ratio, min: 0.1}
robustness:
  sample_rows: 200
  perturbations:
    - {kind: numeric_noise, scale: 0.05, max_flip_rate: 0.2, max_metric_drop: 0.1}
    - {kind: category_swap, rate: 0.1, columns: [purpose, savings], max_flip_rate: 0.3}
    - {kind: missing_values, rate: 0.05, columns: [duration], max_flip_rate: 0.5}
  monotone: {duration: increasing, credit_amount: MONOTONE}
  counterfactual: {max_flip_rate: 0.0}
"""


def _model(numeric: list[str], categorical: list[str]) -> Pipeline:
    encode = ColumnTransformer(
        [
            ("num", StandardScaler(), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    return Pipeline([("encode", encode), ("model", LogisticRegression(max_iter=2000))])


def _setup(
    client: govml.Client,
    shared_datasets: Path,
    numeric: list[str],
    categorical: list[str],
    *,
    by_sex: bool = False,
) -> tuple[pd.DataFrame, Pipeline]:
    frame = load_german(shared_datasets)
    inputs = [*GERMAN_NUMERIC, *GERMAN_CATEGORICAL, "sex"]
    train, valid = frame.iloc[:700], frame.iloc[700:].reset_index(drop=True)
    # by_sex: a scorer whose decisions follow sex alone (learnt from a target made of it).
    learnt = (train["sex"] == "female").astype("int64") if by_sex else train["default"]
    model = _model(numeric, categorical).fit(train[inputs], learnt)
    client.create_model("credit", risk_tier="high", description="German credit.")
    client.register_version(
        "credit", model=model, train_data=train[[*inputs, "default"]], target="default"
    )
    return valid[[*inputs, "default"]], model


def _policy(tmp_path: Path, model: Pipeline) -> Path:
    coefficients = dict(
        zip(
            model[:-1].get_feature_names_out(),
            model[-1].coef_[0],
            strict=True,
        )
    )
    direction = "increasing" if coefficients["num__credit_amount"] > 0 else "decreasing"
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY.replace("MONOTONE", direction), encoding="utf-8")
    return path


def test_a_scorer_blind_to_sex_passes_robustness_with_known_answers(
    client: govml.Client, shared_datasets: Path, tmp_path: Path
) -> None:
    valid, model = _setup(client, shared_datasets, GERMAN_NUMERIC, GERMAN_CATEGORICAL)
    evaluation = client.evaluate(
        "credit@1", policy=_policy(tmp_path, model), data=valid, target="default"
    )
    swap = evaluation.check("counterfactual_flip_rate:sex")
    assert (swap["status"], swap["value"]) == ("pass", 0.0)
    assert "the model reads neither sex nor a proxy of it" in swap["message"]
    assert swap["evidence"]["groups"] == ["female", "male"]
    assert sum(swap["evidence"]["rows"]) == 200
    assert evaluation.check("monotone:credit_amount")["value"] == 0.0
    duration = "increasing" if model[-1].coef_[0][1] > 0 else "decreasing"
    expected = 0.0 if duration == "increasing" else 1.0
    assert evaluation.check("monotone:duration")["value"] == pytest.approx(expected)
    noise = evaluation.check("flip_rate:numeric_noise")
    assert 0.0 <= noise["value"] <= 0.2
    assert noise["evidence"]["columns"] == GERMAN_NUMERIC
    # A logistic regression cannot take missing values: a robustness finding, not a crash.
    missing = evaluation.check("flip_rate:missing_values")
    assert missing["status"] == "fail"
    assert missing["message"].startswith("the model cannot predict on inputs with missing values")
    # Deterministic: the same evaluation again gives the same figures.
    again = client.evaluate(
        "credit@1", policy=_policy(tmp_path, model), data=valid, target="default"
    )
    for name in ("flip_rate:numeric_noise", "flip_rate:category_swap", "metric_drop:numeric_noise"):
        assert again.check(name)["value"] == evaluation.check(name)["value"]


def test_a_scorer_that_reads_only_sex_flips_every_decision(
    client: govml.Client, shared_datasets: Path, tmp_path: Path
) -> None:
    valid, model = _setup(client, shared_datasets, [], ["sex"], by_sex=True)
    swapped = valid.assign(sex=np.where(valid["sex"] == "male", "female", "male"))
    assert (model.predict(swapped) != model.predict(valid)).all()
    path = tmp_path / "policy.yaml"
    path.write_text(
        POLICY.split("  perturbations:")[0] + "  counterfactual: {max_flip_rate: 0.0}\n",
        encoding="utf-8",
    )
    evaluation = client.evaluate("credit@1", policy=path, data=valid, target="default")
    swap = evaluation.check("counterfactual_flip_rate:sex")
    assert (swap["status"], swap["value"]) == ("fail", 1.0)
    assert swap["evidence"]["flip_rate"] == [1.0, 1.0]


def test_a_column_that_is_not_a_model_input_is_named_with_a_suggestion(
    client: govml.Client, shared_datasets: Path, tmp_path: Path
) -> None:
    valid, _ = _setup(client, shared_datasets, GERMAN_NUMERIC, GERMAN_CATEGORICAL)
    path = tmp_path / "policy.yaml"
    path.write_text(
        POLICY.replace("columns: [duration]", "columns: [duraton]").replace(
            "MONOTONE", "increasing"
        ),
        encoding="utf-8",
    )
    with pytest.raises(InvalidPolicyError) as caught:
        client.evaluate("credit@1", policy=path, data=valid, target="default")
    (problem,) = caught.value.errors
    assert problem.path == "robustness.perturbations[2].columns[0]"
    assert problem.line == 14
    assert problem.message == "'duraton' is not an input of the model — did you mean 'duration'?"
