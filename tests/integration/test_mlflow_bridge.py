"""The MLflow bridge against a real MLflow tracking server (`tests.integration.mlflow_server`):
import with lineage, safe flavors, pickles only as the policy allows, and aliases mirrored with
hand-moved ones reset and ledgered."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from tests.integration.mlflow_server import (
    explicit_tracking_uri,
    mlflow_server,
    pinned,
    run_cli,
)
from tests.integration.test_lifecycle import Team

import govml

mlflow = pytest.importorskip("mlflow")
mlflow_sklearn = pytest.importorskip("mlflow.sklearn")
mlflow_lightgbm = pytest.importorskip("mlflow.lightgbm")
mlflow_xgboost = pytest.importorskip("mlflow.xgboost")
lgb = pytest.importorskip("lightgbm")
xgb = pytest.importorskip("xgboost")


GIT_COMMIT = "0123456789abcdef0123456789abcdef01234567"
SCANNED = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: gate-scanned}
tiers: [high]
performance:
  - {metric: accuracy, min: 0.0}
security: {serialization: scanned_pickle}
approvals: {required: 2, roles: [approver, risk_officer]}
"""


@dataclass
class Tracking:
    url: str
    train: Path
    frame: pd.DataFrame
    skops_model: LogisticRegression
    run_id: str
    booster: Any
    boosted: Any


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, 2))
    y = (x[:, 0] - x[:, 1] + rng.normal(scale=0.5, size=300) > 0).astype("int64")
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": y})


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tracking]:
    tmp = tmp_path_factory.mktemp("mlflow")
    with mlflow_server(tmp) as url:
        yield _log_models(url, tmp)


def _log_models(url: str, tmp: Path) -> Tracking:
    """credit v1: skops, with a logged dataset, params, metrics and a git commit; credit v2:
    cloudpickle (MLflow's default on Databricks)."""
    before = explicit_tracking_uri()
    mlflow.set_tracking_uri(url)
    try:
        frame = _frame()
        train = tmp / "train.csv"
        frame.to_csv(train, index=False)
        X, y = frame[["x1", "x2"]], frame["y"]
        mlflow.set_experiment("credit")
        with mlflow.start_run() as run:
            model = LogisticRegression(C=0.5).fit(X, y)
            mlflow.log_params({"C": 0.5, "solver": "lbfgs"})
            mlflow.log_metric("train_accuracy", float(model.score(X, y)))
            dataset = mlflow.data.from_pandas(frame, source=str(train), name="train", targets="y")
            mlflow.log_input(dataset, context="training")
            mlflow.set_tags({"mlflow.source.git.commit": GIT_COMMIT, "team": "risk"})
            mlflow_sklearn.log_model(
                model,
                name="model",
                serialization_format="skops",
                registered_model_name="credit",
                input_example=X.head(3),
                pip_requirements=pinned("scikit-learn", "skops"),
            )
        with mlflow.start_run():
            second = LogisticRegression(C=2.0).fit(X, y)
            mlflow.log_param("C", 2.0)
            mlflow_sklearn.log_model(
                second,
                name="model",
                serialization_format="cloudpickle",
                registered_model_name="credit",
                pip_requirements=pinned("scikit-learn", "cloudpickle"),
            )
        with mlflow.start_run():
            booster = lgb.train(
                {"objective": "binary", "verbose": -1, "num_leaves": 7},
                lgb.Dataset(X, y),
                num_boost_round=20,
            )
            mlflow_lightgbm.log_model(
                booster,
                name="model",
                registered_model_name="credit-lgb",
                input_example=X.head(3),
                pip_requirements=pinned("lightgbm"),
            )
        with mlflow.start_run():
            boosted = xgb.XGBClassifier(n_estimators=20, max_depth=3).fit(X, y)
            mlflow_xgboost.log_model(
                boosted,
                name="model",
                registered_model_name="credit-xgb",
                input_example=X.head(3),
                pip_requirements=[f"xgboost=={xgb.__version__}"],
            )
        return Tracking(url, train, frame, model, run.info.run_id, booster, boosted)
    finally:
        mlflow.set_tracking_uri(before)


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Team]:
    home = tmp_path / "home"
    home.mkdir()
    url = f"sqlite:///{home / 'govml.db'}"
    govml.connect(home, database_url=url, user="alice", create=True).close()
    made = Team(url, home, tmp_path)
    made["alice"].apply_policy(made.policy(accuracy_min=0.0))
    made["bob"].create_model("credit", risk_tier="high", description="d", intended_use="u")
    monkeypatch.setenv("GOVML_HOME", str(home))
    monkeypatch.setenv("GOVML_DATABASE_URL", url)
    monkeypatch.delenv("GOVML_SERVER", raising=False)
    yield made
    made.close()


