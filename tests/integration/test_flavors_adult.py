"""Every flavor on the real Adult data: register, evaluate, serve, monitor; CLI and SDK alike.

For scikit-learn (a pipeline, and a pipeline holding LightGBM), LightGBM (a model file with
pandas categoricals), XGBoost (a wrapper's file and a raw booster's) and ONNX: the model is
trained on Adult with an extra column it never reads (``age_group``, as a fairness analysis
adds); the artifact is registered with ``govml versions register`` against a training CSV
(text categories, the extra column) and, the model object, with ``client.register_version``.
Each version is a classifier with classes 0 and 1 and a signature of exactly the columns
the model reads; ``govml evaluate`` and ``client.evaluate`` pass an accuracy gate on the test
split with the model's own labels; the staging version answers ``/predict`` on a gateway in
this process with labels equal to the model's, takes the true labels as feedback, and
``govml monitor`` / ``client.monitor`` judge its log: drift of the features it reads and its
accuracy on those labels.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import govml
from govml.cli.main import invoke
from govml.demo.adult import CATEGORICAL, NUMERIC, TARGET, load_adult
from govml.flavors import get_flavor
from govml.server.background import serving
from govml.serving import GatewayOptions, create_app
from govml.serving.source import ClientSource

pytestmark = [pytest.mark.datasets, pytest.mark.slow]

FEATURES = CATEGORICAL + NUMERIC
POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: adult-gate, owner: risk@example.com}
tiers: [minimal]
performance:
  - {metric: accuracy, min: 0.8}
  - {metric: roc_auc, min: 0.85}
monitoring:
  window: 1d
  performance: [{metric: accuracy, min: 0.7}]
"""
SERVED_ROWS = 400


@dataclass(frozen=True)
class Adult:
    """The Adult splits (with a column no model reads) and their CSV files."""

    train: pd.DataFrame
    test: pd.DataFrame
    train_csv: Path
    test_csv: Path


@pytest.fixture(scope="module")
def adult(shared_datasets: Path, tmp_path_factory: pytest.TempPathFactory) -> Adult:
    folder = tmp_path_factory.mktemp("adult")
    frames = []
    for split, rows in (("train", 6000), ("test", 3000)):
        frame = load_adult(split, shared_datasets).sample(rows, random_state=0)
        frame[CATEGORICAL] = frame[CATEGORICAL].fillna("missing")
        frame["age_group"] = np.where(frame["age"] < 40, "under 40", "40 and over")
        frames.append(frame.reset_index(drop=True))
    train, test = frames
    train_csv, test_csv = folder / "train.csv", folder / "test.csv"
    train.to_csv(train_csv, index=False)
    test.to_csv(test_csv, index=False)
    return Adult(train, test, train_csv, test_csv)


def _categorical(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[FEATURES].copy()
    out[CATEGORICAL] = out[CATEGORICAL].astype("category")
    return out


def _sklearn_pipeline(final: Any) -> Pipeline:
    columns = ColumnTransformer(
        [
            ("categories", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            ("numbers", StandardScaler(), NUMERIC),
        ],
        remainder="drop",  # age_group is in the training frame, and dropped here
    )
    return Pipeline([("columns", columns), ("model", final)])


def train_sklearn(adult: Adult) -> tuple[Any, Callable[[Path, Any], Path]]:
    model = _sklearn_pipeline(LogisticRegression(max_iter=2000))
    model.fit(adult.train.drop(columns=TARGET), adult.train[TARGET])
    return model, _skops_file


def train_sklearn_lightgbm(adult: Adult) -> tuple[Any, Callable[[Path, Any], Path]]:
    model = _sklearn_pipeline(lgb.LGBMClassifier(n_estimators=60, num_leaves=15, verbose=-1))
    model.fit(adult.train.drop(columns=TARGET), adult.train[TARGET])
    return model, _skops_file


def _skops_file(folder: Path, model: Any) -> Path:
    path = folder / "model.skops"
    path.write_bytes(get_flavor("sklearn").dump(model).data)
    return path


def train_lightgbm(adult: Adult) -> tuple[Any, Callable[[Path, Any], Path]]:
    model = lgb.LGBMClassifier(n_estimators=60, num_leaves=15, verbose=-1)
    model.fit(_categorical(adult.train), adult.train[TARGET])

    def write(folder: Path, fitted: Any) -> Path:
        path = folder / "model.lgb"
        fitted.booster_.save_model(path)
        return path

    return model, write


def train_xgboost(adult: Adult) -> tuple[Any, Callable[[Path, Any], Path]]:
    model = xgb.XGBClassifier(n_estimators=60, max_depth=4, enable_categorical=True)
    model.fit(_categorical(adult.train), adult.train[TARGET])

    def write(folder: Path, fitted: Any) -> Path:
        path = folder / "model.ubj"
        fitted.save_model(path)
        return path

    return model, write


def train_xgboost_booster(adult: Adult) -> tuple[Any, Callable[[Path, Any], Path]]:
    matrix = xgb.DMatrix(_categorical(adult.train), adult.train[TARGET], enable_categorical=True)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 4}, matrix, 60)

    def write(folder: Path, fitted: Any) -> Path:
        path = folder / "booster.ubj"
        fitted.save_model(path)  # a Booster's file records no wrapper
        return path

    return booster, write


