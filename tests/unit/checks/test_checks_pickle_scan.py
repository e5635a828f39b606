"""The pickle scan finds malicious imports without ever running them."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import pickle
import zipfile
import zlib
from collections import OrderedDict
from pathlib import Path

import joblib
import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression

from govml.checks import scan_artifact, scan_pickle
from govml.checks.security import classify_import, inspect_pickle
from govml.errors import InputError
from govml.flavors import flavor_for


class Payload:
    """Unpickling this runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


class Harmless:
    """A user class: not on the allow list, so reported as unknown."""

    def __init__(self) -> None:
        self.x = 1


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "pwned"


def _dangerous(findings: list) -> set[tuple[str | None, str | None]]:
    return {(f.module, f.name) for f in findings if f.kind == "dangerous"}


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_os_system_is_found_at_every_protocol_and_never_run(marker: Path, protocol: int) -> None:
    data = pickle.dumps(Payload(marker), protocol=protocol)
    findings = scan_pickle(data)
    assert _dangerous(findings) == {(os.system.__module__, "system")}
    assert not marker.exists()


def test_inst_opcode_and_memoised_stack_global_names_are_resolved() -> None:
    inst = b"(S'touch x'\nios\nsystem\n."  # protocol 0: INST module name
    assert _dangerous(scan_pickle(inst)) == {("os", "system")}
    # Protocol 4 with the module and name strings fetched from the memo (BINGET), as a
    # pickler writes a global it has seen before.
    memoised = (
        b"\x80\x04\x8c\x02os\x94\x8c\x06system\x94" + b"00"  # push, memoise, pop both
        b"h\x00h\x01\x93"  # BINGET 0, BINGET 1, STACK_GLOBAL
        b"\x8c\x04echo\x85R."  # ("echo",), REDUCE, STOP
    )
    assert _dangerous(scan_pickle(memoised)) == {("os", "system")}


def test_a_name_computed_at_load_time_is_never_assumed_safe() -> None:
    # STACK_GLOBAL whose module string is the result of a call: cannot be resolved.
    computed = b"\x80\x04\x8c\x08builtins\x8c\x03str\x93\x8c\x02os\x85R\x8c\x06system\x93."
    findings = scan_pickle(computed)
    assert any(f.kind == "unknown" and "computed" in f.message for f in findings)


def test_getattr_gadget_is_dangerous() -> None:
    data = b"\x80\x04\x8c\x08builtins\x8c\x07getattr\x93."
    assert _dangerous(scan_pickle(data)) == {("builtins", "getattr")}


def test_ordinary_model_and_data_pickles_have_no_findings() -> None:
    model = LogisticRegression().fit(np.random.default_rng(0).normal(size=(30, 3)), [0, 1] * 15)
    for obj in (model, {"a": [1, 2.0, None], "b": (b"x", {1, 2})}, OrderedDict(a=np.arange(3))):
        scan = inspect_pickle(pickle.dumps(obj, protocol=4))
        assert scan.findings == () and all(i.classification == "safe" for i in scan.imports)


def test_a_user_class_is_unknown() -> None:
    findings = scan_pickle(pickle.dumps(Harmless()))
    assert [(f.kind, f.name) for f in findings] == [("unknown", "Harmless")]


@pytest.mark.parametrize(
    ("module", "name", "expected"),
    [
        ("os", "system", "dangerous"),
        ("posix", "system", "dangerous"),
        ("subprocess", "Popen", "dangerous"),
        ("__builtin__", "eval", "dangerous"),
        ("builtins", "exec", "dangerous"),
        ("builtins", "set", "safe"),
        ("socket", "create_connection", "dangerous"),
        ("importlib", "import_module", "dangerous"),
        ("pickle", "loads", "dangerous"),
        ("numpy", "load", "dangerous"),
        ("numpy.lib.npyio", "load", "dangerous"),
        ("numpy._core.multiarray", "_reconstruct", "safe"),
        ("numpy", "loadtxt", "dangerous"),
        ("pandas", "read_csv", "dangerous"),
        ("pandas.core.frame", "DataFrame", "safe"),
        ("sklearn.tree._classes", "DecisionTreeClassifier", "safe"),
        ("collections", "OrderedDict", "safe"),
        ("copy_reg", "_reconstructor", "safe"),
        ("torch._utils", "_rebuild_tensor_v2", "safe"),
        ("torch", "FloatStorage", "safe"),
        ("mypackage.models", "Custom", "unknown"),
        ("webbrowser", "open", "dangerous"),
    ],
)
def test_classification(module: str, name: str, expected: str) -> None:
    assert classify_import(module, name) == expected


@pytest.mark.parametrize(
    "data",
    [b"", b"\x80\x04", b"garbage that is not a pickle", b"\x80\x05\x95\xff\xff\xff\xff"],
)
def test_unparseable_bytes_are_a_finding_not_a_crash(data: bytes) -> None:
    findings = scan_pickle(data)
    assert findings and all(f.kind == "invalid" for f in findings)


