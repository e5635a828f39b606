"""Hostile model artifacts, attacked for real: what a model may import is the operator's call.

The payload is the attack on the registry: a skops pipeline whose steps flatten the input,
join it into one string and ``eval`` it, sent with flavor options that claim ``trusted`` for
those steps. The code it carries writes a marker file; the marker must never appear.

- REST (uvicorn on loopback, SQLite and PostgreSQL): the upload is refused (422, every type
  named, no server folder named), nothing is stored, nothing runs. Only the server's
  ``GOVML_TRUSTED_TYPES`` lets a reviewed type in, and the version records who allowed it.
- SDK: a local registrant's trust is explicit and recorded; a remote client cannot grant any;
  names that run code cannot be trusted by anyone.
- A version stored with a ``trusted`` list (as registered before the list stopped granting
  trust) is refused by ``load_model``, by ``govml evaluate`` (locally and over REST) and by
  ``govml serve``; the policy's ``security.serialization`` fails versions that rely on extra
  types.
- ``govml audit verify`` re-hashes artifacts; a registration killed mid-way leaves nothing of
  the upload in the temporary folder.
"""

from __future__ import annotations

import builtins
import importlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import skops.io as sio
import sqlalchemy as sa
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

import govml
from govml.cli.main import invoke
from govml.domain.records import ModelVersion
from govml.errors import InputError, IntegrityError, UnsafeArtifactError
from govml.flavors import SerializedModel
from govml.lineage import environment_lineage
from govml.remote import RemoteClient
from govml.server import create_app
from govml.server.background import serving
from govml.services.context import ServiceContext
from govml.services.registry import record_digest, version_subject
from govml.settings import load_settings
from govml.store import records
from govml.store.ledger import NewEntry, append
from govml.store.schema import model_aliases, model_versions

GOVML = str(Path(sys.executable).with_name("govml"))
START_DEADLINE_S = 120.0  # a loaded 2-core machine starts a server in tens of seconds
PAYLOAD_TYPES = ["builtins.eval", "numpy.ravel", "numpy.sum"]
POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {{name: gate, owner: risk@example.com}}
tiers: [minimal]
performance:
  - {{metric: accuracy, min: 0.5}}
security: {{serialization: {mode}}}
"""


class Doubler(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """A harmless transformer of the registrant's own: a type beyond the built-in allowlist."""

    def fit(self, X: Any, y: Any = None) -> Doubler:
        return self

    def transform(self, X: Any) -> Any:
        return np.asarray(X, dtype=float) * 2.0


DOUBLER = f"{Doubler.__module__}.Doubler"


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2))
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": (x[:, 0] > 0).astype("int64")})


def _doubler_model() -> Pipeline:
    frame = _frame()
    return Pipeline([("double", Doubler()), ("clf", LogisticRegression())]).fit(
        frame[["x1", "x2"]], frame["y"]
    )


def payload(marker: Path) -> tuple[bytes, pd.DataFrame]:
    """Return the attack's artifact and an input whose text it evaluates (writing ``marker``)."""
    steps = [
        ("flat", FunctionTransformer(np.ravel)),
        ("join", FunctionTransformer(np.sum)),
        ("run", FunctionTransformer(builtins.eval)),
        ("clf", DummyClassifier().fit(np.zeros((2, 1)), [0, 1])),
    ]
    code = f"__import__('pathlib').Path({str(marker)!r}).write_text('ran')"
    frame = pd.DataFrame({"code": [code], "y": [1]})
    return sio.dumps(Pipeline(steps)), frame


def _parquet(frame: pd.DataFrame) -> bytes:
    out = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), out)
    return out.getvalue()


def test_the_payload_runs_when_its_types_are_trusted(tmp_path: Path) -> None:
    # The attack is live: loaded with its own claimed types trusted, predicting runs it.
    marker = tmp_path / "marker"
    data, frame = payload(marker)
    assert sorted(sio.get_untrusted_types(data=data)) == PAYLOAD_TYPES
    model = sio.loads(data, trusted=PAYLOAD_TYPES)
    with pytest.raises(TypeError):
        model.predict(frame[["code"]])
    assert marker.read_text() == "ran"


# -- REST --------------------------------------------------------------------------------------


