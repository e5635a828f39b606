"""`govml evaluate` on bad data: data checks run first, the evaluation is stored and fails.

German credit and Adult with missing values and text injected: a failing data check is
recorded with its evidence and the checks that read predictions are undefined naming it; a
model that cannot predict on the data fails ``model_input`` in one line; exit 1, never 2,
and never a paragraph of traceback text.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import govml
from govml.cli.main import invoke
from govml.demo.adult import CATEGORICAL, NUMERIC, load_adult

pytestmark = [pytest.mark.datasets, pytest.mark.filterwarnings("ignore")]

GERMAN_COLUMNS = [
    "checking_status",
    "duration",
    "credit_history",
    "purpose",
    "credit_amount",
    "savings",
    "employment",
    "installment_rate",
    "personal_status_sex",
    "other_debtors",
    "residence_since",
    "property",
    "age",
    "other_installment_plans",
    "housing",
    "existing_credits",
    "job",
    "num_dependents",
    "telephone",
    "foreign_worker",
    "class",
]
GERMAN_NUMERIC = [
    "duration",
    "credit_amount",
    "installment_rate",
    "residence_since",
    "age",
    "existing_credits",
    "num_dependents",
]
GERMAN_CATEGORICAL = [
    c
    for c in GERMAN_COLUMNS
    if c not in GERMAN_NUMERIC and c not in ("class", "personal_status_sex")
]

GERMAN_POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: german-credit}
tiers: [high]
data:
  - {expect: no_nulls, columns: [age, credit_amount]}
  - {expect: between, column: age, min: 18, max: 100}
performance:
  - {metric: roc_auc, min: 0.6}
  - {metric: accuracy, min: 0.6, vs_champion: {max_drop: 0.05}}
fairness:
  sensitive: [age_group, sex]
  favourable_label: 0
  rules:
    - {metric: demographic_parity_ratio, min: 0.5}
explainability: {top_k: 3, forbidden_in_top_k: [sex], sample_rows: 50}
documentation: {required: [description]}
"""

ADULT_POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: adult}
tiers: [limited]
data:
  - {expect: between, column: age, min: 17, max: 100}
performance:
  - {metric: accuracy, min: 0.7}
fairness:
  sensitive: [sex]
  rules:
    - {metric: equalized_odds_difference, max: 0.5}
"""


def load_german(folder: Path) -> pd.DataFrame:
    """German credit with a 0/1 ``default`` target (1: bad), ``age_group`` and ``sex``."""
    frame = pd.read_csv(folder / "german-credit" / "german.csv", header=None, names=GERMAN_COLUMNS)
    frame["default"] = (frame["class"] == 2).astype("int64")
    frame["age_group"] = np.where(frame["age"] <= 25, "25 or younger", "over 25")
    # Attribute 9: A92 and A95 are the female codes.
    frame["sex"] = np.where(frame["personal_status_sex"].isin(["A92", "A95"]), "female", "male")
    return frame.drop(columns=["class", "personal_status_sex"])


def _pipeline(numeric: list[str], categorical: list[str]) -> Pipeline:
    encode = ColumnTransformer(
        [
            ("num", StandardScaler(), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        ]
    )
    return Pipeline([("encode", encode), ("model", LogisticRegression(max_iter=1000))])


@pytest.fixture
def german(
    client: govml.Client, shared_datasets: Path, tmp_path: Path
) -> tuple[govml.Client, pd.DataFrame, Path]:
    frame = load_german(shared_datasets)
    features = [*GERMAN_NUMERIC, *GERMAN_CATEGORICAL]
    train, valid = frame.iloc[:700], frame.iloc[700:].reset_index(drop=True)
    model = _pipeline(GERMAN_NUMERIC, GERMAN_CATEGORICAL).fit(train[features], train["default"])
    client.create_model("credit", risk_tier="high", description="German credit scorer.")
    client.register_version(
        "credit", model=model, train_data=train[[*features, "default"]], target="default"
    )
    policy = tmp_path / "german.yaml"
    policy.write_text(GERMAN_POLICY, encoding="utf-8")
    return client, valid, policy


@pytest.fixture
def cli_env(db_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the CLI at the test's store."""
    monkeypatch.setenv("GOVML_HOME", str(home))
    monkeypatch.setenv("GOVML_DATABASE_URL", db_url)
    monkeypatch.setenv("GOVML_USER", "alice")


def _model_bound(evaluation: govml.evaluation.Evaluation) -> list[dict[str, object]]:
    return [c for c in evaluation.checks if c["category"] in ("performance", "fairness")] + [
        c for c in evaluation.checks if c["category"] == "explainability"
    ]


