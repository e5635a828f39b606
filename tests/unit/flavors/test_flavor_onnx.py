"""ONNX flavor: skl2onnx-converted models run from bytes, ZipMap or tensor probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

pytest.importorskip("onnxruntime")
skl2onnx = pytest.importorskip("skl2onnx")

from skl2onnx.common.data_types import (  # noqa: E402
    FloatTensorType,
    Int64TensorType,
    StringTensorType,
)
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from govml.errors import FlavorError, InputError  # noqa: E402
from govml.flavors import flavor_for, get_flavor  # noqa: E402


@pytest.fixture(scope="module")
def numeric() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    X = rng.normal(size=(80, 3)).astype(np.float32)
    y = np.array(["high", "low", "mid"])[np.digitize(X[:, 0] + X[:, 1], [-0.5, 0.5])]
    return X, y


@pytest.fixture(scope="module")
def logistic(numeric) -> LogisticRegression:
    X, y = numeric
    return LogisticRegression(max_iter=500).fit(X, y)


def _round_trip(model: object):
    flavor = flavor_for(model)
    serialized = flavor.dump(model)
    return serialized, flavor.load(serialized.data, serialized.options)


@pytest.mark.parametrize("zipmap", [True, False], ids=["zipmap", "tensor"])
def test_logistic_regression_round_trip(numeric, logistic, zipmap) -> None:
    X, _ = numeric
    proto = skl2onnx.to_onnx(logistic, X[:1], options={"zipmap": zipmap})
    serialized, loaded = _round_trip(proto)
    assert serialized.flavor == "onnx"
    assert serialized.options["classes"] == ["high", "low", "mid"]
    assert serialized.options["inputs"] == [
        {"name": "X", "type": "tensor(float)", "shape": [None, 3]}
    ]
    np.testing.assert_array_equal(loaded.predict(X), logistic.predict(X))
    # onnxruntime computes in float32, so compare with sklearn at float32 precision...
    np.testing.assert_allclose(loaded.predict_proba(X), logistic.predict_proba(X), atol=1e-6)
    # ...and exactly with the same graph run directly.
    direct = _run_directly(proto, X)
    np.testing.assert_array_equal(loaded.predict_proba(X), direct)


def _run_directly(proto: object, X: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    _, proba = session.run(None, {"X": X})
    if isinstance(proba, list):
        return np.asarray([[row[c] for c in ("high", "low", "mid")] for row in proba])
    return np.asarray(proba)


def test_tables_are_stacked_into_a_single_tensor_input(numeric, logistic) -> None:
    X, _ = numeric
    _, loaded = _round_trip(skl2onnx.to_onnx(logistic, X[:1]))
    frame = pd.DataFrame(X.astype(np.float64), columns=["a", "b", "c"])
    np.testing.assert_array_equal(loaded.predict(frame), logistic.predict(X))
    np.testing.assert_array_equal(loaded.predict(pl.from_pandas(frame)), logistic.predict(X))


@pytest.fixture(scope="module")
def mixed() -> tuple[pd.DataFrame, Pipeline, object]:
    rng = np.random.default_rng(12)
    n = 80
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": rng.normal(50, 10, n),
            "city": rng.choice(["paris", "lyon"], n),
        }
    )
    y = (X["age"] > 45).astype(int)
    pre = ColumnTransformer(
        [("num", StandardScaler(), ["age", "income"]), ("cat", OneHotEncoder(), ["city"])]
    )
    pipe = Pipeline([("pre", pre), ("clf", LogisticRegression())]).fit(X, y)
    proto = skl2onnx.convert_sklearn(
        pipe,
        initial_types=[
            ("age", Int64TensorType([None, 1])),
            ("income", FloatTensorType([None, 1])),
            ("city", StringTensorType([None, 1])),
        ],
    )
    return X, pipe, proto


def test_pipeline_with_one_input_per_column(mixed) -> None:
    X, pipe, proto = mixed
    serialized, loaded = _round_trip(proto)
    assert [node["name"] for node in serialized.options["inputs"]] == ["age", "income", "city"]
    assert serialized.options["classes"] == [0, 1]
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), pipe.predict_proba(X), atol=1e-6)
    # Column order does not matter, names do; polars works the same.
    shuffled = pl.from_pandas(X[["city", "income", "age"]])
    np.testing.assert_array_equal(loaded.predict(shuffled), pipe.predict(X))


def test_missing_columns_and_bare_arrays_are_input_errors(mixed) -> None:
    X, _, proto = mixed
    _, loaded = _round_trip(proto)
    with pytest.raises(InputError, match="missing column.*city"):
        loaded.predict(X.drop(columns="city"))
    with pytest.raises(InputError, match="several inputs"):
        loaded.predict(X[["age", "income"]].to_numpy())


def test_regressor_has_no_probabilities(numeric) -> None:
    X, _ = numeric
    model = LinearRegression().fit(X, X[:, 0] * 3.0)
    serialized, loaded = _round_trip(skl2onnx.to_onnx(model, X[:1]))
    assert serialized.options["proba_output"] is None
    prediction = loaded.predict(X)
    assert prediction.shape == (len(X),)
    np.testing.assert_allclose(prediction, model.predict(X), atol=1e-5)
    with pytest.raises(FlavorError, match="onnx graph .* has no predict_proba"):
        loaded.predict_proba(X)


def test_bytes_and_files_are_accepted(tmp_path, numeric, logistic) -> None:
    X, _ = numeric
    proto = skl2onnx.to_onnx(logistic, X[:1])
    flavor = get_flavor("onnx")
    from_bytes = flavor.dump(proto.SerializeToString())
    assert from_bytes.data == flavor.dump(proto).data
    path = tmp_path / "model.onnx"
    path.write_bytes(from_bytes.data)
    from_file = flavor.from_file(path)
    assert from_file.data == from_bytes.data
    assert from_file.options == from_bytes.options


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupted_bytes_raise_flavor_error(numeric, logistic, damage) -> None:
    X, _ = numeric
    data = skl2onnx.to_onnx(logistic, X[:1]).SerializeToString()
    data = {"truncated": data[: len(data) // 2], "garbage": b"\x08garbage", "empty": b""}[damage]
    with pytest.raises(FlavorError, match="not a valid ONNX model"):
        get_flavor("onnx").load(data, {})