def test_import_keeps_lineage_and_a_safe_flavor(
    tracking: Tracking,
    team: Team,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = [
        "import",
        "mlflow",
        "models:/credit/1",
        "--tracking-uri",
        tracking.url,
        "--target",
        "y",
        "--json",
    ]
    code, out, err = run_cli(capsys, monkeypatch, "bob", *args)
    assert code == 0, err
    result = json.loads(out)
    assert result["version"] == "credit@1" and not result["already_imported"]
    assert result["artifact"] == "skops" and result["flavor"] == "sklearn"
    assert result["mlflow_run_id"] == tracking.run_id
    (dataset,) = result["mlflow"]["datasets"]
    assert dataset["name"] == "train" and dataset["context"] == "training"
    assert dataset["digest"] and dataset["num_rows"] == 300
    assert result["mlflow"]["tags"]["team"] == "risk"
    assert result["fingerprinted_datasets"] == {"train": str(tracking.train)}

    version = team["bob"].get_version("credit@1")
    assert version.params == {"C": "0.5", "solver": "lbfgs", "target": "y"}
    assert version.metrics["train_accuracy"] == pytest.approx(
        tracking.skops_model.score(tracking.frame[["x1", "x2"]], tracking.frame["y"])
    )
    assert version.code["git_commit"] == GIT_COMMIT
    assert version.environment["packages"]["scikit-learn"] == "1.9.1"
    assert version.mlflow_run_id == tracking.run_id
    (train,) = version.datasets
    assert train.role == "train" and train.row_count == 300
    loaded = team["bob"].load_model("credit@1")
    X = tracking.frame[["x1", "x2"]]
    np.testing.assert_array_equal(loaded.predict(X), tracking.skops_model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), tracking.skops_model.predict_proba(X))

    # The ledger keeps what MLflow knew, beside the registration.
    code, out, _ = run_cli(capsys, monkeypatch, "bob", "audit", "log", "--json")
    assert code == 0
    (imported,) = [e for e in json.loads(out) if e["action"] == "mlflow.imported"]
    assert imported["subject"] == "model/credit/versions/1"
    assert imported["payload"]["datasets"][0]["digest"] == dataset["digest"]

    # Importing the same MLflow version again registers nothing new.
    code, out, err = run_cli(capsys, monkeypatch, "bob", *args)
    assert code == 0, err
    assert json.loads(out)["already_imported"] is True
    assert [v.version for v in team["bob"].list_versions("credit")] == [1]


