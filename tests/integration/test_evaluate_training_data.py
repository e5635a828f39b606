"""The training_data section on German credit: representation, base rates, expectations.

Known answers from pandas and numpy on the same rows: group shares and counts, the
favourable label's base rate per group, label coverage, means, quantiles, distinct counts
and the largest share of one value.
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
metadata: {name: german-training}
tiers: [high]
fairness:
  sensitive: [sex, age_group]
  favourable_label: 0
  rules:
    - {metric: demographic_parity_ratio, min: 0.1}
training_data:
  min_group_share: 0.2
  min_group_count: 100
  min_base_rate_ratio: 0.8
  min_label_coverage: 0.99
  expectations:
    - {expect: mean_between, column: credit_amount, min: 2000, max: 5000}
    - {expect: quantile_between, column: age, quantile: 0.9, max: 60}
    - {expect: distinct_count, column: purpose, min: 5}
    - {expect: max_share, column: foreign_worker, max: 0.9}
  evaluation_expectations:
    - {expect: psi_vs_training, column: duration, max: 0.25}
    - {expect: mean_between, column: COLUMN, min: 10}
"""


@pytest.fixture
def setup(
    client: govml.Client, shared_datasets: Path, tmp_path: Path
) -> tuple[govml.Client, pd.DataFrame, pd.DataFrame]:
    frame = load_german(shared_datasets)
    features = [*GERMAN_NUMERIC, *GERMAN_CATEGORICAL]
    train, valid = frame.iloc[:700], frame.iloc[700:].reset_index(drop=True)
    encode = ColumnTransformer(
        [
            ("num", StandardScaler(), GERMAN_NUMERIC),
            ("cat", OneHotEncoder(handle_unknown="ignore"), GERMAN_CATEGORICAL),
        ]
    )
    model = Pipeline([("encode", encode), ("model", LogisticRegression(max_iter=2000))])
    model.fit(train[features], train["default"])
    client.create_model("credit", risk_tier="high", description="German credit.")
    client.register_version(
        "credit", model=model, train_data=train[[*features, "default"]], target="default"
    )
    return client, train, valid


def _policy(tmp_path: Path, column: str = "duration") -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY.replace("COLUMN", column), encoding="utf-8")
    return path


def test_training_data_audit_equals_pandas(
    setup: tuple[govml.Client, pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    client, train, valid = setup
    train = train.copy()
    train.loc[train.index[:3], "default"] = np.nan  # three rows without a label
    evaluation = client.evaluate(
        "credit@1", policy=_policy(tmp_path), data=valid, target="default", training_data=train
    )
    shares = train["sex"].value_counts(normalize=True).sort_index()
    share = evaluation.check("group_share:sex")
    assert share["evidence"]["groups"] == list(shares.index)
    assert share["evidence"]["shares"] == pytest.approx(list(shares))
    assert share["value"] == pytest.approx(shares.min())
    assert (
        evaluation.check("group_count:age_group")["value"]
        == train["age_group"].value_counts().min()
    )
    labelled = train[train["default"].notna()]
    rates = (labelled["default"] == 0).groupby(labelled["sex"]).mean().sort_index()
    ratio = evaluation.check("base_rate_ratio:sex")
    assert ratio["evidence"]["base_rates"] == pytest.approx(list(rates))
    assert ratio["value"] == pytest.approx(rates.min() / rates.max())
    assert ratio["evidence"]["label"] == 0
    coverage = evaluation.check("label_coverage")
    assert (coverage["value"], coverage["status"]) == (pytest.approx(697 / 700), "pass")
    checks = {
        "training_mean_between:credit_amount": train["credit_amount"].mean(),
        "training_quantile_between:age": np.quantile(train["age"], 0.9),
        "training_distinct_count:purpose": train["purpose"].nunique(),
        "training_max_share:foreign_worker": train["foreign_worker"]
        .value_counts(normalize=True)
        .max(),
        "mean_between:duration": valid["duration"].mean(),
    }
    for name, expected in checks.items():
        assert evaluation.check(name)["value"] == pytest.approx(expected), name
    assert evaluation.check("training_max_share:foreign_worker")["status"] == "fail"
    psi = evaluation.check("psi_vs_training:duration")
    assert 0 <= psi["value"] <= 0.25 and psi["status"] == "pass"


def test_without_training_data_the_audit_is_undefined_and_psi_reads_the_profile(
    setup: tuple[govml.Client, pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    client, _train, valid = setup
    evaluation = client.evaluate("credit@1", policy=_policy(tmp_path), data=valid, target="default")
    for name in ("group_share:sex", "base_rate_ratio:age_group", "label_coverage"):
        check = evaluation.check(name)
        assert check["status"] == "undefined"
        assert "--training-data" in check["reason"]
    assert evaluation.check("psi_vs_training:duration")["value"] is not None


def test_a_column_the_data_lacks_is_named_at_its_line(
    setup: tuple[govml.Client, pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    client, train, valid = setup
    with pytest.raises(InvalidPolicyError) as caught:
        client.evaluate(
            "credit@1",
            policy=_policy(tmp_path, "duraton"),
            data=valid,
            target="default",
            training_data=train,
        )
    (problem,) = caught.value.errors
    assert problem.line == 22
    assert problem.path == "training_data.evaluation_expectations[1].column"
    assert problem.message.endswith("did you mean 'duration'?")


def test_representation_is_read_from_the_registered_training_profile(
    setup: tuple[govml.Client, pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    client, train, valid = setup
    model = client.load_model("credit@1")
    client.register_version(
        "credit", model=model.raw, train_data=train, target="default"
    )  # the training data with its sensitive columns, profiled at registration
    evaluation = client.evaluate("credit@2", policy=_policy(tmp_path), data=valid, target="default")
    share = evaluation.check("group_share:sex")
    expected = train["sex"].value_counts(normalize=True).sort_index()
    assert share["evidence"]["source"] == "training profile"
    assert share["evidence"]["shares"] == pytest.approx(list(expected))
    assert evaluation.check("group_count:age_group")["value"] == (
        train["age_group"].value_counts().min()
    )
    assert evaluation.check("base_rate_ratio:sex")["status"] == "undefined"
