"""scikit-learn flavor: skops round trips, byte-stable dumps, and refusing unsafe files."""

from __future__ import annotations

import copy
import io
import os
import pickle
import zipfile

import numpy as np
import pandas as pd
import polars as pl
import pytest
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

from govml.checks.security.pickle_scan import classify_import
from govml.errors import FlavorError, InputError, UnsafeArtifactError
from govml.flavors import flavor_for, get_flavor
from govml.flavors.sklearn import TRUSTED_TYPES, SklearnFlavor

TRIPWIRE_CALLS: list[str] = []


class Tripwire:
    """Records any attempt to rebuild it; loading an untrusted artifact must not."""

    def __init__(self) -> None:
        self.armed = True

    def __setstate__(self, state: dict[str, object]) -> None:
        TRIPWIRE_CALLS.append("setstate")
        self.__dict__.update(state)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        # What a malicious pickle does: run a callable while being loaded.
        return (TRIPWIRE_CALLS.append, ("unpickled",))

    def fit(self, X: object, y: object = None) -> Tripwire:
        return self

    def transform(self, X: object) -> object:
        return X


@pytest.fixture(autouse=True)
def _reset_tripwire() -> None:
    TRIPWIRE_CALLS.clear()


@pytest.fixture(scope="module")
def frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 120
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": rng.normal(50_000, 12_000, n),
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "segment": pd.Categorical(rng.choice(["a", "b"], n)),
        }
    )
    y = np.where(X["age"] + rng.normal(0, 10, n) > 45, "accept", "reject")
    return X, y


@pytest.fixture(scope="module")
def pipeline(frame: tuple[pd.DataFrame, np.ndarray]) -> Pipeline:
    X, y = frame
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), ["age", "income"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "segment"]),
        ]
    )
    return Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))]).fit(X, y)


def test_pipeline_round_trip_matches_the_original(frame, pipeline) -> None:
    X, _ = frame
    flavor = flavor_for(pipeline)
    serialized = flavor.dump(pipeline)
    loaded = flavor.load(serialized.data, serialized.options)

    assert flavor.name == serialized.flavor == "sklearn"
    np.testing.assert_array_equal(loaded.predict(X), pipeline.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), pipeline.predict_proba(X), atol=1e-6)
    np.testing.assert_array_equal(loaded.classes, ["accept", "reject"])
    assert loaded.has_proba
    assert serialized.options["estimator"] == "sklearn.pipeline.Pipeline"
    assert serialized.options["classes"] == ["accept", "reject"]
    assert serialized.options["trusted"] == []


def test_polars_and_arrow_inputs_give_the_same_predictions(frame, pipeline) -> None:
    X, _ = frame
    serialized = get_flavor("sklearn").dump(pipeline)
    loaded = get_flavor("sklearn").load(serialized.data, serialized.options)
    expected = pipeline.predict_proba(X)
    as_polars = pl.from_pandas(X)
    np.testing.assert_allclose(loaded.predict_proba(as_polars), expected, atol=1e-12)
    np.testing.assert_allclose(loaded.predict_proba(as_polars.to_arrow()), expected, atol=1e-12)


def test_dumps_are_byte_stable(pipeline) -> None:
    flavor = get_flavor("sklearn")
    first = flavor.dump(pipeline).data
    # A plain skops dump differs every time (object ids, timestamps); ours must not.
    assert sio.dumps(pipeline) != sio.dumps(pipeline)
    assert flavor.dump(pipeline).data == first
    assert flavor.dump(copy.deepcopy(pipeline)).data == first
    reloaded = flavor.load(first, flavor.dump(pipeline).options).raw
    assert flavor.dump(reloaded).data == first


def test_regressor_has_no_predict_proba(frame) -> None:
    X, _ = frame
    model = LinearRegression().fit(X[["age"]], X["income"])
    serialized = get_flavor("sklearn").dump(model)
    loaded = get_flavor("sklearn").load(serialized.data, serialized.options)
    np.testing.assert_array_equal(loaded.predict(X[["age"]]), model.predict(X[["age"]]))
    assert not loaded.has_proba
    assert loaded.classes is None
    with pytest.raises(
        FlavorError, match=r"model sklearn\..*LinearRegression has no predict_proba"
    ):
        loaded.predict_proba(X[["age"]])


@pytest.mark.parametrize(
    "estimator",
    [
        HistGradientBoostingClassifier(max_iter=5),
        RandomForestClassifier(n_estimators=3, random_state=0),
        DecisionTreeClassifier(max_depth=3),
        KNeighborsClassifier(n_neighbors=3),
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0),
    ],
    ids=lambda est: type(est).__name__,
)
def test_ordinary_estimators_load_without_extra_trust(frame, estimator) -> None:
    X, y = frame
    numeric = X[["age", "income"]].to_numpy()
    model = copy.deepcopy(estimator)
    with np.errstate(all="ignore"):
        model.fit(numeric, y)
    serialized = get_flavor("sklearn").dump(model)
    assert serialized.options["trusted"] == []
    loaded = get_flavor("sklearn").load(serialized.data, serialized.options)
    np.testing.assert_array_equal(loaded.predict(numeric), model.predict(numeric))