def train_onnx(adult: Adult) -> tuple[Any, Callable[[Path, Any], Path]]:
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    pipeline = _sklearn_pipeline(LogisticRegression(max_iter=2000))
    frame = adult.train[FEATURES].astype(dict.fromkeys(NUMERIC, "float32"))
    pipeline.fit(frame, adult.train[TARGET])
    inputs = [(name, StringTensorType([None, 1])) for name in CATEGORICAL]
    inputs += [(name, FloatTensorType([None, 1])) for name in NUMERIC]
    proto = convert_sklearn(pipeline, initial_types=inputs, options={"zipmap": False})

    def write(folder: Path, fitted: Any) -> Path:
        path = folder / "model.onnx"
        path.write_bytes(fitted.SerializeToString())
        return path

    return proto, write


TRAINERS: dict[str, Callable[[Adult], tuple[Any, Callable[[Path, Any], Path]]]] = {
    "sklearn": train_sklearn,
    "sklearn-lightgbm": train_sklearn_lightgbm,
    "lightgbm": train_lightgbm,
    "xgboost": train_xgboost,
    "xgboost-booster": train_xgboost_booster,
    "onnx": train_onnx,
}
FLAVORS = {
    "sklearn": "sklearn",
    "sklearn-lightgbm": "sklearn",
    "lightgbm": "lightgbm",
    "xgboost": "xgboost",
    "xgboost-booster": "xgboost",
    "onnx": "onnx",
}