def test_missing_values_fail_the_data_check_and_block_the_model(
    german: tuple[govml.Client, pd.DataFrame, Path],
) -> None:
    client, valid, policy = german
    valid.loc[[3, 17, 40], "age"] = np.nan
    evaluation = client.evaluate("credit@1", policy=policy, data=valid, target="default")
    assert evaluation.status == "fail"
    nulls = evaluation.check("no_nulls")
    assert nulls["outcome"] == "fail"
    assert nulls["evidence"]["missing"] == {"age": 3, "credit_amount": 0}
    assert nulls["evidence"]["first_rows"] == {"age": [3, 17, 40]}
    # The range check still ran on the values there are.
    assert evaluation.check("between:age")["outcome"] == "pass"
    reason = "not run: data check no_nulls(age) failed"
    blocked = _model_bound(evaluation)
    assert {c["check"] for c in blocked} == {
        "roc_auc",
        "accuracy",
        "accuracy_vs_champion",
        "demographic_parity_ratio:age_group",
        "demographic_parity_ratio:sex",
        "demographic_parity_ratio:age_group*sex",
        "feature_importance",
        "forbidden_in_top_k",
    }
    for check in blocked:
        assert (check["status"], check["reason"], check["message"]) == (
            "undefined",
            reason,
            reason,
        ), check["check"]
        assert check["outcome"] == "fail"  # the high tier: undefined counts as a failure
    # Sections that do not read predictions still ran; the artifact was scanned.
    assert evaluation.check("serialization")["outcome"] == "pass"
    assert evaluation.check("documentation")["outcome"] == "pass"
    assert evaluation.document["inputs"]["task"] == "binary"
    assert evaluation.document["inputs"]["pos_label"] == 1
    # Stored with its evidence and replayed by audit verify.
    assert [e.id for e in client.list_evaluations()] == [evaluation.id]
    assert client.verify_ledger().evaluations == 1


def test_text_in_a_checked_column_is_named_in_the_evidence(
    german: tuple[govml.Client, pd.DataFrame, Path], tmp_path: Path
) -> None:
    client, valid, policy = german
    ages = valid["age"].astype(object)
    ages[[5, 9]] = ["unknown", "forty-two"]
    path = tmp_path / "valid.csv"
    valid.assign(age=ages).to_csv(path, index=False)  # read back, age is a text column
    evaluation = client.evaluate("credit@1", policy=policy, data=str(path), target="default")
    between = evaluation.check("between:age")
    assert between["outcome"] == "fail"
    assert between["evidence"]["not_numbers"] == 2
    assert between["evidence"]["first_text_rows"] == [5, 9]
    assert "(2 not numbers)" in between["message"]
    assert evaluation.check("no_nulls")["outcome"] == "pass"
    roc = evaluation.check("roc_auc")
    assert roc["reason"] == "not run: data check between(age) failed"


def test_a_model_that_cannot_predict_fails_model_input_in_one_line(
    german: tuple[govml.Client, pd.DataFrame, Path], tmp_path: Path
) -> None:
    client, valid, policy = german
    # duration is read by the model and covered by no data check.
    durations = valid["duration"].astype(object)
    durations[[2, 8]] = "twelve"
    valid = valid.assign(duration=durations)
    valid.loc[[4], "installment_rate"] = np.nan
    path = tmp_path / "valid.csv"
    valid.to_csv(path, index=False)
    evaluation = client.evaluate("credit@1", policy=policy, data=str(path), target="default")
    assert evaluation.status == "fail"
    check = evaluation.check("model_input")
    assert (check["category"], check["outcome"]) == ("data", "fail")
    message = check["message"]
    assert message.startswith("the model cannot predict on the data: ValueError: ")
    assert "\n" not in message and len(message) <= 340
    assert check["evidence"]["missing"] == {"installment_rate": 1}
    # A missing value turns a column of whole numbers into floats when read back.
    assert check["evidence"]["type_changed"] == [
        {"column": "duration", "expected": "int64", "actual": "string"},
        {"column": "installment_rate", "expected": "int64", "actual": "float64"},
    ]
    for blocked in _model_bound(evaluation):
        assert blocked["reason"] == message, blocked["check"]
    assert client.verify_ledger().evaluations == 1


def test_missing_outcomes_fail_the_target_check(
    german: tuple[govml.Client, pd.DataFrame, Path],
) -> None:
    client, valid, policy = german
    valid.loc[[7, 70], "default"] = np.nan  # no expectation of the policy covers the target
    evaluation = client.evaluate("credit@1", policy=policy, data=valid, target="default")
    target = evaluation.check("target")
    assert (target["category"], target["outcome"], target["value"]) == ("data", "fail", 2)
    assert target["message"] == (
        "the target 'default' has 2 missing value(s) in 300 rows; every row needs an actual outcome"
    )
    assert target["evidence"]["first_rows"] == [7, 70]
    assert evaluation.check("roc_auc")["reason"] == (
        "not run: the target 'default' has missing values"
    )
    assert evaluation.status == "fail"