def test_a_function_transformer_calling_os_system_is_refused() -> None:
    model = Pipeline([("shell", FunctionTransformer(os.system)), ("clf", LogisticRegression())])
    # Built by hand rather than fitted: the point is what the file would import.
    data = sio.dumps(model)
    with pytest.raises(UnsafeArtifactError, match=r"not trusted: .*\.system") as caught:
        get_flavor("sklearn").load(data, {})
    # os.system can run code: no setting allows it, and the message says so.
    assert "cannot be trusted by any setting" in caught.value.diagnostics()


def test_a_custom_class_is_refused_without_being_built() -> None:
    data = sio.dumps(Pipeline([("wire", Tripwire())]))
    with pytest.raises(UnsafeArtifactError, match=r"Tripwire"):
        get_flavor("sklearn").load(data, {})
    assert TRIPWIRE_CALLS == []


def test_dump_records_extra_types_that_only_the_loader_may_trust() -> None:
    model = Pipeline([("wire", Tripwire()), ("clf", LogisticRegression())])
    model.fit(np.array([[0.0], [1.0], [0.2], [0.9]]), [0, 1, 0, 1])
    name = f"{Tripwire.__module__}.Tripwire"
    serialized = get_flavor("sklearn").dump(model)
    assert serialized.options["trusted"] == [name]
    calls = len(TRIPWIRE_CALLS)
    # What the options record grants nothing: a default loader refuses, building nothing.
    with pytest.raises(UnsafeArtifactError, match="Tripwire") as caught:
        get_flavor("sklearn").load(serialized.data, serialized.options)
    assert "GOVML_TRUSTED_TYPES" in caught.value.diagnostics()
    assert len(TRIPWIRE_CALLS) == calls
    loaded = SklearnFlavor(trusted=[name]).load(serialized.data, serialized.options)
    np.testing.assert_array_equal(loaded.predict(np.array([[0.0], [1.0]])), [0, 1])


def test_types_that_run_code_cannot_be_trusted() -> None:
    for name in ("builtins.eval", "os.system", "subprocess.Popen", "numpy.load"):
        with pytest.raises(InputError, match="cannot be trusted"):
            SklearnFlavor(trusted=[name])
    with pytest.raises(InputError, match="not a dotted type name"):
        SklearnFlavor(trusted=["sklearn.*"])


def test_a_plain_pickle_is_refused_and_not_unpickled(tmp_path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"model": Tripwire()}))
    with pytest.raises(UnsafeArtifactError, match="pickle/joblib file, not a skops file"):
        get_flavor("sklearn").from_file(path)
    with pytest.raises(UnsafeArtifactError, match="pickle"):
        get_flavor("sklearn").load(path.read_bytes(), {})
    assert TRIPWIRE_CALLS == []


def test_a_compressed_joblib_file_is_refused(tmp_path) -> None:
    import joblib

    path = tmp_path / "model.joblib"
    joblib.dump(LogisticRegression(), path, compress=3)
    with pytest.raises(UnsafeArtifactError, match="pickle/joblib"):
        get_flavor("sklearn").from_file(path)


@pytest.mark.parametrize(
    "damage",
    ["truncated", "garbage", "empty-zip", "flipped-byte"],
)
def test_corrupted_bytes_raise_flavor_error(pipeline, damage) -> None:
    data = get_flavor("sklearn").dump(pipeline).data
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "garbage":
        data = b"this is not a model at all"
    elif damage == "empty-zip":
        buffer = io.BytesIO()
        zipfile.ZipFile(buffer, "w").close()
        data = b"PK\x03\x04" + buffer.getvalue()
    else:
        position = data.index(b"sklearn.pipeline") + 3
        data = data[:position] + b"X" + data[position + 1 :]
    with pytest.raises(FlavorError, match="not a skops file"):
        get_flavor("sklearn").load(data, {})


def test_from_file_keeps_the_users_bytes(tmp_path, frame, pipeline) -> None:
    X, _ = frame
    path = tmp_path / "model.skops"
    sio.dump(pipeline, path)
    serialized = get_flavor("sklearn").from_file(path)
    assert serialized.data == path.read_bytes()
    assert serialized.options["classes"] == ["accept", "reject"]
    loaded = get_flavor("sklearn").load(serialized.data, serialized.options)
    np.testing.assert_array_equal(loaded.predict(X), pipeline.predict(X))


def test_unfitted_estimators_are_refused() -> None:
    with pytest.raises(FlavorError, match="not fitted"):
        get_flavor("sklearn").dump(LogisticRegression())


def test_the_allowlist_holds_no_dangerous_callables() -> None:
    # A guard against widening the allowlist by accident with something dangerous.
    forbidden = ("builtins.eval", "builtins.exec", "posix.system", "os.system", "numpy.load")
    assert not set(forbidden) & TRUSTED_TYPES
    known = {"functools", "numpy", "scipy", "sklearn", "lightgbm", "xgboost", "collections"}
    assert all(name.split(".", 1)[0] in known for name in TRUSTED_TYPES)
    for name in TRUSTED_TYPES:
        module, _, attribute = name.rpartition(".")
        assert classify_import(module, attribute) != "dangerous", name