class Server:
    """A store with an admin (alice, local) and a contributor (bob), served over HTTP."""

    def __init__(self, url: str, home: Path, local: govml.Client, bob_token: str) -> None:
        self.url, self.home, self.local, self.bob_token = url, home, local, bob_token

    def bob(self) -> RemoteClient:
        return RemoteClient(load_settings(server=self.url, token=self.bob_token))

    def http(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.bob_token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60)


def _team(home: Path, db_url: str) -> str:
    """Create the store with alice (admin), bob (contributor) and model credit; bob's token."""
    with govml.connect(home, database_url=db_url, user="alice") as local:
        local.init()
        token = local.add_user("bob", roles=["contributor"]).token
        local.create_model("credit", risk_tier="minimal", description="d", intended_use="u")
    return token


@contextmanager
def _server(home: Path, db_url: str, token: str, trusted: tuple[str, ...] = ()) -> Iterator[Server]:
    settings = load_settings(home=home, database_url=db_url, trusted_types=list(trusted))
    with serving(create_app(settings)) as url:
        local = govml.connect(home, database_url=db_url, user="alice")
        try:
            yield Server(url, home, local, token)
        finally:
            local.close()


@pytest.fixture
def server(db_url: str, home: Path) -> Iterator[Server]:
    token = _team(home, db_url)
    with _server(home, db_url, token) as made:
        yield made


