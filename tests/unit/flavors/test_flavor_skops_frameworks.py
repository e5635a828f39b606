"""LightGBM and XGBoost models inside scikit-learn pipelines, through the sklearn flavor.

Their types are on the built-in allowlist, so such pipelines register without anyone
trusting anything; what makes that safe is checked here: the boosters' saved models pass
the native flavors' structure checks before their parsers see them, the types are only
rebuilt as plain objects, and their file-touching methods stay unreachable.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import xgboost as xgb
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from govml.errors import FlavorError, UnsafeArtifactError
from govml.flavors import get_flavor
from govml.flavors._skops import LIGHTGBM_BOOSTER, XGBOOST_BOOSTER


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(3)
    n = 300
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "income": rng.normal(50, 10, n),
            "region": rng.choice(["north", "south", "east"], n),
        }
    )
    y = np.where(X["income"] + rng.normal(0, 5, n) > 50, ">50K", "<=50K")
    return X, y


def _pipeline(model: Any) -> Pipeline:
    columns = ColumnTransformer(
        [("num", StandardScaler(), ["age", "income"]), ("cat", OneHotEncoder(), ["region"])]
    )
    return Pipeline([("columns", columns), ("model", model)])


MODELS: dict[str, Callable[[], Any]] = {
    "lgbm-classifier": lambda: lgb.LGBMClassifier(n_estimators=8, num_leaves=7, verbose=-1),
    "xgb-classifier": lambda: xgb.XGBClassifier(n_estimators=8, max_depth=3),
}


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_pipelines_holding_boosters_need_no_extra_trust(data, kind) -> None:
    X, y = data
    target = y if kind.startswith("lgbm") else (y == ">50K").astype(int)
    pipeline = _pipeline(MODELS[kind]()).fit(X, target)
    serialized = get_flavor("sklearn").dump(pipeline)
    assert serialized.options["trusted"] == []
    assert serialized.options["task"] == "classification"
    described = get_flavor("sklearn").from_bytes(serialized.data)
    assert described.options == serialized.options
    loaded = get_flavor("sklearn").load(serialized.data, serialized.options)
    np.testing.assert_array_equal(loaded.predict(X), pipeline.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), pipeline.predict_proba(X), atol=1e-12)


def test_a_regressor_pipeline_records_its_task(data) -> None:
    X, _ = data
    pipeline = _pipeline(xgb.XGBRegressor(n_estimators=5)).fit(X, X["income"])
    serialized = get_flavor("sklearn").dump(pipeline)
    assert serialized.options["task"] == "regression" and "classes" not in serialized.options
    loaded = get_flavor("sklearn").load(serialized.data, serialized.options)
    np.testing.assert_allclose(loaded.predict(X), pipeline.predict(X), rtol=1e-6)


def _edit(
    data: bytes,
    change: Callable[[dict[str, Any]], None],
    members: dict[str, bytes] | None = None,
) -> bytes:
    """Return the archive with its schema changed by ``change`` and some members replaced."""
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(source.read("schema.json"))
    change(schema)
    replaced = {"schema.json": json.dumps(schema).encode(), **(members or {})}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            target.writestr(name, replaced.get(name) or source.read(name))
    return out.getvalue()


def _find(node: Any, module_class: str) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if f"{node.get('__module__')}.{node.get('__class__')}" == module_class:
            found.append(node)
        for value in node.values():
            found += _find(value, module_class)
    elif isinstance(node, list):
        for value in node:
            found += _find(value, module_class)
    return found


def _lgbm_archive(data: tuple[pd.DataFrame, Any]) -> bytes:
    X, y = data
    return get_flavor("sklearn").dump(_pipeline(MODELS["lgbm-classifier"]()).fit(X, y)).data


def test_damaged_lightgbm_model_text_is_refused_before_lightgbm_reads_it(data) -> None:
    def damage(schema: dict[str, Any]) -> None:
        (booster,) = _find(schema, LIGHTGBM_BOOSTER)
        handle = booster["content"]["content"]["_handle"]
        text = json.loads(handle["content"])
        # A child link pointing back up the tree: LightGBM would loop forever on it.
        assert "left_child=1 -1" in text
        handle["content"] = json.dumps(text.replace("left_child=1 -1", "left_child=0 -1", 1))

    damaged = _edit(_lgbm_archive(data), damage)
    with pytest.raises(FlavorError, match="LightGBM model inside the artifact is not a valid"):
        get_flavor("sklearn").load(damaged, {})


def test_inconsistent_xgboost_state_is_refused_before_xgboost_reads_it(data) -> None:
    X, y = data
    pipeline = _pipeline(MODELS["xgb-classifier"]()).fit(X, (y == ">50K").astype(int))
    archive = get_flavor("sklearn").dump(pipeline).data
    booster = pipeline.named_steps["model"].get_booster()
    # The state XGBoost pickles, as JSON, with a configuration that contradicts the model.
    state = {
        "Config": json.loads(booster.save_config()),
        "Model": json.loads(bytes(booster.save_raw("json"))),
    }
    state["Config"]["learner"]["learner_model_param"]["num_feature"] = "1000"
    schema = json.loads(zipfile.ZipFile(io.BytesIO(archive)).read("schema.json"))
    (node,) = _find(schema, XGBOOST_BOOSTER)
    member = node["content"]["content"]["handle"]["file"]
    damaged = _edit(archive, lambda _schema: None, {member: json.dumps(state).encode()})
    with pytest.raises(FlavorError, match="model parameters differ"):
        get_flavor("sklearn").load(damaged, {})


def test_a_booster_rebuilt_by_a_call_is_refused(data, tmp_path) -> None:
    # Booster(params, train_set, model_file) would read a file of the loading machine.
    target = tmp_path / "server-file.txt"
    target.write_text("secret", encoding="utf-8")

    def as_call(schema: dict[str, Any]) -> None:
        (booster,) = _find(schema, LIGHTGBM_BOOSTER)
        args = [None, None, str(target)]
        booster.clear()
        booster.update(
            {
                "__class__": "Booster",
                "__module__": "lightgbm.basic",
                "__loader__": "ConstructorFromReduceNode",
                "content": {
                    "__class__": "tuple",
                    "__module__": "builtins",
                    "__loader__": "TupleNode",
                    "content": [_json(arg) for arg in args],
                },
            }
        )

    with pytest.raises(UnsafeArtifactError, match="lightgbm.basic.Booster as ConstructorFromRe"):
        get_flavor("sklearn").load(_edit(_lgbm_archive(data), as_call), {})


def _json(value: Any) -> dict[str, Any]:
    kind = type(value).__name__
    return {
        "__class__": kind,
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
    }


def test_a_boosters_file_methods_stay_unreachable(data) -> None:
    X, y = data
    booster = lgb.LGBMClassifier(n_estimators=2, verbose=-1).fit(X[["age"]], y).booster_
    pipeline = Pipeline([("save", FunctionTransformer(booster.save_model))])
    archive = sio.dumps(pipeline)
    with pytest.raises(UnsafeArtifactError, match="lightgbm.basic.Booster.save_model"):
        get_flavor("sklearn").load(archive, {})