def test_a_truncated_pickle_keeps_what_was_read_before_the_cut(marker: Path) -> None:
    data = pickle.dumps([Payload(marker)], protocol=4)
    findings = scan_pickle(data[: len(data) - 3])
    assert {f.kind for f in findings} == {"dangerous", "invalid"}


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200), st.integers(0, 199), st.integers(0, 255))
def test_random_and_mutated_bytes_never_raise(noise: bytes, where: int, byte: int) -> None:
    scan_pickle(noise)
    valid = bytearray(pickle.dumps({"k": [1, "two", 3.0]}, protocol=4))
    valid[where % len(valid)] = byte
    scan_pickle(bytes(valid))


def test_torch_style_zip_members_and_nested_archives_are_scanned(marker: Path) -> None:
    evil = pickle.dumps(Payload(marker), protocol=2)
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("archive/data.pkl", evil)
        archive.writestr("archive/data/0", b"\x00" * 16)  # raw tensor bytes: not a pickle
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w") as archive:
        archive.writestr("model.pt", inner.getvalue())
        archive.writestr("readme.txt", b"hello")
    for data, member in (
        (inner.getvalue(), "archive/data.pkl"),
        (outer.getvalue(), "model.pt!archive/data.pkl"),
    ):
        findings = scan_pickle(data)
        assert [(f.kind, f.member) for f in findings] == [("dangerous", member)]
    assert not marker.exists()


def test_object_arrays_in_npy_members_are_scanned(marker: Path) -> None:
    array = io.BytesIO()
    np.save(array, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    plain = io.BytesIO()
    np.save(plain, np.arange(5))
    archive_bytes = io.BytesIO()
    with zipfile.ZipFile(archive_bytes, "w") as archive:
        archive.writestr("weights.npy", plain.getvalue())
        archive.writestr("objects.npy", array.getvalue())
    findings = scan_pickle(archive_bytes.getvalue())
    assert [(f.kind, f.member) for f in findings] == [("dangerous", "objects.npy")]


@pytest.mark.parametrize(
    "compress",
    [gzip.compress, zlib.compress, bz2.compress, lzma.compress],
    ids=["gzip", "zlib", "bz2", "xz"],
)
def test_compressed_pickles_are_opened(marker: Path, compress: object) -> None:
    data = compress(pickle.dumps(Payload(marker), protocol=4))
    assert _dangerous(scan_pickle(data)) == {(os.system.__module__, "system")}


def test_joblib_files(tmp_path: Path, marker: Path) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump({"payload": Payload(marker)}, path, compress=3)
    assert _dangerous(scan_pickle(path.read_bytes())) == {(os.system.__module__, "system")}
    # Raw numpy bytes inside an uncompressed joblib stream stop the walk: reported, fails closed.
    joblib.dump({"weights": np.arange(10.0)}, path)
    assert [f.kind for f in scan_pickle(path.read_bytes())] == ["invalid"]
    assert not marker.exists()


@pytest.fixture(scope="module")
def fitted() -> dict[str, object]:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), np.arange(40) % 2
    return {
        "sklearn": LogisticRegression().fit(x, y),
        "xgboost": xgb.XGBClassifier(n_estimators=3).fit(x, y),
        "lightgbm": lgb.LGBMClassifier(n_estimators=3, verbose=-1).fit(x, y),
    }


def test_native_formats_are_safe(fitted: dict[str, object]) -> None:
    for name, model in fitted.items():
        serialized = flavor_for(model).dump(model)
        result = scan_artifact(serialized.flavor, serialized.data)
        assert result.status == "pass", (name, result.message)
        assert result.value == ("skops" if name == "sklearn" else "native")


def test_pickles_fail_under_safe_only_and_are_judged_by_imports_otherwise(
    fitted: dict[str, object], marker: Path
) -> None:
    model_pickle = pickle.dumps(fitted["sklearn"])
    safe_only = scan_artifact("sklearn", model_pickle)
    assert (safe_only.status, safe_only.value) == ("fail", "pickle")
    assert "safe formats only" in safe_only.message
    assert scan_artifact("sklearn", model_pickle, serialization="scanned_pickle").status == "pass"
    unknown = scan_artifact("sklearn", pickle.dumps(Harmless()), serialization="scanned_pickle")
    assert unknown.status == "warn"
    for protocol in (0, 1, 5):  # protocols 0 and 1 have no magic bytes
        evil = scan_artifact(
            "sklearn",
            pickle.dumps(Payload(marker), protocol=protocol),
            serialization="scanned_pickle",
        )
        assert evil.status == "fail" and evil.evidence["imports"]["dangerous"] == 1
    assert not marker.exists()


def test_artifact_edge_cases() -> None:
    assert scan_artifact("onnx", b"").status == "fail"
    lz4_like = scan_artifact(
        "sklearn", b"\x04\x22\x4d\x18" + b"\x00" * 20, serialization="scanned_pickle"
    )
    assert lz4_like.status == "fail" and "lz4" in lz4_like.message
    with pytest.raises(InputError, match="unknown serialization rule") as caught:
        scan_artifact("sklearn", b"x", serialization="safe")
    assert caught.value.hint == "did you mean 'safe_only'?"
