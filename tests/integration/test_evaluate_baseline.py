"""The baseline section on German credit: the candidate against simpler models.

Known answers: the majority baseline's accuracy is the evaluation rows' share of the
training majority class, and the mean baseline's MAE is scikit-learn's MAE of the training
mean; without training data the checks are undefined and say why.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import mean_absolute_error
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from tests.asgi import BASE_URL, in_process
from tests.integration.test_evaluate_bad_data import (
    GERMAN_CATEGORICAL,
    GERMAN_NUMERIC,
    load_german,
)
from tests.integration.test_server import MAX_UPLOAD, Deployment, _frame

import govml
from govml.server import create_app
from govml.settings import load_settings

pytestmark = [pytest.mark.datasets, pytest.mark.filterwarnings("ignore")]

POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: german-baseline}
tiers: [high]
baseline: {margin: MARGIN}
"""


def _encode(numeric: list[str]) -> ColumnTransformer:
    return ColumnTransformer(
        [
            ("num", StandardScaler(), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), GERMAN_CATEGORICAL),
        ]
    )


def _policy(tmp_path: Path, margin: float) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY.replace("MARGIN", str(margin)), encoding="utf-8")
    return path


def test_a_credit_scorer_beats_the_majority_class_by_a_known_margin(
    client: govml.Client, shared_datasets: Path, tmp_path: Path
) -> None:
    frame = load_german(shared_datasets)
    features = [*GERMAN_NUMERIC, *GERMAN_CATEGORICAL]
    train, valid = frame.iloc[:700], frame.iloc[700:].reset_index(drop=True)
    model = Pipeline(
        [("encode", _encode(GERMAN_NUMERIC)), ("model", LogisticRegression(max_iter=2000))]
    ).fit(train[features], train["default"])
    client.create_model("credit", risk_tier="high", description="German credit.")
    client.register_version(
        "credit", model=model, train_data=train[[*features, "default"]], target="default"
    )
    evaluation = client.evaluate(
        "credit@1",
        policy=_policy(tmp_path, 0.02),
        data=valid,
        target="default",
        training_data=train,
    )
    accuracy = float(np.mean(model.predict(valid[features]) == valid["default"]))
    majority = float(np.mean(valid["default"] == train["default"].mode()[0]))
    check = evaluation.check("beats_baseline:majority")
    assert check["evidence"]["candidate"] == pytest.approx(accuracy)
    assert check["evidence"]["baseline"] == pytest.approx(majority)
    assert check["value"] == pytest.approx(accuracy - majority)
    assert check["status"] == ("pass" if accuracy - majority >= 0.02 else "fail")
    linear = evaluation.check("beats_baseline:linear")
    assert linear["evidence"]["baseline_model"] == "logistic regression (L2)"
    assert evaluation.document["data"]["training"]["rows"] == 700
    # Without the training data there is nothing to fit: undefined, and why.
    bare = client.evaluate("credit@1", policy=_policy(tmp_path, 0.02), data=valid, target="default")
    missing = bare.check("beats_baseline:majority")
    assert missing["status"] == "undefined"
    assert "--training-data" in missing["reason"]


def test_a_regression_of_credit_amounts_against_the_mean(
    client: govml.Client, shared_datasets: Path, tmp_path: Path
) -> None:
    frame = load_german(shared_datasets)
    numeric = [c for c in GERMAN_NUMERIC if c != "credit_amount"]
    features = [*numeric, *GERMAN_CATEGORICAL]
    train, valid = frame.iloc[:700], frame.iloc[700:].reset_index(drop=True)
    model = Pipeline(
        [
            ("encode", _encode(numeric)),
            ("model", GradientBoostingRegressor(random_state=0, n_estimators=50)),
        ]
    ).fit(train[features], train["credit_amount"])
    client.create_model("amount", risk_tier="high", description="Credit amounts.")
    client.register_version(
        "amount",
        model=model,
        train_data=train[[*features, "credit_amount"]],
        target="credit_amount",
    )
    evaluation = client.evaluate(
        "amount@1",
        policy=_policy(tmp_path, 100),
        data=valid[[*features, "credit_amount"]],
        target="credit_amount",
        training_data=train[[*features, "credit_amount"]],
    )
    y = valid["credit_amount"]
    ours = mean_absolute_error(y, model.predict(valid[features]))
    mean = mean_absolute_error(y, np.full(len(y), train["credit_amount"].mean()))
    check = evaluation.check("beats_baseline:majority")
    assert check["evidence"]["metric"] == "mean_absolute_error"
    assert check["evidence"]["baseline"] == pytest.approx(mean)
    assert check["value"] == pytest.approx(mean - ours)
    assert evaluation.check("beats_baseline:linear")["evidence"]["baseline_model"] == (
        "ridge regression"
    )


BASELINE_POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: remote-baseline}
tiers: [high]
baseline: {margin: 0.05}
training_data:
  min_label_coverage: 1.0
  expectations: [{expect: distinct_count, column: y, max: 2}]
"""


@pytest.fixture
def served(db_url: str, home: Path, tmp_path: Path) -> Iterator[Deployment]:
    """A team's server, its application called in this process (as test_server's)."""
    settings = load_settings(home=home, database_url=db_url)
    govml.connect(home, database_url=db_url, user="alice").close()
    with in_process(create_app(settings, max_upload_bytes=MAX_UPLOAD)) as transport:
        made = Deployment(db_url, home, tmp_path, BASE_URL, transport)
        made.settle()
        yield made
        made.close()


def test_client_mode_sends_the_training_data_and_gets_the_same_figures(
    served: Deployment, tmp_path: Path
) -> None:
    deployment = served
    ref = deployment.register()
    policy = tmp_path / "baseline.yaml"
    policy.write_text(BASELINE_POLICY, encoding="utf-8")
    train = _frame()
    remote = deployment["bob"].evaluate(
        ref, data=str(deployment.data), target="y", policy=policy, training_data=train
    )
    local = deployment.local.evaluate(
        ref, data=str(deployment.data), target="y", policy=policy, training_data=train
    )
    for name in ("beats_baseline:majority", "beats_baseline:linear", "label_coverage"):
        assert remote.check(name)["value"] == pytest.approx(local.check(name)["value"]), name
    assert remote.check("beats_baseline:majority")["status"] == "pass"
    assert remote.document["data"]["training"]["rows"] == len(train)
