"""Custom MLflow ``python_function`` models against a real MLflow tracking server
(`tests.integration.mlflow_server`, one for the whole module): imported only under
``security.serialization: custom_code``, every pickle scanned before anything loads, evaluated
like the model they wrap, and refused at every load once the policy no longer allows them.

The PythonModel classes live in code modules written to a temporary folder and logged with
``code_paths``, as a team ships its wrapper code with the model.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import json
import sys
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from tests.asgi import BASE_URL, in_process
from tests.conftest import datasets_dir
from tests.integration.mlflow_server import (
    explicit_tracking_uri,
    mlflow_server,
    pinned,
    run_cli,
)
from tests.integration.test_evaluate_bad_data import (
    GERMAN_CATEGORICAL,
    GERMAN_NUMERIC,
    _pipeline,
    load_german,
)
from tests.integration.test_lifecycle import Team

import govml
from govml.checks.security import scan_artifact
from govml.checks.security.pyfunc_archive import ArchiveError, read_archive
from govml.errors import UnsafeArtifactError
from govml.flavors.mlflow_pyfunc import MlflowPyfuncFlavor, pack_directory
from govml.integrations import mlflow_bridge as bridge
from govml.server import create_app
from govml.settings import load_settings

mlflow = pytest.importorskip("mlflow")
mlflow_pyfunc = pytest.importorskip("mlflow.pyfunc")
cloudpickle = pytest.importorskip("cloudpickle")

FEATURES = [*GERMAN_NUMERIC, *GERMAN_CATEGORICAL]
TARGET = "default"

WRAPPER = '''\
"""Scores German credit applicants: the probability of each class, one column per class."""

import mlflow.pyfunc
import pandas as pd


class CreditScorer(mlflow.pyfunc.PythonModel):
    def __init__(self, pipeline):
        self.pipeline = pipeline

    def predict(self, context, model_input, params=None):
        proba = self.pipeline.predict_proba(model_input)
        return pd.DataFrame(proba, columns=[str(c) for c in self.pipeline.classes_])
'''

# Labels only: no probabilities.
LABELS = """\
import mlflow.pyfunc


class LabelScorer(mlflow.pyfunc.PythonModel):
    def __init__(self, pipeline):
        self.pipeline = pipeline

    def predict(self, context, model_input, params=None):
        return self.pipeline.predict(model_input)
"""

# Unpickling this object calls os.system, which would write the marker file.
SHELL = """\
import os

import mlflow.pyfunc


class Scorer(mlflow.pyfunc.PythonModel):
    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))

    def predict(self, context, model_input, params=None):
        return model_input.iloc[:, 0]
"""

# Pickled by value (cloudpickle.register_pickle_by_value): the class travels as code objects,
# and its __setstate__ would write the marker file when the model is unpickled.
BY_VALUE = """\
import mlflow.pyfunc


class Scorer(mlflow.pyfunc.PythonModel):
    def __init__(self, marker):
        self.marker = marker

    def __setstate__(self, state):
        open(state["marker"], "w").close()
        self.__dict__.update(state)

    def predict(self, context, model_input, params=None):
        return model_input.iloc[:, 0]
"""

POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {{name: {name}}}
tiers: [high]
performance:
  - {{metric: accuracy, min: 0.0}}
  - {{metric: roc_auc, min: 0.0}}
fairness:
  sensitive: [sex]
  min_group_size: 30
  rules:
    - {{metric: demographic_parity_difference, max: 1.0}}
    - {{metric: equalized_odds_difference, max: 1.0}}
security: {{serialization: {level}}}
approvals: {{required: 2, roles: [approver, risk_officer]}}
"""


@dataclass
class Tracking:
    url: str
    tmp: Path
    pipeline: object
    valid: Path
    train: pd.DataFrame
    wrapper: Path
    marker: Path


def _module(folder: Path, name: str, source: str) -> object:
    path = folder / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(folder))


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tracking]:
    shared = datasets_dir()
    if not (shared / "german-credit" / "german.csv").is_file():
        pytest.skip(f"German credit not found at {shared} (set GOVML_DATASETS)")
    tmp = tmp_path_factory.mktemp("mlflow-pyfunc")
    with mlflow_server(tmp) as url:
        yield _log_models(url, tmp, load_german(shared))