def test_pickles_only_when_the_policy_allows_them_and_converted_to_skops(
    tracking: Tracking,
    team: Team,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = ["import", "mlflow", "models:/credit/2", "--tracking-uri", tracking.url]
    code, _, err = run_cli(capsys, monkeypatch, "bob", *args)
    assert code == 2
    assert "does not allow pickles (security.serialization: scanned_pickle)" in err
    assert team["bob"].list_versions("credit") == []

    policy = team.tmp / "scanned.yaml"
    policy.write_text(SCANNED, encoding="utf-8")
    team["alice"].apply_policy(policy, replace=True)
    code, out, err = run_cli(capsys, monkeypatch, "bob", *args, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["artifact"] == "scanned cloudpickle to skops"
    version = team["bob"].get_version("credit@1")
    assert version.flavor == "sklearn" and version.params == {"C": "2.0"}
    assert team["bob"].load_model("credit@1").predict(tracking.frame[["x1", "x2"]]).shape == (300,)


def test_bad_sources_are_clear_errors(
    tracking: Tracking,
    team: Team,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for uri, needle in [
        ("credit", "is not an MLflow model"),
        ("models:/credit/99", "MLflow answered"),
        ("models:/nope@production", "MLflow answered"),
    ]:
        code, _, err = run_cli(
            capsys, monkeypatch, "bob", "import", "mlflow", uri, "--tracking-uri", tracking.url
        )
        assert code in (2, 4, 5), err
        assert needle in err, err
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        "vic",
        "import",
        "mlflow",
        "models:/credit/1",
        "--tracking-uri",
        tracking.url,
    )
    assert code == 3, err


def test_sync_mirrors_aliases_and_resets_hand_moved_ones(
    tracking: Tracking,
    team: Team,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _, err = run_cli(
        capsys,
        monkeypatch,
        "bob",
        "import",
        "mlflow",
        "models:/credit/1",
        "--tracking-uri",
        tracking.url,
    )
    assert code == 0, err
    team.evaluate("credit@1")
    team.approve_twice("credit@1")
    frank = team["frank"]
    frank.promote("credit@1", to="staging")
    frank.promote("credit@1", to="production")
    client = mlflow.MlflowClient(tracking_uri=tracking.url, registry_uri=tracking.url)
    for alias in ("staging", "production"):
        with contextlib.suppress(mlflow.exceptions.MlflowException):
            client.delete_registered_model_alias("credit", alias)
    client.set_registered_model_alias("credit", "production", "2")  # moved by hand

    sync = ["mlflow", "sync", "credit", "--tracking-uri", tracking.url, "--json"]
    code, out, err = run_cli(capsys, monkeypatch, "bob", *sync)
    assert code == 3, "a contributor may not move aliases"
    code, out, err = run_cli(capsys, monkeypatch, "frank", *sync[:-1], "--dry-run", "--json")
    assert code == 0, err
    assert {c["kind"] for c in json.loads(out)["changes"]} == {"set", "reset"}
    assert client.get_registered_model("credit").aliases == {"production": "2"}

    code, out, err = run_cli(capsys, monkeypatch, "frank", *sync)
    assert code == 0, err
    changes = {c["alias"]: c for c in json.loads(out)["changes"]}
    assert changes["production"] == {
        "model": "credit",
        "mlflow_model": "credit",
        "alias": "production",
        "was": "2",
        "now": "1",
        "kind": "reset",
    }
    assert changes["staging"]["kind"] == "set"
    assert client.get_registered_model("credit").aliases == {"production": "1", "staging": "1"}

    code, out, _ = run_cli(capsys, monkeypatch, "frank", *sync)
    assert code == 0 and json.loads(out)["changes"] == []
    code, out, _ = run_cli(capsys, monkeypatch, "frank", "audit", "log", "--json")
    synced = [e for e in json.loads(out) if e["action"] == "mlflow.aliases_synced"]
    assert len(synced) == 1
    assert synced[0]["actor"] == "frank"


def test_native_boosters_are_kept_as_they_are(
    tracking: Tracking,
    team: Team,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X = tracking.frame[["x1", "x2"]]
    for name in ("credit-lgb", "credit-xgb"):
        team["bob"].create_model(name, risk_tier="high", description="d", intended_use="u")
        code, out, err = run_cli(
            capsys,
            monkeypatch,
            "bob",
            "import",
            "mlflow",
            f"models:/{name}/1",
            "--tracking-uri",
            tracking.url,
            "--json",
        )
        assert code == 0, err
        assert json.loads(out)["artifact"] == "native booster"
    lgb_version = team["bob"].get_version("credit-lgb@1")
    assert lgb_version.flavor == "lightgbm"
    loaded = team["bob"].load_model("credit-lgb@1")
    np.testing.assert_allclose(loaded.predict_proba(X)[:, 1], tracking.booster.predict(X))
    xgb_version = team["bob"].get_version("credit-xgb@1")
    assert xgb_version.flavor == "xgboost"
    loaded = team["bob"].load_model("credit-xgb@1")
    np.testing.assert_allclose(
        loaded.predict_proba(X), tracking.boosted.predict_proba(X), rtol=1e-6
    )


def test_a_run_id_imports_the_model_the_run_logged(
    tracking: Tracking,
    team: Team,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = ["import", "mlflow", tracking.run_id, "--model", "credit", "--tracking-uri"]
    code, out, err = run_cli(capsys, monkeypatch, "bob", *args, tracking.url, "--json")
    assert code == 0, err
    assert json.loads(out)["mlflow_run_id"] == tracking.run_id
    version = team["bob"].get_version("credit@1")
    assert version.mlflow_run_id == tracking.run_id and version.params["C"] == "0.5"
    args[2] = "0" * 32  # a run id no run has
    code, _, err = run_cli(capsys, monkeypatch, "bob", *args, tracking.url)
    assert code in (2, 4, 5) and "MLflow answered" in err, err


def test_the_bridge_leaves_mlflows_process_settings_alone(tracking: Tracking) -> None:
    from govml.integrations import mlflow_bridge as bridge

    def settings() -> tuple[object, ...]:
        names = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
        return (explicit_tracking_uri(), mlflow.get_registry_uri(), *map(os.environ.get, names))

    before = settings()
    with bridge.tracking(tracking.url) as client:
        assert client.get_registered_model("credit").name == "credit"
    assert settings() == before