class Store:
    """A local store (alice: its admin) reached through the CLI and the SDK."""

    def __init__(self, home: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.home, self.db_url = home, db_url
        monkeypatch.setenv("GOVML_HOME", str(home))
        monkeypatch.setenv("GOVML_DATABASE_URL", db_url)
        monkeypatch.setenv("GOVML_USER", "alice")
        for name in ("GOVML_SERVER", "GOVML_TOKEN", "GOVML_TRUSTED_TYPES"):
            monkeypatch.delenv(name, raising=False)
        self.client = govml.connect(home, database_url=db_url, user="alice")

    def cli(self, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
        code = invoke([*args, "--json"])
        out, err = capsys.readouterr()
        assert code == 0, f"govml {' '.join(args)} exited {code}: {err}"
        result: dict[str, Any] = json.loads(out)
        return result


@pytest.fixture
def store(db_url: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    made = Store(home, db_url, monkeypatch)
    yield made
    made.client.close()


def _expected_labels(kind: str, model: Any, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    if kind in ("lightgbm", "xgboost"):
        return np.asarray(model.predict(_categorical(frame)))
    if kind == "xgboost-booster":
        matrix = xgb.DMatrix(_categorical(frame), enable_categorical=True)
        return (model.predict(matrix) > 0.5).astype(int)
    if kind == "onnx":
        import onnxruntime as ort

        session = ort.InferenceSession(model.SerializeToString())
        feeds = {name: frame[[name]].to_numpy().astype(str) for name in CATEGORICAL}
        feeds |= {name: frame[[name]].to_numpy().astype(np.float32) for name in NUMERIC}
        return np.asarray(session.run(None, feeds)[0]).ravel()
    return np.asarray(model.predict(frame.drop(columns=TARGET)))


@pytest.mark.parametrize("kind", sorted(TRAINERS))
def test_every_flavor_registers_evaluates_serves_and_is_monitored(
    kind: str,
    adult: Adult,
    store: Store,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    model, write = TRAINERS[kind](adult)
    artifact = write(tmp_path, model)
    name = f"adult-{kind}"
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    client = store.client
    client.create_model(name, risk_tier="minimal")
    client.apply_policy(policy)

    from_cli = store.cli(
        capsys,
        "versions",
        "register",
        name,
        "--artifact",
        str(artifact),
        "--train-data",
        str(adult.train_csv),
        "--target",
        TARGET,
    )
    from_sdk = client.register_version(name, model=model, train_data=adult.train, target=TARGET)
    for version in (govml.domain.records.ModelVersion.from_dict(from_cli), from_sdk):
        assert version.flavor == FLAVORS[kind]
        options = version.flavor_options
        assert options["task"] == "classification", options
        assert options["classes"] == [0, 1], options
        assert options.get("trusted", []) == []
        inputs = [column["name"] for column in (version.signature or {})["inputs"]]
        # The signature is what the model reads: never the target, never age_group.
        assert sorted(inputs) == sorted(FEATURES), inputs
        outputs = (version.signature or {})["outputs"]
        assert outputs and outputs[0]["type"] in ("int64", "int32"), outputs
    shown = invoke(["versions", "show", f"{name}@1"])
    assert shown == 0 and "classification (classes 0, 1)" in capsys.readouterr().out

    evaluated = store.cli(
        capsys, "evaluate", f"{name}@1", "--data", str(adult.test_csv), "--target", TARGET
    )
    assert evaluated["status"] == "pass", evaluated
    sdk_evaluation = client.evaluate(f"{name}@2", data=adult.test, target=TARGET)
    assert sdk_evaluation.status == "pass", sdk_evaluation.failed()
    accuracy = sdk_evaluation.check("accuracy")["value"]
    expected = _expected_labels(kind, model, adult.test)
    assert accuracy == pytest.approx(float(np.mean(expected == adult.test[TARGET])), abs=1e-9)

    client.promote(f"{name}@1", to="staging", reason="passed adult-gate")
    served = adult.test.head(SERVED_ROWS)
    log_dir = tmp_path / "log"
    _serve_and_compare(client, name, served, expected[:SERVED_ROWS], log_dir)

    # The served version is monitored from its log: drift and skew of each feature it reads,
    # its accuracy on the labels sent back.
    monitored = store.cli(
        capsys, "monitor", name, "--window", "1d", "--log-dir", str(log_dir), "--min-rows", "100"
    )
    (report,) = monitored["versions"]
    assert report["version"] == 1 and report["rows"] == SERVED_ROWS
    assert report["labelled"] == SERVED_ROWS
    checks = {check["check"]: check for check in report["checks"]}
    assert {f"data_drift:{feature}" for feature in FEATURES} <= set(checks)
    assert "data_drift:age_group" not in checks and "skew:age_group" not in checks
    accuracy = checks["performance:accuracy"]["value"]
    served_labels = served[TARGET].to_numpy()
    assert accuracy == pytest.approx(float(np.mean(expected[:SERVED_ROWS] == served_labels)))
    dry = client.monitor(name, window="1d", log_dir=log_dir, min_rows=100, dry_run=True)
    assert [version.rows for version in dry.versions] == [SERVED_ROWS]


def _serve_and_compare(
    client: govml.Client,
    name: str,
    rows: pd.DataFrame,
    expected: np.ndarray[Any, Any],
    log_dir: Path,
) -> None:
    issued = client.issue_gateway_key(name, scopes=["predict", "feedback"], expires_in_days=1)
    options = GatewayOptions(
        model=name, alias="staging", log_dir=log_dir, poll_seconds=0.2, flush_seconds=0.2
    )
    app = create_app(options, ClientSource(client))
    # Text as it arrives from a client: categories as strings, numbers as JSON numbers.
    columns = {column: rows[column].tolist() for column in FEATURES}
    headers = {"Authorization": f"Bearer {issued.secret}"}
    with serving(app) as url, httpx.Client(base_url=url, timeout=60, headers=headers) as http:
        deadline = time.monotonic() + 60
        while (ready := http.get("/ready")).status_code != 200:
            assert time.monotonic() < deadline, ready.text
            time.sleep(0.05)
        answer = http.post("/predict", json={"columns": columns})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        labels = [
            {"request_id": body["request_id"], "record": i, "label": int(label)}
            for i, label in enumerate(rows[TARGET])
        ]
        http.post("/feedback", json=labels).raise_for_status()
    assert body["classes"] == [0, 1]
    np.testing.assert_array_equal(np.asarray(body["predictions"]), expected)
