"""Finding flavors by name and by object, and the shared pieces every flavor relies on."""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.linear_model import LogisticRegression

from govml.errors import FlavorError, InputError
from govml.flavors import FLAVOR_NAMES, Flavor, SerializedModel, flavor_for, get_flavor
from govml.flavors.base import as_table, labels_from_options, labels_to_options


def test_every_flavor_name_resolves_to_a_flavor() -> None:
    assert FLAVOR_NAMES == ("sklearn", "xgboost", "lightgbm", "onnx", "mlflow_pyfunc")
    for name in FLAVOR_NAMES:
        flavor = get_flavor(name)
        assert isinstance(flavor, Flavor)
        assert flavor.name == name


def test_unknown_flavor_name_lists_valid_names_and_suggests_one() -> None:
    with pytest.raises(FlavorError) as caught:
        get_flavor("sklaern")
    error = caught.value
    assert error.message == (
        "unknown flavor 'sklaern'; valid flavors: sklearn, xgboost, lightgbm, onnx, mlflow_pyfunc"
    )
    assert error.hint == "did you mean 'sklearn'?"


def test_unknown_object_lists_supported_flavors() -> None:
    with pytest.raises(FlavorError, match=r"object of type builtins\.dict; supported flavors: "):
        flavor_for({"weights": [1, 2]})


def test_flavor_for_prefers_the_specific_framework_over_sklearn() -> None:
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    # Both wrappers are also scikit-learn estimators.
    assert flavor_for(xgb.XGBClassifier()).name == "xgboost"
    assert flavor_for(lgb.LGBMRegressor()).name == "lightgbm"
    assert flavor_for(LogisticRegression()).name == "sklearn"


def test_a_missing_optional_library_names_the_extra(monkeypatch) -> None:
    # A None entry in sys.modules makes the import fail as if it were not installed.
    monkeypatch.setitem(sys.modules, "xgboost", None)
    with pytest.raises(FlavorError) as caught:
        get_flavor("xgboost").load(b"{}", {})
    assert "needs the 'xgboost' package" in caught.value.message
    assert caught.value.hint == "pip install govml[xgboost]"


def test_serialized_model_options_must_be_plain_json() -> None:
    SerializedModel(data=b"x", flavor="onnx", options={"classes": [0, 1], "name": "a"})
    with pytest.raises(FlavorError, match="not finite"):
        SerializedModel(data=b"x", flavor="onnx", options={"threshold": float("nan")})
    with pytest.raises(FlavorError, match="not JSON-safe: int64"):
        SerializedModel(data=b"x", flavor="onnx", options={"n": np.int64(3)})
    with pytest.raises(FlavorError, match="unknown flavor 'pickle'"):
        SerializedModel(data=b"x", flavor="pickle")


def test_serialized_model_keeps_its_own_plain_copy_of_the_options() -> None:
    options = {"classes": (0, 1)}
    serialized = SerializedModel(data=b"x", flavor="onnx", options=options)
    options["classes"] = (5, 6)
    assert serialized.options == {"classes": [0, 1]}


def test_class_labels_keep_their_dtype() -> None:
    for labels in (np.array([0, 1, 2]), np.array(["no", "yes"]), np.array([False, True])):
        options = labels_to_options(labels)
        restored = labels_from_options(options)
        assert restored is not None
        assert restored.dtype == labels.dtype
        np.testing.assert_array_equal(restored, labels)
    assert labels_to_options(None) == {}
    assert labels_from_options({}) is None


def test_as_table_accepts_the_supported_inputs_only() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", None]})
    assert as_table(frame) is frame
    converted = as_table(pl.from_pandas(frame))
    assert list(converted.columns) == ["a", "b"]
    assert converted["b"].isna().tolist() == [False, True]
    assert list(as_table(pl.from_pandas(frame).to_arrow()).columns) == ["a", "b"]
    with pytest.raises(InputError, match="expected a 2-D array"):
        as_table(np.zeros(3))
    with pytest.raises(InputError, match="unsupported input of type builtins.dict"):
        as_table({"a": [1]})


def test_model_file_errors_name_the_file(tmp_path) -> None:
    with pytest.raises(InputError, match="model file not found: .*nope.onnx"):
        get_flavor("sklearn").from_file(tmp_path / "nope.onnx")
    empty = tmp_path / "empty.skops"
    empty.write_bytes(b"")
    with pytest.raises(FlavorError, match="empty.skops is empty"):
        get_flavor("sklearn").from_file(empty)