def test_cli_exits_1_with_one_line_per_problem(
    german: tuple[govml.Client, pd.DataFrame, Path],
    tmp_path: Path,
    cli_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, valid, policy = german
    valid.loc[[1], "credit_amount"] = np.nan
    data = tmp_path / "valid.csv"
    valid.to_csv(data, index=False)
    args = ["evaluate", "credit@1", "--policy", str(policy), "--data", str(data)]
    assert invoke([*args, "--target", "default"]) == 1
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert "Traceback" not in text and "Input X contains NaN" not in text
    problems = [line for line in captured.out.splitlines() if line.startswith("fail: ")]
    assert problems == [
        "fail: no_nulls: missing values in 1 of 2 column(s): 'credit_amount' 1",
        "fail: 8 undefined checks: not run: data check no_nulls(credit_amount) failed",
    ]
    assert len(client.list_evaluations()[0].failed()) == 9
    assert invoke([*args, "--target", "default", "--json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["status"] == "fail"


@pytest.fixture
def adult(client: govml.Client, shared_datasets: Path, tmp_path: Path) -> tuple[govml.Client, Path]:
    train = load_adult("train").iloc[:4000].dropna()
    features = [*NUMERIC, *CATEGORICAL]
    model = _pipeline(NUMERIC, CATEGORICAL).fit(train[features], train["income"])
    client.create_model("income", risk_tier="limited")
    client.register_version(
        "income", model=model, train_data=train[[*features, "income"]], target="income"
    )
    policy = tmp_path / "adult.yaml"
    policy.write_text(ADULT_POLICY, encoding="utf-8")
    return client, policy


def test_adult_text_in_age_and_missing_hours(
    adult: tuple[govml.Client, Path], tmp_path: Path
) -> None:
    client, policy = adult
    test = load_adult("test").iloc[:3000].fillna({"workclass": "?", "occupation": "?"})
    test = test.fillna({"native_country": "?"}).reset_index(drop=True)
    # Text in age, written into the CSV as a person would: the column is read as text.
    ages = test["age"].astype(object)
    ages[[10, 11]] = "forty"
    bad_age = test.assign(age=ages)
    path = tmp_path / "adult-bad-age.csv"
    bad_age.to_csv(path, index=False)
    evaluation = client.evaluate("income@1", policy=policy, data=str(path), target="income")
    between = evaluation.check("between:age")
    assert (between["outcome"], between["evidence"]["not_numbers"]) == ("fail", 2)
    assert evaluation.check("accuracy")["reason"] == "not run: data check between(age) failed"
    assert evaluation.check("accuracy")["outcome"] == "warn"  # the limited tier's undefined
    assert evaluation.status == "fail"
    # Missing hours, which no data check covers: the model cannot predict; still exit 1.
    hours = test.copy()
    hours.loc[[0, 5], "hours_per_week"] = np.nan
    evaluation = client.evaluate("income@1", policy=policy, data=hours, target="income")
    check = evaluation.check("model_input")
    assert check["outcome"] == "fail"
    assert check["message"] == (
        "the model cannot predict on the data: ValueError: Input X contains NaN."
    )
    assert check["evidence"]["missing"] == {"hours_per_week": 2}
    assert evaluation.check("equalized_odds_difference:sex")["reason"] == check["message"]
    assert evaluation.status == "fail"
    assert evaluation.exit_code == 1
    assert client.verify_ledger().evaluations == 2


def test_outside_predictions_on_bad_data_are_not_judged(
    client: govml.Client, shared_datasets: Path, tmp_path: Path
) -> None:
    valid = load_german(shared_datasets).iloc[700:].reset_index(drop=True)
    valid["vendor_decision"] = (valid["duration"] > 24).astype("int64")
    valid.loc[[0], "age"] = np.nan
    policy = tmp_path / "german.yaml"
    policy.write_text(GERMAN_POLICY.replace("  - {metric: roc_auc, min: 0.6}\n", ""))
    evaluation = client.evaluate(
        label="vendor",
        policy=policy,
        data=valid,
        target="default",
        prediction_column="vendor_decision",
    )
    assert evaluation.check("no_nulls")["outcome"] == "fail"
    reason = "not run: data check no_nulls(age) failed"
    assert evaluation.check("accuracy")["reason"] == reason
    assert evaluation.check("demographic_parity_ratio:sex")["reason"] == reason
    assert evaluation.status == "fail"
    assert client.verify_ledger().evaluations == 1
