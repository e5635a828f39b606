"""Fairness of regression and multiclass models and calibration by group, on German credit.

The credit amount is the regression target and three risk grades the multiclass one; each
evaluation's checks equal Fairlearn's ``MetricFrame`` with scikit-learn's metrics on the
model's own predictions, and a rule that does not fit the model is a policy problem naming
its line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, equalized_odds_difference
from sklearn.calibration import calibration_curve
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import mean_absolute_error
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from tests.integration.test_evaluate_bad_data import (
    GERMAN_CATEGORICAL,
    GERMAN_NUMERIC,
    load_german,
)

import govml
from govml.policy import InvalidPolicyError, load_policy

pytestmark = [pytest.mark.datasets, pytest.mark.filterwarnings("ignore")]

HEAD = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: german-groups}
tiers: [high]
fairness:
  sensitive: [age_group, sex]
  intersectional: false
  rules:
"""

REGRESSION_RULES = """\
    - {metric: mean_absolute_error_ratio, min: 0.5}
    - {metric: mean_residual_difference, max: 5000, confidence: 0.9, n_boot: 200}
    - {metric: bounded_group_absolute_loss, max: 5000}
"""

MULTICLASS_RULES = """\
    - {metric: equalized_odds_difference, max: 0.9}
    - {metric: demographic_parity_difference, max: 0.9, confidence: 0.95, n_boot: 200}
"""

CALIBRATION_RULES = """\
    - {metric: demographic_parity_ratio, min: 0.1}
    - {metric: expected_calibration_error, max: 0.3}
    - {metric: calibration_gap, max: 0.3, compare: to_overall}
"""