def _log_models(url: str, tmp: Path, frame: pd.DataFrame) -> Tracking:
    """credit-pyfunc v1: a CreditScorer wrapping a fitted pipeline; shell v1: a pickle that
    calls os.system; by-value v1: a class pickled by value whose unpickling writes a file."""
    code = tmp / "code"
    code.mkdir()
    marker = tmp / "marker"
    train, valid = frame.iloc[:700], frame.iloc[700:].reset_index(drop=True)
    pipeline = _pipeline(GERMAN_NUMERIC, GERMAN_CATEGORICAL).fit(train[FEATURES], train[TARGET])
    valid_csv = tmp / "valid.csv"
    valid.to_csv(valid_csv, index=False)
    wrapper = _module(code, "credit_scorer", WRAPPER)
    shell = _module(code, "shell_scorer", SHELL)
    by_value = _module(code, "by_value_scorer", BY_VALUE)
    X = train[FEATURES]
    signature = mlflow.models.infer_signature(X.head(5), X.iloc[:5, :1])
    # Given, not inferred: MLflow infers requirements by loading the model in a subprocess,
    # which would run the unsafe models' code on the logging side.
    requirements = pinned("mlflow-skinny", "scikit-learn", "pandas")
    before = explicit_tracking_uri()
    mlflow.set_tracking_uri(url)
    try:
        mlflow.set_experiment("credit-pyfunc")
        with mlflow.start_run():
            mlflow_pyfunc.log_model(
                name="model",
                python_model=wrapper.CreditScorer(pipeline),  # type: ignore[attr-defined]
                code_paths=[str(code / "credit_scorer.py")],
                input_example=X.head(3),
                pip_requirements=requirements,
                registered_model_name="credit-pyfunc",
            )
        with mlflow.start_run():
            mlflow_pyfunc.log_model(
                name="model",
                python_model=shell.Scorer(f"touch {marker}"),  # type: ignore[attr-defined]
                code_paths=[str(code / "shell_scorer.py")],
                signature=signature,
                pip_requirements=requirements,
                registered_model_name="shell",
            )
        cloudpickle.register_pickle_by_value(by_value)
        try:
            with mlflow.start_run():
                mlflow_pyfunc.log_model(
                    name="model",
                    python_model=by_value.Scorer(str(marker)),  # type: ignore[attr-defined]
                    signature=signature,
                    pip_requirements=requirements,
                    registered_model_name="by-value",
                )
        finally:
            cloudpickle.unregister_pickle_by_value(by_value)
    finally:
        mlflow.set_tracking_uri(before)
    assert not marker.exists(), "logging the models must not run them"
    return Tracking(url, tmp, pipeline, valid_csv, train, code / "credit_scorer.py", marker)


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Team]:
    # The operator's consent that these processes run models' own code (GOVML_CUSTOM_CODE).
    monkeypatch.setenv("GOVML_CUSTOM_CODE", "1")
    home = tmp_path / "home"
    home.mkdir()
    url = f"sqlite:///{home / 'govml.db'}"
    govml.connect(home, database_url=url, user="alice", create=True).close()
    made = Team(url, home, tmp_path)
    apply(made, "scanned_pickle")
    for name in ("credit-pyfunc", "credit-direct", "shell", "by-value"):
        made["bob"].create_model(name, risk_tier="high", description="d", intended_use="u")
    monkeypatch.setenv("GOVML_HOME", str(home))
    monkeypatch.setenv("GOVML_DATABASE_URL", url)
    monkeypatch.delenv("GOVML_SERVER", raising=False)
    yield made
    made.close()


def apply(team: Team, level: str) -> None:
    path = team.tmp / f"policy-{level}.yaml"
    path.write_text(POLICY.format(name=f"gate-{level}", level=level), encoding="utf-8")
    team["alice"].apply_policy(path, replace=True)