def test_rest_upload_claiming_trust_is_refused_and_never_runs(
    server: Server, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    data, frame = payload(marker)
    options = {"estimator": "sklearn.pipeline.Pipeline", "trusted": PAYLOAD_TYPES}
    with server.http() as http:
        for form, name in (
            ({"flavor": "sklearn", "flavor_options": json.dumps(options)}, "model"),
            ({}, "payload.skops"),  # the same bytes as a file upload
        ):
            response = http.post(
                "/api/v1/models/credit/versions",
                data=form,
                files={
                    "artifact": (name, data, "application/octet-stream"),
                    "input_example": ("x.parquet", _parquet(frame[["code"]]), "application/x"),
                    "train_data": ("t.parquet", _parquet(frame), "application/x"),
                },
            )
            assert response.status_code == 422, response.text
            error = response.json()["error"]
            assert error["type"] == "UnsafeArtifactError"
            assert (
                f"uploaded artifact {name} contains types that are not trusted"
                in (error["message"])
            )
            for type_name in PAYLOAD_TYPES:
                assert type_name in error["message"]
            assert "builtins.eval can run code and cannot be trusted" in error["message"]
            # The refusal names the upload, never a folder of the server.
            assert str(server.home) not in response.text and tempfile.gettempdir() not in (
                response.text
            )
    assert not marker.exists()
    assert server.local.list_versions("credit") == []
    server.local.verify_ledger()


def test_only_the_operator_setting_lets_a_reviewed_type_in_over_rest(
    db_url: str, home: Path, tmp_path: Path
) -> None:
    model = _doubler_model()
    token = _team(home, db_url)
    with _server(home, db_url, token) as untrusting:
        bob = untrusting.bob()
        with pytest.raises(UnsafeArtifactError, match=DOUBLER) as refused:
            bob.register_version("credit", model=model)
        assert "GOVML_TRUSTED_TYPES" in refused.value.diagnostics()
        # A client cannot grant trust, whatever it sends.
        with pytest.raises(InputError, match="cannot be granted by a client"):
            bob.register_version("credit", model=model, trusted=[DOUBLER])
        assert untrusting.local.list_versions("credit") == []
        bob.close()
    with _server(home, db_url, token, trusted=(DOUBLER,)) as trusting:
        bob = trusting.bob()
        frame = _frame()
        version = bob.register_version("credit", model=model, train_data=frame, target="y")
        assert version.flavor_options["trusted"] == [DOUBLER]
        assert version.flavor_options["trusted_by"] == {DOUBLER: "operator"}
        (entry,) = trusting.local.audit_log(action="version.registered")
        assert entry.payload["trusted"] == [DOUBLER]
        assert entry.payload["trusted_by"] == {DOUBLER: "operator"}
        # This client process does not trust the type: loading here is refused, as anywhere
        # the operator has not allowed it.
        with pytest.raises(UnsafeArtifactError, match=DOUBLER):
            bob.load_model(version.ref)
        assert bob.load_model(version.ref, trusted=[DOUBLER]).predict(frame[["x1", "x2"]]).shape
        bob.close()


# -- SDK and CLI in local mode -------------------------------------------------------------------


def test_local_trust_is_explicit_recorded_and_never_inherited(
    client: govml.Client,
    db_url: str,
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    client.create_model("credit", risk_tier="minimal")
    model = _doubler_model()
    with pytest.raises(UnsafeArtifactError, match=DOUBLER) as refused:
        client.register_version("credit", model=model)
    assert "trusted=[...]" in refused.value.diagnostics()
    version = client.register_version("credit", model=model, trusted=[DOUBLER])
    assert version.flavor_options["trusted"] == [DOUBLER]
    assert version.flavor_options["trusted_by"] == {DOUBLER: "registrant"}
    (entry,) = client.audit_log(action="version.registered")
    assert entry.payload["trusted_by"] == {DOUBLER: "registrant"}
    # What the version records is not a grant: another load needs the trust again.
    with pytest.raises(UnsafeArtifactError, match=DOUBLER):
        client.load_model(version.ref)
    frame = _frame()
    loaded = client.load_model(version.ref, trusted=[DOUBLER])
    assert (loaded.predict(frame[["x1", "x2"]]) == model.predict(frame[["x1", "x2"]])).all()
    for never in ("builtins.eval", "os.system", "posix.system"):
        with pytest.raises(InputError, match="cannot be trusted"):
            client.register_version("credit", model=model, trusted=[never])
    # Bytes with options claiming trust, as a server would receive them, are refused.
    marker = tmp_path / "marker"
    data, attack = payload(marker)
    claimed = SerializedModel(data=data, flavor="sklearn", options={"trusted": PAYLOAD_TYPES})
    with pytest.raises(UnsafeArtifactError, match="builtins.eval"):
        client.register_version("credit", serialized=claimed, input_example=attack[["code"]])
    assert not marker.exists()

    _local_cli(monkeypatch, home, db_url)
    artifact = tmp_path / "model.skops"
    artifact.write_bytes(version_bytes(client, version.ref))
    assert invoke(["versions", "register", "credit", "--artifact", str(artifact)]) == 1
    assert DOUBLER in capsys.readouterr().err
    code = invoke(
        ["versions", "register", "credit", "--artifact", str(artifact), "--trust", DOUBLER]
    )
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    assert invoke(["versions", "show", "credit@2"]) == 0
    assert f"{DOUBLER} (registrant)" in capsys.readouterr().out
    assert invoke(["versions", "show", "credit@2", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["flavor_options"]["trusted_by"] == {DOUBLER: "registrant"}
    client.verify_ledger()


def test_client_mode_cli_refuses_trust(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    artifact = tmp_path / "model.skops"
    artifact.write_bytes(govml.flavors.get_flavor("sklearn").dump(_doubler_model()).data)
    monkeypatch.setenv("GOVML_SERVER", server.url)
    monkeypatch.setenv("GOVML_TOKEN", server.bob_token)
    code = invoke(
        ["versions", "register", "credit", "--artifact", str(artifact), "--trust", DOUBLER]
    )
    assert code == 2
    assert "cannot be granted by a client of a govml server" in capsys.readouterr().err
    code = invoke(["versions", "register", "credit", "--artifact", str(artifact)])
    assert code == 1 and DOUBLER in capsys.readouterr().err
    assert server.local.list_versions("credit") == []


def _local_cli(monkeypatch: pytest.MonkeyPatch, home: Path, db_url: str) -> None:
    monkeypatch.setenv("GOVML_HOME", str(home))
    monkeypatch.setenv("GOVML_DATABASE_URL", db_url)
    monkeypatch.setenv("GOVML_USER", "alice")
    for name in ("GOVML_SERVER", "GOVML_TOKEN", "GOVML_TRUSTED_TYPES"):
        monkeypatch.delenv(name, raising=False)


def version_bytes(client: govml.Client, ref: str) -> bytes:
    version = client.get_version(ref)
    return client.ctx.artifacts.get_bytes(version.artifact_digest)


# -- versions stored with a trusted list ---------------------------------------------------------


def plant_legacy_version(client: govml.Client, name: str, data: bytes) -> ModelVersion:
    """Store the payload as a version whose options claim trust for its types.

    This is what registration stored before the list stopped being a grant: the row and its
    ledger entry are written as the registry writes them, so the store verifies.
    """
    ctx = client.ctx
    digest = ctx.artifacts.put_bytes(data)
    now = ctx.clock()
    with ctx.store.write() as conn:
        mid, number = records.model_id_and_next_version(conn, name)
        version = ModelVersion(
            model=name,
            version=number,
            artifact_digest=digest,
            artifact_size=len(data),
            flavor="sklearn",
            flavor_options={"estimator": "sklearn.pipeline.Pipeline", "trusted": PAYLOAD_TYPES},
            signature={"inputs": [{"name": "code", "type": "string", "nullable": False}]},
            datasets=(),
            code={"git_commit": None, "reason": "registered elsewhere"},
            environment=environment_lineage(),
            params={},
            metrics={},
            registrant="mallory",
            created_at=now,
        )
        records.insert_version(conn, mid=mid, version=version, dataset_digests={})
        payload_ = {
            "model": name,
            "version": number,
            "artifact_digest": digest,
            "flavor": "sklearn",
            "datasets": {},
            "git_commit": None,
            "git_dirty": None,
            "lock_digest": version.environment["lock_digest"],
            "record_digest": record_digest(version.record()),
        }
        entry = NewEntry(
            action="version.registered", subject=version_subject(name, number), payload=payload_
        )
        append(conn, actor="mallory", now=now, entries=[entry])
    return version


def _hold_production(client: govml.Client, version: ModelVersion) -> None:
    # Only the gateway test needs an alias on the planted version: it is written as the
    # lifecycle would hold it, without the gates a payload could never pass.
    with client.ctx.store.write() as conn:
        mid = records.model_id(conn, version.model)
        vid = conn.execute(
            sa.select(model_versions.c.id).where(
                model_versions.c.model_id == mid, model_versions.c.version == version.version
            )
        ).scalar_one()
        conn.execute(
            sa.insert(model_aliases).values(
                model_id=mid,
                alias="production",
                version_id=vid,
                updated_at=client.ctx.clock(),
                updated_by="mallory",
            )
        )


def _policy(tmp_path: Path, mode: str) -> Path:
    path = tmp_path / f"policy-{mode}.yaml"
    path.write_text(POLICY.format(mode=mode), encoding="utf-8")
    return path


def test_a_stored_trust_list_grants_nothing_to_load_or_evaluate(
    server: Server, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    data, frame = payload(marker)
    version = plant_legacy_version(server.local, "credit", data)
    server.local.verify_ledger()
    with pytest.raises(UnsafeArtifactError, match="builtins.eval"):
        server.local.load_model(version.ref)
    evaluations = []
    for mode in ("safe_only", "trusted_types", "scanned_pickle"):
        policy = _policy(tmp_path, mode)
        evaluations.append(
            server.local.evaluate(version.ref, data=frame, target="y", policy=policy)
        )
    bob = server.bob()
    evaluations.append(bob.evaluate(version.ref, data=frame, target="y", policy=policy))
    with pytest.raises(UnsafeArtifactError, match="builtins.eval"):
        bob.load_model(version.ref)
    bob.close()
    assert not marker.exists()
    for evaluation in evaluations:
        scan = evaluation.check("serialization")
        assert scan["status"] == "fail", scan
        assert scan["evidence"]["trusted_types"] == PAYLOAD_TYPES
        assert evaluation.status == "fail"


def test_govml_serve_refuses_a_stored_trust_list(db_url: str, home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    data, frame = payload(marker)
    with govml.connect(home, database_url=db_url, user="alice") as local:
        local.init()
        local.create_model("credit", risk_tier="minimal")
        _hold_production(local, plant_legacy_version(local, "credit", data))
    port = _free_port()
    env = {
        **os.environ,
        "GOVML_HOME": str(home),
        "GOVML_DATABASE_URL": db_url,
        "GOVML_USER": "gateway",
    }
    env.pop("GOVML_SERVER", None)
    command = [GOVML, "serve", "credit", "--port", str(port), "--log-dir", str(tmp_path / "log")]
    output = tmp_path / "serve.out"
    url = f"http://127.0.0.1:{port}"
    with output.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        reasons = _wait_for_refusal(url, process, output)
        assert any("not trusted" in reason for reason in reasons), reasons
        for attempt in range(3):
            body = {"records": frame[["code"]].to_dict(orient="records"), "n": attempt}
            response = httpx.post(f"{url}/predict", json=body, timeout=10)
            assert response.status_code != 200
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert not marker.exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_refusal(url: str, process: subprocess.Popen[bytes], output: Path) -> list[str]:
    """Return /ready's reasons once the gateway has tried and refused to load the model."""
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"govml serve exited with {process.returncode}: {output.read_text()}")
        try:
            response = httpx.get(f"{url}/ready", timeout=2)
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        assert response.status_code != 200, response.text
        reasons = [str(reason) for reason in response.json().get("reasons", [])]
        if any("builtins.eval" in reason for reason in reasons):
            return reasons
        time.sleep(0.1)
    pytest.fail(f"govml serve did not report the refusal: {output.read_text()}")


# -- the policy check ----------------------------------------------------------------------------


def test_security_serialization_judges_types_the_operator_trusts(
    db_url: str, home: Path, tmp_path: Path
) -> None:
    settings = load_settings(home=home, database_url=db_url, user="alice", trusted_types=[DOUBLER])
    operator = govml.Client(ServiceContext.from_settings(settings))
    try:
        operator.create_model("credit", risk_tier="minimal")
        frame = _frame()
        version = operator.register_version(
            "credit", model=_doubler_model(), train_data=frame, target="y"
        )
        assert version.flavor_options["trusted_by"] == {DOUBLER: "operator"}
        strict = operator.evaluate(
            version.ref, data=frame, target="y", policy=_policy(tmp_path, "safe_only")
        )
        scan = strict.check("serialization")
        assert scan["status"] == "fail" and scan["evidence"]["trusted_types"] == [DOUBLER]
        assert DOUBLER in scan["message"]
        allowing = operator.evaluate(
            version.ref, data=frame, target="y", policy=_policy(tmp_path, "trusted_types")
        )
        scan = allowing.check("serialization")
        assert scan["status"] == "warn" and scan["evidence"]["untrusted_types"] == []
        assert allowing.check("accuracy")["status"] == "pass"
    finally:
        operator.close()
    # A process whose operator does not trust the type fails it under any rule.
    with govml.connect(home, database_url=db_url, user="alice") as other:
        judged = other.evaluate(
            "credit@1", data=frame, target="y", policy=_policy(tmp_path, "trusted_types")
        )
        scan = judged.check("serialization")
        assert scan["status"] == "fail" and scan["evidence"]["untrusted_types"] == [DOUBLER]


# -- artifacts in the audit ----------------------------------------------------------------------


def test_audit_verify_rehashes_artifacts(
    client: govml.Client,
    db_url: str,
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    client.create_model("credit", risk_tier="minimal")
    frame = _frame()
    first = client.register_version(
        "credit", model=LogisticRegression().fit(frame[["x1", "x2"]], frame["y"])
    )
    second = client.register_version(
        "credit", model=LogisticRegression(C=0.1).fit(frame[["x1", "x2"]], frame["y"])
    )
    client.apply_policy(_policy(tmp_path, "safe_only"))
    client.evaluate(second.ref, data=frame, target="y")
    client.promote(second.ref, to="staging", reason="candidate")
    result = client.verify_ledger()
    assert result.artifacts == {"scope": "aliased", "checked": 1, "versions": ["credit@2"]}
    assert client.verify_ledger(artifacts=True).artifacts == {
        "scope": "all",
        "checked": 2,
        "versions": ["credit@1", "credit@2"],
    }

    # Bytes changed on disk where nothing else looks: only --artifacts finds them.
    _overwrite(client, first.artifact_digest, b"not the model")
    client.verify_ledger()
    with pytest.raises(IntegrityError, match=r"credit@1 \(sha256:[0-9a-f]{64}\): its bytes hash"):
        client.verify_ledger(artifacts=True)
    # The served version's artifact is checked by default, and a missing file is named too.
    client.ctx.artifacts.path_for(second.artifact_digest).unlink()
    with pytest.raises(IntegrityError, match="credit@2 .*its file is missing") as caught:
        client.verify_ledger()
    assert str(client.ctx.artifacts.root) not in caught.value.message

    _local_cli(monkeypatch, home, db_url)
    assert invoke(["audit", "verify"]) == 1
    assert "credit@2" in capsys.readouterr().err
    assert invoke(["audit", "verify", "--artifacts", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False and "2 artifact(s) do not match" in out["error"]


def _overwrite(client: govml.Client, digest: str, data: bytes) -> None:
    path = client.ctx.artifacts.path_for(digest)
    path.chmod(0o644)
    path.write_bytes(data)


def test_audit_verify_artifacts_over_rest(server: Server) -> None:
    frame = _frame()
    bob = server.bob()
    version = bob.register_version(
        "credit", model=LogisticRegression().fit(frame[["x1", "x2"]], frame["y"])
    )
    with server.http() as http:
        body = http.post("/api/v1/audit/verify", json={"artifacts": True}).json()
    assert body["artifacts"] == {"scope": "all", "checked": 1, "versions": [version.ref]}
    _overwrite(server.local, version.artifact_digest, b"changed")
    with pytest.raises(IntegrityError, match="credit@1"):
        bob.verify_ledger(artifacts=True)
    with server.http() as http:
        response = http.post("/api/v1/audit/verify", json={"artifacts": True})
    assert response.status_code == 409
    assert str(server.home) not in response.text
    bob.close()


# -- uploads leave nothing behind ----------------------------------------------------------------

GATE_MODULE = '''
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

SIGNAL = Path(__file__).with_name("gate-entered")


class Gate(TransformerMixin, BaseEstimator):
    """Passes its input through; while a gate file exists it says so and waits."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        if Path(__file__).with_name("gate-closed").exists():
            SIGNAL.write_text("in")
            while True:
                time.sleep(0.05)
        return np.asarray(X, dtype=float)
'''


def test_a_killed_registration_leaves_nothing_in_the_temporary_folder(
    db_url: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "govml_gate.py").write_text(GATE_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(modules))
    sys.modules.pop("govml_gate", None)  # a module of an earlier run reads its own folder
    try:
        gate = importlib.import_module("govml_gate").Gate()
    finally:
        sys.modules.pop("govml_gate", None)
    frame = _frame()
    model = Pipeline([("gate", gate), ("clf", LogisticRegression())])
    model.fit(frame[["x1", "x2"]], frame["y"])
    with govml.connect(home, database_url=db_url, user="alice") as local:
        local.init()
        token = local.add_user("bob", roles=["contributor"]).token
        local.create_model("credit", risk_tier="minimal")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    port = _free_port()
    env = {
        **os.environ,
        "GOVML_HOME": str(home),
        "GOVML_DATABASE_URL": db_url,
        "GOVML_TRUSTED_TYPES": "govml_gate.Gate",
        "PYTHONPATH": os.pathsep.join([str(modules), os.environ.get("PYTHONPATH", "")]),
        "TMPDIR": str(scratch),
    }
    env.pop("GOVML_SERVER", None)
    output = tmp_path / "server.out"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [GOVML, "server", "--port", str(port)], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    (modules / "gate-closed").write_text("closed")
    failures: list[BaseException] = []

    def register() -> None:
        # As a client sends a model it serialised (these options are only hints now).
        options = {"estimator": "sklearn.pipeline.Pipeline", "trusted": ["govml_gate.Gate"]}
        try:
            httpx.post(
                f"{url}/api/v1/models/credit/versions",
                headers={"Authorization": f"Bearer {token}"},
                data={"flavor": "sklearn", "flavor_options": json.dumps(options)},
                files={
                    "artifact": ("model", sio.dumps(model), "application/octet-stream"),
                    "input_example": ("x.parquet", _parquet(frame[["x1", "x2"]]), "x/parquet"),
                },
                timeout=START_DEADLINE_S,
            )
        except BaseException as exc:  # the server is killed under it
            failures.append(exc)

    try:
        _wait_for_health(url, process, output)
        worker = threading.Thread(target=register, daemon=True)
        worker.start()
        deadline = time.monotonic() + START_DEADLINE_S
        while not (modules / "gate-entered").exists():
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"the registration never reached the model: {output.read_text()}")
            time.sleep(0.05)
        # The server is inside the registration, the artifact in hand: kill it there.
        process.kill()
        process.wait()
        worker.join(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert failures, "the registration should have failed with the server killed"
    assert sorted(path.name for path in scratch.iterdir()) == []
    with govml.connect(home, database_url=db_url, user="alice") as local:
        assert local.list_versions("credit") == []


def _wait_for_health(url: str, process: subprocess.Popen[bytes], output: Path) -> None:
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"govml server exited with {process.returncode}: {output.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"govml server did not start: {output.read_text()}")