def _encode(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("num", StandardScaler(), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )


def _policy(tmp_path: Path, rules: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(HEAD + rules, encoding="utf-8")
    return path


@pytest.fixture
def german_frame(shared_datasets: Path) -> pd.DataFrame:
    frame = load_german(shared_datasets)
    # Risk grades: A (repaid, short loans), B (repaid, longer), C (defaulted).
    frame["grade"] = np.where(
        frame["default"] == 1, "C", np.where(frame["duration"] <= 12, "A", "B")
    )
    return frame


def _register(
    client: govml.Client, frame: pd.DataFrame, target: str, estimator: object, numeric: list[str]
) -> pd.DataFrame:
    features = [*numeric, *GERMAN_CATEGORICAL]
    train, valid = frame.iloc[:700], frame.iloc[700:].reset_index(drop=True)
    model = Pipeline([("encode", _encode(numeric, GERMAN_CATEGORICAL)), ("model", estimator)])
    model.fit(train[features], train[target])
    client.create_model("credit", risk_tier="high", description="German credit.")
    client.register_version(
        "credit", model=model, train_data=train[[*features, target]], target=target
    )
    return valid.assign(prediction=model.predict(valid[features]))


def test_regression_fairness_on_credit_amounts_equals_fairlearn(
    client: govml.Client, german_frame: pd.DataFrame, tmp_path: Path
) -> None:
    numeric = [c for c in GERMAN_NUMERIC if c != "credit_amount"]
    valid = _register(client, german_frame, "credit_amount", Ridge(alpha=1.0), numeric)
    evaluation = client.evaluate(
        "credit@1",
        policy=_policy(tmp_path, REGRESSION_RULES),
        data=valid.drop(columns=["prediction"]),
        target="credit_amount",
    )
    assert evaluation.document["inputs"]["task"] == "regression"
    y, pred = valid["credit_amount"], valid["prediction"]
    for feature in ("age_group", "sex"):
        frame = MetricFrame(
            metrics=mean_absolute_error, y_true=y, y_pred=pred, sensitive_features=valid[feature]
        )
        ratio = evaluation.check(f"mean_absolute_error_ratio:{feature}")
        assert ratio["value"] == pytest.approx(frame.ratio(), rel=1e-9)
        assert ratio["evidence"]["mean_absolute_error"] == pytest.approx(list(frame.by_group))
        worst = evaluation.check(f"bounded_group_absolute_loss:{feature}")
        assert worst["value"] == pytest.approx(frame.group_max(), rel=1e-9)
        residual = evaluation.check(f"mean_residual_difference:{feature}")
        residuals = MetricFrame(
            metrics=lambda a, b: float(np.mean(a - b)),
            y_true=y,
            y_pred=pred,
            sensitive_features=valid[feature],
        )
        assert residual["value"] == pytest.approx(residuals.difference(), rel=1e-9, abs=1e-6)
        low, high = residual["interval"]
        assert low <= residual["value"] <= high
    assert client.verify_ledger().evaluations == 1


def test_multiclass_fairness_on_risk_grades_judges_the_worst_class(
    client: govml.Client, german_frame: pd.DataFrame, tmp_path: Path
) -> None:
    valid = _register(
        client, german_frame, "grade", LogisticRegression(max_iter=2000), GERMAN_NUMERIC
    )
    evaluation = client.evaluate(
        "credit@1",
        policy=_policy(tmp_path, MULTICLASS_RULES),
        data=valid.drop(columns=["prediction"]),
        target="grade",
    )
    assert evaluation.document["inputs"]["task"] == "multiclass"
    y, pred = valid["grade"].to_numpy(), valid["prediction"].to_numpy()
    for feature in ("age_group", "sex"):
        check = evaluation.check(f"equalized_odds_difference:{feature}")
        per_class = {
            c: equalized_odds_difference(y == c, pred == c, sensitive_features=valid[feature])
            for c in ("A", "B", "C")
        }
        assert check["evidence"]["by_class"] == pytest.approx(per_class, rel=1e-12)
        assert check["value"] == pytest.approx(max(per_class.values()), rel=1e-12)
        parity = evaluation.check(f"demographic_parity_difference:{feature}")
        assert parity["interval"][0] <= parity["value"] <= parity["interval"][1]


def test_calibration_by_group_of_a_credit_scorer(
    client: govml.Client, german_frame: pd.DataFrame, tmp_path: Path
) -> None:
    valid = _register(
        client, german_frame, "default", LogisticRegression(max_iter=2000), GERMAN_NUMERIC
    )
    evaluation = client.evaluate(
        "credit@1",
        policy=_policy(tmp_path, CALIBRATION_RULES),
        data=valid.drop(columns=["prediction"]),
        target="default",
    )
    model = client.load_model("credit@1")
    features = [*GERMAN_NUMERIC, *GERMAN_CATEGORICAL]
    scores = model.predict_proba(valid[features])[:, 1]
    truth = valid["default"].to_numpy() == 1
    for feature in ("age_group", "sex"):
        eces = []
        for value in sorted(valid[feature].unique()):
            mine = (valid[feature] == value).to_numpy()
            observed, predicted = calibration_curve(truth[mine], scores[mine], n_bins=10)
            counts = np.bincount(np.searchsorted(np.linspace(0, 1, 11)[1:-1], scores[mine]))
            weights = counts[counts > 0] / mine.sum()
            eces.append(float(np.sum(weights * np.abs(observed - predicted))))
        check = evaluation.check(f"expected_calibration_error:{feature}")
        assert check["value"] == pytest.approx(max(eces), rel=1e-9)
        assert check["evidence"]["expected_calibration_error"] == pytest.approx(eces, rel=1e-9)
    assert evaluation.check("demographic_parity_ratio:sex")["status"] in ("pass", "warn")
    evidence = {item["name"] for item in evaluation.document["evidence"]}
    assert {"calibration", "fairness_report"} <= evidence


def test_a_regression_rule_on_a_classifier_is_a_policy_problem(
    client: govml.Client, german_frame: pd.DataFrame, tmp_path: Path
) -> None:
    valid = _register(
        client, german_frame, "default", LogisticRegression(max_iter=2000), GERMAN_NUMERIC
    )
    policy = _policy(tmp_path, REGRESSION_RULES)
    with pytest.raises(InvalidPolicyError) as caught:
        client.evaluate(
            "credit@1", policy=policy, data=valid.drop(columns=["prediction"]), target="default"
        )
    first = caught.value.errors[0]
    assert (first.line, first.path) == (9, "fairness.rules[0].metric")
    assert first.message.startswith(
        "mean_absolute_error_ratio does not apply to credit@1, a binary model"
    )
    assert len(caught.value.errors) == 3
    assert client.list_evaluations() == []


EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "policies"


def test_the_example_policies_run_on_german_credit(
    client: govml.Client, german_frame: pd.DataFrame
) -> None:
    valid = _register(
        client, german_frame, "default", LogisticRegression(max_iter=2000), GERMAN_NUMERIC
    )
    evaluation = client.evaluate(
        "credit@1",
        policy=EXAMPLES / "german-credit-robust.yaml",
        data=valid.drop(columns=["prediction"]),
        target="default",
        training_data=german_frame.iloc[:700],
    )
    categories = {check["category"] for check in evaluation.checks}
    assert {"fairness", "robustness", "baseline", "training_data"} <= categories
    assert not [c for c in evaluation.checks if c["status"] == "undefined"]
    for name in ("german-credit-amount.yaml", "german-credit-grades.yaml"):
        assert load_policy(EXAMPLES / name).policy.fairness is not None


@pytest.mark.parametrize(
    ("example", "target"),
    [("german-credit-amount.yaml", "credit_amount"), ("german-credit-grades.yaml", "grade")],
)
def test_the_regression_and_grade_examples_run_on_german_credit(
    client: govml.Client, german_frame: pd.DataFrame, example: str, target: str
) -> None:
    numeric = [c for c in GERMAN_NUMERIC if c != target]
    estimator = Ridge(alpha=1.0) if target == "credit_amount" else LogisticRegression(max_iter=2000)
    valid = _register(client, german_frame, target, estimator, numeric)
    evaluation = client.evaluate(
        "credit@1",
        policy=EXAMPLES / example,
        data=valid.drop(columns=["prediction"]),
        target=target,
        training_data=german_frame.iloc[:700],
    )
    section = load_policy(EXAMPLES / example).policy.fairness
    assert section is not None
    fairness = [c for c in evaluation.checks if c["category"] == "fairness"]
    assert len(fairness) == 2 * len(section.rules)
    assert not [c for c in evaluation.checks if c["status"] == "undefined"]