def import_under_custom_code(
    tracking: Tracking,
    team: Team,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Put a custom_code policy in force and import credit-pyfunc as bob, with the CLI."""
    apply(team, "custom_code")
    code, _, err = run_cli(capsys, monkeypatch, "bob", *import_args(tracking, "credit-pyfunc"))
    assert code == 0, err


def downloaded_tar(tracking: Tracking, team: Team) -> bytes:
    """The python_function model as MLflow serves it, packed as govml keeps it."""
    with bridge.tracking(tracking.url) as client:
        fetched = bridge.fetch(client, "models:/credit-pyfunc/1", team.tmp / "download")
    return pack_directory(fetched.folder)


@contextmanager
def server_as_bob(team: Team) -> Iterator[httpx.Client]:
    """A client of `govml server` on the team's store (in this process), signed in as bob."""
    app = create_app(load_settings(home=team.home, database_url=team.db_url))
    headers = {"Authorization": f"Bearer {team.tokens['bob']}"}
    with (
        in_process(app) as transport,
        httpx.Client(base_url=BASE_URL, headers=headers, transport=transport, timeout=120) as http,
    ):
        yield http


def import_args(tracking: Tracking, name: str) -> list[str]:
    return ["import", "mlflow", f"models:/{name}/1", "--tracking-uri", tracking.url]


def test_imported_only_under_custom_code_with_its_code_listed(
    tracking: Tracking,
    team: Team,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _, err = run_cli(capsys, monkeypatch, "bob", *import_args(tracking, "credit-pyfunc"))
    assert code == 2, err
    assert "custom python_function model (python_model.pkl)" in err
    assert "says security.serialization: scanned_pickle" in err
    assert "importing it needs security.serialization: custom_code" in err
    assert team["bob"].list_versions("credit-pyfunc") == []

    apply(team, "custom_code")
    code, out, err = run_cli(
        capsys, monkeypatch, "bob", *import_args(tracking, "credit-pyfunc"), "--json"
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["flavor"] == "mlflow_pyfunc"
    assert result["artifact"] == "python_function with its code"
    digest = hashlib.sha256(tracking.wrapper.read_bytes()).hexdigest()
    assert result["mlflow"]["code_files"] == {"code/credit_scorer.py": digest}

    version = team["bob"].get_version("credit-pyfunc@1")
    options = version.flavor_options
    assert options["inputs"] == FEATURES
    assert (options["output"], options["classes"]) == ("probabilities", [0, 1])
    assert options["code_imports"] == ["credit_scorer.CreditScorer"]
    assert options["pickles"] == ["python_model.pkl"]
    assert version.signature is not None  # from the input example MLflow logged
    assert [c["name"] for c in version.signature["inputs"]] == FEATURES

    code, out, err = run_cli(capsys, monkeypatch, "bob", "versions", "show", "credit-pyfunc@1")
    assert code == 0, err
    assert "code/credit_scorer.py" in out and f"sha256:{digest}" in out
    code, out, _ = run_cli(capsys, monkeypatch, "bob", "audit", "log", "--json")
    (imported,) = [e for e in json.loads(out) if e["action"] == "mlflow.imported"]
    assert imported["payload"]["code_files"] == {"code/credit_scorer.py": digest}


def test_evaluate_gives_the_results_of_the_wrapped_model(
    tracking: Tracking,
    team: Team,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import_under_custom_code(tracking, team, capsys, monkeypatch)
    team["bob"].register_version(
        "credit-direct",
        model=tracking.pipeline,
        train_data=tracking.train[[*FEATURES, TARGET]],
        target=TARGET,
    )
    evaluate = ["evaluate", "--data", str(tracking.valid), "--target", TARGET, "--n-boot", "100"]
    code, out, err = run_cli(capsys, monkeypatch, "bob", *evaluate, "credit-pyfunc@1", "--json")
    assert code == 0, err
    wrapped = {c["check"]: c for c in json.loads(out)["checks"]}
    direct = {
        c["check"]: c
        for c in team["bob"]
        .evaluate(
            "credit-direct@1", data=str(tracking.valid), target=TARGET, n_boot=100, random_state=0
        )
        .checks
    }
    assert wrapped["serialization"]["status"] == "pass"
    assert wrapped["serialization"]["value"] == "mlflow_pyfunc"
    compared = [
        name for name, check in direct.items() if check["category"] in ("performance", "fairness")
    ]
    assert {"accuracy", "roc_auc"} <= set(compared) and len(compared) >= 4
    for name in compared:
        assert wrapped[name]["status"] == direct[name]["status"], name
        for key in ("value", "interval"):
            theirs = direct[name].get(key)
            if isinstance(theirs, float | list):
                assert wrapped[name][key] == pytest.approx(theirs, abs=1e-12), (name, key)
            else:
                assert wrapped[name][key] == theirs, (name, key)

    loaded = team["bob"].load_model("credit-pyfunc@1")
    X = pd.read_csv(tracking.valid)[FEATURES]
    np.testing.assert_allclose(loaded.predict_proba(X), tracking.pipeline.predict_proba(X))  # type: ignore[attr-defined]
    np.testing.assert_array_equal(loaded.predict(X), tracking.pipeline.predict(X))  # type: ignore[attr-defined]


def test_a_labels_only_model_registered_from_its_tar_has_no_scores(
    tracking: Tracking,
    team: Team,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scorer = _module(team.tmp, "label_scorer", LABELS)
    X = pd.read_csv(tracking.valid)[FEATURES]
    labels = tracking.pipeline.predict(X)  # type: ignore[attr-defined]
    folder = team.tmp / "labels-model"
    mlflow_pyfunc.save_model(
        str(folder),
        python_model=scorer.LabelScorer(tracking.pipeline),  # type: ignore[attr-defined]
        code_paths=[str(team.tmp / "label_scorer.py")],
        signature=mlflow.models.infer_signature(X.head(5), labels[:5]),
        pip_requirements=["scikit-learn"],
    )
    tar = team.tmp / "labels.tar"
    tar.write_bytes(pack_directory(folder))
    apply(team, "custom_code")
    register = ["versions", "register", "credit-pyfunc", "--artifact", str(tar)]
    code, _, err = run_cli(capsys, monkeypatch, "bob", *register, "--flavor", "mlflow_pyfunc")
    assert code == 0, err
    options = team["bob"].get_version("credit-pyfunc@1").flavor_options
    assert (options["output"], options["task"]) == ("labels", "classification")
    loaded = team["bob"].load_model("credit-pyfunc@1")
    assert not loaded.has_proba
    np.testing.assert_array_equal(loaded.predict(X), labels)

    evaluation = team["bob"].evaluate(
        "credit-pyfunc@1", data=str(tracking.valid), target=TARGET, n_boot=100
    )
    checks = {c["check"]: c for c in evaluation.checks}
    assert checks["accuracy"]["value"] == pytest.approx(
        float(np.mean(labels == pd.read_csv(tracking.valid)[TARGET]))
    )
    assert checks["roc_auc"]["status"] == "undefined"
    assert checks["roc_auc"]["reason"]


def test_the_gateway_serves_it_with_the_wrapped_models_answers(
    tracking: Tracking,
    team: Team,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Imported here: the gateway's modules are not needed by the other cases.
    from govml.serving import GatewayOptions, create_app
    from govml.serving.source import ClientSource

    import_under_custom_code(tracking, team, capsys, monkeypatch)
    ref = "credit-pyfunc@1"
    evaluation = team["bob"].evaluate(ref, data=str(tracking.valid), target=TARGET, n_boot=100)
    assert evaluation.status in ("pass", "warn"), evaluation.checks
    team.approve_twice(ref)
    team["frank"].promote(ref, to="staging")
    team["frank"].promote(ref, to="production")
    key = team["frank"].issue_gateway_key("credit-pyfunc", scopes=["predict"]).secret
    options = GatewayOptions(
        model="credit-pyfunc", log_dir=team.tmp / "gateway-log", poll_seconds=0.1
    )
    rows = pd.read_csv(tracking.valid)[FEATURES].head(5)
    with (
        govml.connect(team.home, database_url=team.db_url, user="gateway") as client,
        in_process(create_app(options, ClientSource(client))) as transport,
        httpx.Client(
            base_url=BASE_URL,
            transport=transport,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
        ) as http,
    ):
        answer = http.post("/predict", json=rows.to_dict(orient="records"))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["classes"] == [0, 1]
    np.testing.assert_allclose(
        body["probabilities"],
        tracking.pipeline.predict_proba(rows),  # type: ignore[attr-defined]
    )
    assert body["predictions"] == tracking.pipeline.predict(rows).tolist()  # type: ignore[attr-defined]


def test_pickles_that_run_code_are_refused_before_anything_loads(
    tracking: Tracking,
    team: Team,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    apply(team, "custom_code")
    for name, finding in [("shell", "posix.system"), ("by-value", "cloudpickle.cloudpickle")]:
        code, _, err = run_cli(capsys, monkeypatch, "bob", *import_args(tracking, name))
        assert code != 0 and "the scan refused the MLflow python_function model" in err, err
        assert f"imports a dangerous callable: {finding}" in err, err
        assert "in python_model.pkl" in err
        assert team["bob"].list_versions(name) == []
    assert not tracking.marker.exists()


def test_a_later_policy_without_custom_code_refuses_every_load(
    tracking: Tracking,
    team: Team,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import_under_custom_code(tracking, team, capsys, monkeypatch)
    assert team["bob"].load_model("credit-pyfunc@1").has_proba

    apply(team, "scanned_pickle")
    with pytest.raises(UnsafeArtifactError) as refused:
        team["bob"].load_model("credit-pyfunc@1")
    assert refused.value.message == (
        "credit-pyfunc is an MLflow python_function model, which runs the code it ships with; "
        "policy 'gate-scanned_pickle' (security.serialization: scanned_pickle) is in force for "
        "risk tier 'high', and loading it needs security.serialization: custom_code"
    )
    evaluation = team["bob"].evaluate(
        "credit-pyfunc@1", data=str(tracking.valid), target=TARGET, n_boot=20
    )
    assert evaluation.status == "fail"
    (check,) = [c for c in evaluation.checks if c["check"] == "serialization"]
    assert check["status"] == "fail"
    assert "allows it only under security.serialization: custom_code" in check["message"]

    # A policy file saying custom_code does not override the policy in force.
    custom = team.tmp / "policy-custom_code.yaml"
    evaluation = team["bob"].evaluate(
        "credit-pyfunc@1", data=str(tracking.valid), target=TARGET, n_boot=20, policy=custom
    )
    (check,) = [c for c in evaluation.checks if c["check"] == "serialization"]
    assert check["status"] == "fail"
    assert "loading it needs security.serialization: custom_code" in check["message"]


def test_without_the_operators_consent_no_process_runs_the_models_code(
    tracking: Tracking,
    team: Team,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import_under_custom_code(tracking, team, capsys, monkeypatch)
    monkeypatch.delenv("GOVML_CUSTOM_CODE")
    with govml.connect(team.home, database_url=team.db_url, user="bob") as bob:
        with pytest.raises(UnsafeArtifactError) as refused:
            bob.load_model("credit-pyfunc@1")
        assert refused.value.message == (
            "credit-pyfunc is an MLflow python_function model, which runs the code it ships "
            "with; policy 'gate-custom_code' allows that, but this process may not run models' "
            "own code (GOVML_CUSTOM_CODE is not set)"
        )
        evaluation = bob.evaluate(
            "credit-pyfunc@1", data=str(tracking.valid), target=TARGET, n_boot=20
        )
        (check,) = [c for c in evaluation.checks if c["check"] == "serialization"]
        assert check["status"] == "fail"
        assert "GOVML_CUSTOM_CODE is not set" in check["message"]
    # A server without it does not register an uploaded python_function model either.
    form = {"flavor": "mlflow_pyfunc"}
    files = {"artifact": ("model.tar", downloaded_tar(tracking, team), "application/x-tar")}
    with server_as_bob(team) as http:
        refused_upload = http.post("/api/v1/models/credit-pyfunc/versions", data=form, files=files)
        assert 400 <= refused_upload.status_code < 500, refused_upload.text
        assert "GOVML_CUSTOM_CODE is not set" in refused_upload.json()["error"]["message"]
    assert [v.version for v in team["bob"].list_versions("credit-pyfunc")] == [1]


def test_an_upload_claiming_the_flavor_is_judged_by_the_server(
    tracking: Tracking, team: Team
) -> None:
    claimed = {"output": "labels", "code_files": {}, "trusted": ["os.system"]}
    form = {"flavor": "mlflow_pyfunc", "flavor_options": json.dumps(claimed)}
    files = {"artifact": ("model.tar", downloaded_tar(tracking, team), "application/x-tar")}
    with server_as_bob(team) as http:
        refused = http.post("/api/v1/models/credit-pyfunc/versions", data=form, files=files)
        assert 400 <= refused.status_code < 500, refused.text
        message = refused.json()["error"]["message"]
        assert "loading it needs security.serialization: custom_code" in message
        assert team["bob"].list_versions("credit-pyfunc") == []

        apply(team, "custom_code")
        answer = http.post("/api/v1/models/credit-pyfunc/versions", data=form, files=files)
        assert answer.status_code == 201, answer.text
    options = team["bob"].get_version("credit-pyfunc@1").flavor_options
    digest = hashlib.sha256(tracking.wrapper.read_bytes()).hexdigest()
    assert options["code_files"] == {"code/credit_scorer.py": digest}
    assert (options["output"], options["classes"]) == ("probabilities", [0, 1])
    assert "trusted" not in options


# -- the archive itself (no server) ----------------------------------------------------------


def _tar(members: list[tarfile.TarInfo], data: bytes = b"x") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:") as archive:
        for info in members:
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, link, 1 if kind == tarfile.REGTYPE else 0
    return info


@pytest.mark.parametrize(
    ("member", "needle"),
    [
        (_member("../evil.py"), "leaves the model's directory"),
        (_member("code/../../evil.py"), "leaves the model's directory"),
        (_member("/etc/evil.py"), "absolute"),
        (_member("code/link.py", tarfile.SYMTYPE, "/etc/passwd"), "is a link"),
        (_member("code/hard.py", tarfile.LNKTYPE, "MLmodel"), "is a link"),
        (_member("dev", tarfile.CHRTYPE), "not a regular file"),
    ],
)
def test_unsafe_archive_members_are_refused(member: tarfile.TarInfo, needle: str) -> None:
    data = _tar([_member("MLmodel"), member])
    with pytest.raises(ArchiveError, match=needle):
        read_archive(data)
    result = scan_artifact("mlflow_pyfunc", data, serialization="custom_code")
    assert result.status == "fail" and needle in result.message


def test_the_archive_is_deterministic_and_judged_by_level(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "code").mkdir(parents=True)
    (folder / "MLmodel").write_text(
        "flavors:\n  python_function:\n    loader_module: mlflow.pyfunc.model\n"
        "    python_model: python_model.pkl\n    code: code\n"
        'signature:\n  inputs: \'[{"type": "double", "name": "x"}]\'\n'
        '  outputs: \'[{"type": "long", "name": "y"}]\'\n',
        encoding="utf-8",
    )
    (folder / "code" / "scorer.py").write_text("class Scorer: pass\n", encoding="utf-8")
    # A pickle importing the model's own class and numpy only (written without importing it).
    (folder / "python_model.pkl").write_bytes(b"cscorer\nScorer\n)\x81.")
    data = pack_directory(folder)
    assert data == pack_directory(folder)
    options = MlflowPyfuncFlavor().from_bytes(data).options
    assert options["code_imports"] == ["scorer.Scorer"]
    assert (options["output"], options["task"]) == ("labels", "classification")
    for level, status in [
        ("safe_only", "fail"),
        ("scanned_pickle", "fail"),
        ("custom_code", "pass"),
    ]:
        assert scan_artifact("mlflow_pyfunc", data, serialization=level).status == status
    with pytest.raises(UnsafeArtifactError, match="custom_code"):
        MlflowPyfuncFlavor().load(data, options)

    # Code named like an installed module would replace it in the loading process.
    (folder / "code" / "numpy.py").write_text("", encoding="utf-8")
    result = scan_artifact("mlflow_pyfunc", pack_directory(folder), serialization="custom_code")
    assert result.status == "fail" and "installed module 'numpy'" in result.message

    # The loader reads only what the archive holds.
    (folder / "code" / "numpy.py").unlink()
    (folder / "python_model.pkl").unlink()
    result = scan_artifact("mlflow_pyfunc", pack_directory(folder), serialization="custom_code")
    assert result.status == "fail"
    assert "names 'python_model.pkl' for its loader, which the archive does not hold" in (
        result.message
    )
