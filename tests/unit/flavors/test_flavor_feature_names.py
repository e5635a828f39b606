"""A version's input signature lists the columns its model reads, and nothing else.

Models that record their features (``feature_names_in_``, less what a ColumnTransformer
drops; booster feature names; ONNX inputs) give the signature; for the others,
``exclude_columns`` leaves out what the data has but the model does not read. Locally, through
the CLI and through the REST API.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import govml
from govml.cli.main import invoke
from govml.errors import InputError
from govml.flavors import get_flavor
from govml.flavors.sklearn import columns_read
from govml.remote import RemoteClient
from govml.server import create_app
from govml.server.background import serving
from govml.settings import load_settings


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "id": np.arange(n),
            "age": rng.integers(18, 80, n).astype(float),
            "income": rng.normal(50, 10, n),
            "region": rng.choice(["north", "south"], n),
        }
    )
    frame["age_group"] = np.where(frame["age"] < 40, "young", "older")
    frame["y"] = (frame["income"] > 50).astype("int64")
    return frame


def _dropping_pipeline(frame: pd.DataFrame) -> Pipeline:
    columns = ColumnTransformer(
        [("num", StandardScaler(), ["age", "income"]), ("cat", OneHotEncoder(), ["region"])]
    )
    return Pipeline([("columns", columns), ("clf", LogisticRegression())]).fit(
        frame.drop(columns="y"), frame["y"]
    )


def _inputs(version: Any) -> list[str]:
    return [column["name"] for column in version.signature["inputs"]]


def test_columns_read_leaves_out_what_a_column_transformer_drops() -> None:
    frame = _frame()
    pipeline = _dropping_pipeline(frame)
    assert list(pipeline.feature_names_in_) == ["id", "age", "income", "region", "age_group"]
    assert columns_read(pipeline) == ["age", "income", "region"]
    by_index = ColumnTransformer([("num", StandardScaler(), [1, 2])], remainder="passthrough")
    fitted = Pipeline([("c", by_index), ("m", LogisticRegression())]).fit(
        frame[["id", "age", "income"]], frame["y"]
    )
    assert columns_read(fitted) == ["id", "age", "income"]  # passthrough reads the rest
    bare = LogisticRegression().fit(frame[["age", "income"]].to_numpy(), frame["y"])
    assert columns_read(bare) is None


def test_the_signature_is_what_the_model_reads(client: govml.Client) -> None:
    frame = _frame()
    client.create_model("credit", risk_tier="minimal")
    dropping = client.register_version(
        "credit", model=_dropping_pipeline(frame), train_data=frame, target="y"
    )
    assert _inputs(dropping) == ["age", "income", "region"]
    booster = lgb.LGBMClassifier(n_estimators=5, verbose=-1).fit(
        frame[["income", "age"]], frame["y"]
    )
    boosted = client.register_version("credit", model=booster, train_data=frame, target="y")
    assert _inputs(boosted) == ["income", "age"]  # the model's own order
    # A model that reads columns by position needs the caller to say what it does not read.
    bare = LogisticRegression().fit(frame[["age", "income"]].to_numpy(), frame["y"])
    with pytest.raises(InputError, match="cannot predict"):
        client.register_version("credit", model=bare, train_data=frame, target="y")
    excluded = client.register_version(
        "credit",
        model=bare,
        train_data=frame,
        target="y",
        exclude_columns=["id", "region", "age_group"],
    )
    assert _inputs(excluded) == ["age", "income"]
    loaded = client.load_model(dropping.ref)
    # Extra columns are left out when scoring, too.
    np.testing.assert_array_equal(loaded.predict(frame), loaded.predict(frame[_inputs(dropping)]))


def test_exclude_columns_are_checked(client: govml.Client) -> None:
    frame = _frame()
    client.create_model("credit", risk_tier="minimal")
    model = _dropping_pipeline(frame)
    with pytest.raises(InputError, match="exclude_columns: agegroup not in the training data"):
        client.register_version(
            "credit", model=model, train_data=frame, target="y", exclude_columns=["agegroup"]
        )
    with pytest.raises(InputError, match="the model reads income"):
        client.register_version(
            "credit", model=model, train_data=frame, target="y", exclude_columns=["income"]
        )
    with pytest.raises(InputError, match="reads column.*region.*training data does not have"):
        client.register_version(
            "credit", model=model, train_data=frame.drop(columns="region"), target="y"
        )
    assert client.list_versions("credit") == []


def test_exclude_columns_from_the_cli(
    client: govml.Client,
    db_url: str,
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    frame = _frame()
    client.create_model("credit", risk_tier="minimal")
    data = tmp_path / "train.csv"
    frame.to_csv(data, index=False)
    bare = LogisticRegression().fit(frame[["age", "income"]].to_numpy(), frame["y"])
    artifact = tmp_path / "model.skops"
    artifact.write_bytes(get_flavor("sklearn").dump(bare).data)
    monkeypatch.setenv("GOVML_HOME", str(home))
    monkeypatch.setenv("GOVML_DATABASE_URL", db_url)
    monkeypatch.setenv("GOVML_USER", "alice")
    monkeypatch.delenv("GOVML_SERVER", raising=False)
    register = ["versions", "register", "credit", "--artifact", str(artifact)]
    register += ["--train-data", str(data), "--target", "y"]
    assert invoke([*register, "--exclude-columns", "id,region", "--exclude-columns", "zip"]) == 2
    assert "zip not in the training data" in capsys.readouterr().err
    code = invoke([*register, "--exclude-columns", "id,region", "--exclude-columns", "age_group"])
    assert code == 0, capsys.readouterr().err
    assert _inputs(client.get_version("credit@1")) == ["age", "income"]


@pytest.fixture
def remote(db_url: str, home: Path) -> Iterator[RemoteClient]:
    with govml.connect(home, database_url=db_url, user="alice") as local:
        local.init()
        token = local.add_user("bob", roles=["contributor"]).token
        local.create_model("credit", risk_tier="minimal")
    with serving(create_app(load_settings(home=home, database_url=db_url))) as url:
        bob = RemoteClient(load_settings(server=url, token=token))
        yield bob
        bob.close()


def test_exclude_columns_over_rest(remote: RemoteClient) -> None:
    frame = _frame()
    bare = LogisticRegression().fit(frame[["age", "income"]].to_numpy(), frame["y"])
    version = remote.register_version(
        "credit",
        model=bare,
        train_data=frame,
        target="y",
        exclude_columns=["id", "region", "age_group"],
    )
    assert _inputs(version) == ["age", "income"]
    with pytest.raises(InputError, match="exclude_columns: nope not in"):
        remote.register_version(
            "credit", model=bare, train_data=frame, target="y", exclude_columns=["nope"]
        )
