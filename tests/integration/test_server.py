"""`govml server` and client mode: the REST API, on SQLite and PostgreSQL.

A team is set up locally (admin alice bootstraps the store and adds the others with their
roles); each person then acts through a `RemoteClient` with their own token, and the results
are compared with what a local client of the same store reads. The server's application is
called in this process (`tests.asgi`); the command line in client mode, which makes its own
client from ``GOVML_SERVER``, reaches it through real uvicorn on a loopback port.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from tests.asgi import BASE_URL, in_process

import govml
from govml.cli.main import invoke
from govml.errors import (
    AlreadyExistsError,
    AuthenticationError,
    ConfigurationError,
    ForbiddenError,
    GateError,
    GovmlError,
    NotFoundError,
    StoreError,
    ValidationError,
)
from govml.remote import RemoteClient
from govml.server import create_app
from govml.server.background import serving
from govml.services.access import AccessService
from govml.services.context import ServiceContext
from govml.services.registry import RegistryService
from govml.settings import load_settings

MAX_UPLOAD = 1 << 20
POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: gate, owner: risk@example.com}
tiers: [high]
performance:
  - {metric: accuracy, min: 0.6}
approvals: {required: 2, roles: [approver, risk_officer]}
"""
ROLES = {
    "bob": "contributor",
    "carol": "approver",
    "erin": "risk_officer",
    "frank": "deployer",
    "vic": "viewer",
}


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = (x[:, 0] - x[:, 1] + rng.normal(scale=0.5, size=n) > 0).astype("int64")
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": y})


class Deployment:
    """A store with a team, served over HTTP."""

    def __init__(
        self,
        db_url: str,
        home: Path,
        tmp_path: Path,
        url: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.db_url, self.home, self.tmp, self.url = db_url, home, tmp_path, url
        self.transport = transport
        self.local = govml.connect(home, database_url=db_url, user="alice")
        self.tokens: dict[str, str] = {}
        self.remotes: dict[str, RemoteClient] = {}
        self.policy = tmp_path / "gate.yaml"
        self.policy.write_text(POLICY, encoding="utf-8")
        self.data = tmp_path / "eval.csv"
        _frame(seed=1).to_csv(self.data, index=False)

    def settle(self) -> None:
        self.local.init()
        self.local.apply_policy(self.policy)
        for name, role in ROLES.items():
            self.tokens[name] = self.local.add_user(name, roles=[role]).token
        self.tokens["alice"] = self.local.issue_token("alice").token

    def __getitem__(self, name: str) -> RemoteClient:
        if name not in self.remotes:
            self.remotes[name] = self.remote(self.tokens[name])
        return self.remotes[name]

    def remote(self, token: str) -> RemoteClient:
        settings = load_settings(server=self.url, token=token)
        return RemoteClient(settings, transport=self.transport)

    def http(self, token: str | None = None) -> httpx.Client:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return httpx.Client(
            base_url=self.url, headers=headers, timeout=30, transport=self.transport
        )

    def register(self) -> str:
        bob = self["bob"]
        try:
            bob.get_model("credit")
        except NotFoundError:
            bob.create_model("credit", risk_tier="high", description="d", intended_use="u")
        frame = _frame()
        model = LogisticRegression().fit(frame[["x1", "x2"]], frame["y"])
        return bob.register_version("credit", model=model, train_data=frame, target="y").ref

    def close(self) -> None:
        for remote in self.remotes.values():
            remote.close()
        self.local.close()


@pytest.fixture
def deployment(db_url: str, home: Path, tmp_path: Path) -> Iterator[Deployment]:
    """The team's server, its application called in this process."""
    settings = load_settings(home=home, database_url=db_url)
    # The store exists (migrated) before the server opens it.
    govml.connect(home, database_url=db_url, user="alice").close()
    app = create_app(settings, max_upload_bytes=MAX_UPLOAD)
    with in_process(app) as transport:
        made = Deployment(db_url, home, tmp_path, BASE_URL, transport)
        made.settle()
        yield made
        made.close()


@pytest.fixture
def live_deployment(db_url: str, home: Path, tmp_path: Path) -> Iterator[Deployment]:
    """The team's server through real uvicorn on a loopback port."""
    settings = load_settings(home=home, database_url=db_url)
    govml.connect(home, database_url=db_url, user="alice").close()
    app = create_app(settings, max_upload_bytes=MAX_UPLOAD)
    with serving(app) as url:
        made = Deployment(db_url, home, tmp_path, url)
        made.settle()
        yield made
        made.close()


@pytest.mark.slow  # 7-10 s: every client method through the API
def test_every_client_method_round_trips(deployment: Deployment) -> None:
    local, bob, frank = deployment.local, deployment["bob"], deployment["frank"]
    ref = deployment.register()
    assert bob.get_version(ref) == local.get_version(ref)
    assert bob.list_versions("credit") == local.list_versions("credit")
    assert bob.get_model("credit") == local.get_model("credit")
    assert bob.set_tag("credit", "team", "risk").tags == {"team": "risk"}
    assert bob.list_models() == local.list_models()
    digest = bob.get_version(ref).datasets[0].digest
    assert bob.dataset_fingerprint(digest) == local.registry.dataset_fingerprint(digest)
    frame = _frame(seed=1)[["x1", "x2"]]
    assert np.array_equal(bob.load_model(ref).predict(frame), local.load_model(ref).predict(frame))

    evaluation = bob.evaluate(ref, data=str(deployment.data), target="y", n_boot=50)
    assert evaluation == local.get_evaluation(evaluation.id)
    assert bob.list_evaluations(model="credit") == local.list_evaluations(model="credit")
    assert bob.get_evaluation(evaluation.id) == evaluation
    for item in evaluation.document.get("evidence", []):
        name = item["name"]
        assert bob.evaluation_evidence(evaluation, name) == local.evaluation_evidence(
            evaluation, name
        )
    assert bob.evaluation_evidence(evaluation, "no-such-evidence") is None

    staged = frank.promote(ref, to="staging", reason="passed")
    assert staged.actor == "frank" and staged.version == 1
    assert not frank.readiness(ref).ready
    deployment["carol"].approve(ref, comment="metrics reviewed")
    deployment["erin"].approve(ref, comment="risk accepted")
    assert frank.readiness(ref) == local.readiness(ref)
    assert frank.list_approvals(ref) == local.list_approvals(ref)
    frank.promote(ref, to="production")
    canary = frank.configure_serving("credit", mode="canary", share=0.1, key="customer")
    assert canary == local.serving_config("credit") == frank.serving_config("credit")
    assert frank.alias_history("credit") == local.alias_history("credit")
    assert frank.get_version("credit@production").version == 1

    alice = deployment["alice"]
    assert alice.whoami().name == "alice"
    assert alice.list_policies() == local.list_policies()
    assert alice.get_policy("gate") == local.get_policy("gate")
    assert alice.get_policy(tier="high") == local.get_policy(tier="high")
    assert alice.policy_for_tier("high") == local.policy_for_tier("high")
    assert alice.policy_for_tier("minimal") is None
    assert alice.validate_policy(deployment.policy).digest == local.get_policy("gate").digest
    assert not alice.apply_policy(deployment.policy).changed

    issued = alice.add_user("gina", roles=["viewer"], expires_in_days=7)
    assert issued.user == "gina" and issued.token
    users = {user.name: user for user in local.list_users()}
    assert alice.set_roles("gina", roles=["approver"]).roles != users["gina"].roles
    assert alice.issue_token("gina").user == "gina"
    assert alice.revoke_tokens("gina") == 2
    assert not alice.disable_user("gina").active
    assert alice.list_users() == local.list_users()

    assert alice.audit_log(model="credit") == local.audit_log(model="credit")
    assert alice.verify_ledger() == local.verify_ledger()
    checkpoint = alice.sign_checkpoint()
    assert checkpoint.created
    assert alice.ledger_proof(3) == local.ledger_proof(3)
    assert alice.export_ledger(model="credit") == local.export_ledger(model="credit")
    key, local_key = alice.ledger_key(), local.ledger_key()
    assert key.path == "$GOVML_HOME/keys/" + Path(local_key.path).name  # no server folder
    assert replace(key, path=local_key.path) == local_key
    envelope = alice.attest(ref)
    assert alice.verify_attestation(json.dumps(envelope)).subject == ref
    assert alice.verify_ledger(checkpoint=checkpoint.signed_note).checkpoint is not None


def test_rollback_and_registration_from_a_file(deployment: Deployment, tmp_path: Path) -> None:
    import skops.io

    frame = _frame()
    model = LogisticRegression(C=0.5).fit(frame[["x1", "x2"]], frame["y"])
    artifact = tmp_path / "model.skops"
    artifact.write_bytes(skops.io.dumps(model))
    bob = deployment["bob"]
    bob.create_model("credit", risk_tier="high")
    version = bob.register_version(
        "credit", artifact=str(artifact), train_data=str(deployment.data), target="y"
    )
    assert version.artifact_size == artifact.stat().st_size
    assert version.datasets[0].row_count == 300
    with pytest.raises(GovmlError) as remote:
        deployment["frank"].rollback("credit", reason="bad day")
    frank = govml.connect(deployment.home, database_url=deployment.db_url, user="frank")
    with pytest.raises(GovmlError) as local:
        frank.rollback("credit", reason="bad day")
    frank.close()
    assert type(remote.value) is type(local.value)
    assert remote.value.diagnostics() == local.value.diagnostics()


def test_cli_in_client_mode_prints_what_local_mode_prints(
    live_deployment: Deployment,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    deployment = live_deployment
    ref = deployment.register()
    deployment["bob"].evaluate(ref, data=str(deployment.data), target="y", n_boot=50)
    monkeypatch.setenv("GOVML_HOME", str(deployment.home))
    monkeypatch.setenv("GOVML_USER", "alice")
    monkeypatch.setenv("GOVML_SERVER", deployment.url)
    monkeypatch.setenv("GOVML_TOKEN", deployment.tokens["vic"])

    def run(*args: str) -> tuple[int, str, str]:
        code = invoke(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    for command in (
        ["models", "list", "--json"],
        ["models", "list"],
        ["models", "show", "credit"],
        ["versions", "show", ref, "--json"],
        ["versions", "show", ref],
        ["versions", "list", "credit", "--json"],
        ["audit", "log", "--json"],
        ["evaluations", "list", "--json"],
        ["evaluations", "show", "1", "--json"],
        ["policy", "list", "--json"],
        ["policy", "show", "gate", "--json"],
        ["audit", "verify", "--json"],
        ["audit", "key"],
        ["versions", "history", "credit", "--json"],
        ["versions", "status", ref, "--to", "staging"],
        ["approvals", "list", ref, "--json"],
        ["users", "list", "--json"],
        ["serving", "show", "credit", "--json"],
    ):
        remote = run(*command)
        local = run("--store", deployment.db_url, *command)
        assert remote == local, command
        assert remote[0] == 0, (command, remote[2])

    code, _, err = run("models", "show", "nope")
    assert (code, err) == run("--store", deployment.db_url, "models", "show", "nope")[::2]
    assert code == 2 and "model 'nope' does not exist" in err

    code, _, err = run("promote", ref, "--to", "staging")
    assert code == 3 and "vic (viewer) may not promote" in err
    code, _, err = run("db", "status")
    assert code == 2 and "client mode" in err
    code, _, err = run("init")
    assert code == 2 and "the store is the server's" in err


def test_errors_arrive_as_the_local_errors(deployment: Deployment) -> None:
    ref = deployment.register()
    local_bob = govml.connect(deployment.home, database_url=deployment.db_url, user="bob")
    local_frank = govml.connect(deployment.home, database_url=deployment.db_url, user="frank")
    cases: list[tuple[Callable[[govml.Client], object], type[GovmlError]]] = [
        (lambda c: c.get_model("nope"), NotFoundError),
        (lambda c: c.get_version("credit@9"), NotFoundError),
        (lambda c: c.create_model("credit", risk_tier="high"), AlreadyExistsError),
        (lambda c: c.create_model("../etc", risk_tier="high"), ValidationError),
        (lambda c: c.create_model("ok", risk_tier="hihg"), ValidationError),
        (lambda c: c.approve(ref, comment="mine"), ForbiddenError),
    ]
    try:
        for call, cls in cases:
            with pytest.raises(cls) as remote:
                call(deployment["bob"])
            with pytest.raises(cls) as local:
                call(local_bob)
            assert remote.value.diagnostics() == local.value.diagnostics()
            assert type(remote.value) is type(local.value)
        with pytest.raises(GateError) as remote_gate:
            deployment["frank"].promote(ref, to="staging")
        with pytest.raises(GateError) as local_gate:
            local_frank.promote(ref, to="staging")
        assert remote_gate.value.missing == local_gate.value.missing != ()
        assert remote_gate.value.diagnostics() == local_gate.value.diagnostics()
    finally:
        local_bob.close()
        local_frank.close()


def test_tokens_missing_wrong_expired_or_revoked_get_401(deployment: Deployment) -> None:
    with deployment.http() as http:
        response = http.get("/api/v1/models")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["error"]["type"] == "AuthenticationError"
    assert "Authorization: Bearer" in response.json()["error"]["message"]

    with deployment.http("govml_nope_nope") as http:
        response = http.get("/api/v1/models")
    assert response.status_code == 401

    # A token issued by a clock ten days behind, for one day, expired nine days ago.
    shared = ServiceContext.from_settings(
        load_settings(home=deployment.home, database_url=deployment.db_url)
    )
    past = datetime.now(UTC) - timedelta(days=10)
    admin = replace(shared, actor="alice", clock=lambda: past)
    expired = AccessService(admin).issue_token("vic", expires_in_days=1).token
    shared.close()
    with pytest.raises(AuthenticationError, match="expired") as info:
        deployment.remote(expired).list_models()
    assert "govml users token" in info.value.diagnostics()

    vic = deployment["vic"]
    assert vic.list_models() == []
    deployment.local.revoke_tokens("vic")
    with pytest.raises(AuthenticationError, match="revoked"):
        vic.list_models()


def test_permissions_are_checked_by_the_services(deployment: Deployment) -> None:
    ref = deployment.register()
    with deployment.http(deployment.tokens["vic"]) as http:
        response = http.post(f"/api/v1/versions/{ref}/promote", json={"to": "staging"})
        assert response.status_code == 403
        assert response.json()["error"]["type"] == "ForbiddenError"
        assert http.get(f"/api/v1/versions/{ref}").status_code == 200
        response = http.post("/api/v1/users", json={"name": "x", "roles": ["admin"]})
        assert response.status_code == 403
    with pytest.raises(ForbiddenError, match="may not register"):
        deployment["vic"].create_model("other", risk_tier="minimal")


def test_unknown_things_are_404(deployment: Deployment) -> None:
    with deployment.http(deployment.tokens["vic"]) as http:
        response = http.get("/api/v1/models/nope")
        assert response.status_code == 404
        assert response.json() == {
            "error": {
                "type": "NotFoundError",
                "message": "model 'nope' does not exist",
                "hint": None,
            }
        }
        assert http.get("/api/v1/evaluations/12345").status_code == 404
        response = http.get("/api/v1/nowhere")
        assert response.status_code == 404
        assert "no such endpoint" in response.json()["error"]["message"]


def test_hostile_input_gets_4xx(deployment: Deployment) -> None:
    with deployment.http(deployment.tokens["bob"]) as http:
        for path in (
            "/api/v1/models/..%2F..%2Fetc%2Fpasswd",
            "/api/v1/versions/..%2F..%2Fetc%2Fpasswd",
            "/api/v1/versions/%00",
            "/api/v1/datasets/..%2F..%2Fsecret",
            "/api/v1/evaluations/99999999999999999999",
        ):
            response = http.get(path)
            assert 400 <= response.status_code < 500, (path, response.text)
            assert "error" in response.json()

        response = http.post("/api/v1/models", json={"name": "../../x", "risk_tier": "high"})
        assert response.status_code == 422
        assert response.json()["error"]["type"] == "ValidationError"

        response = http.post(
            "/api/v1/models",
            content=b'{"name": "x", "risk_tier": ',
            headers={"Content-Type": "application/json"},
        )
        assert response.status_code == 422
        assert response.json()["error"]["type"] == "ValidationError"
        assert response.json()["error"]["problems"]

        huge = b'{"name": "' + b"a" * (2 * MAX_UPLOAD) + b'"}'
        response = http.post(
            "/api/v1/models", content=huge, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        assert "at most 1 MiB" in response.json()["error"]["message"]

        def chunks() -> Iterator[bytes]:
            yield b'{"name": "'
            for _ in range(40):
                yield b"a" * 65536
            yield b'"}'

        response = http.post(
            "/api/v1/models", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413

        http.post("/api/v1/models", json={"name": "credit", "risk_tier": "high"})
        files = {
            "artifact": ("../../escape.skops", b"not a model", "application/octet-stream"),
            "train_data": ("t.parquet", b"not parquet", "application/octet-stream"),
        }
        response = http.post("/api/v1/models/credit/versions", files=files)
        assert response.status_code == 422
        assert "train_data: not a readable Parquet file" in response.json()["error"]["message"]
        response = http.post(
            "/api/v1/models/credit/versions", files={"artifact": files["artifact"]}
        )
        assert response.status_code == 422, response.text


def test_nul_characters_are_refused_not_crashed_on(deployment: Deployment) -> None:
    deployment.register()
    requests: list[tuple[str, str, object]] = [
        ("GET", "/policies/%00", None),
        ("GET", "/audit/log?model=%00", None),
        ("GET", "/evaluations?model=%00", None),
        ("DELETE", "/users/%00/tokens", None),
        ("POST", "/models", {"name": "x", "risk_tier": "high", "description": "a\u0000b"}),
        ("POST", "/models/credit/tags", {"key": "k", "value": "v\u0000"}),
        ("POST", "/versions/credit@1/approvals", {"comment": "a\u0000"}),
    ]
    postgres = deployment.db_url.startswith("postgresql")
    with deployment.http(deployment.tokens["alice"]) as http:
        for method, path, body in requests:
            response = http.request(method, "/api/v1" + path, json=body)
            # SQLite stores NUL characters; PostgreSQL refuses them in text, which is a 422.
            assert response.status_code < 500, (method, path, response.text)
            if postgres and response.status_code >= 400:
                assert response.status_code in (403, 404, 422), (method, path, response.text)
        if postgres:
            response = http.post("/api/v1/models/credit/tags", json={"key": "k", "value": "\u0000"})
            assert response.status_code == 422
            assert "NUL" in response.json()["error"]["message"]


def test_an_unexpected_error_is_a_500_without_details(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_self: RegistryService) -> None:
        raise RuntimeError("the secret connection string")

    monkeypatch.setattr(RegistryService, "list_models", broken)
    with deployment.http(deployment.tokens["vic"]) as http:
        response = http.get("/api/v1/models")
        assert http.get("/api/v1/whoami").status_code == 200  # the connection is still usable
    assert response.status_code == 500
    assert "secret" not in response.text and "Traceback" not in response.text
    assert response.json()["error"]["type"] == "InternalServerError"
    with pytest.raises(GovmlError, match="internal server error"):
        deployment["vic"].list_models()


def test_health_and_spec_need_no_token(deployment: Deployment) -> None:
    with deployment.http() as http:
        assert http.get("/health").json()["status"] == "ok"
        spec = http.get("/api/v1/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert "/api/v1/versions/{ref}/promote" in spec["paths"]


def test_an_unreachable_server_is_a_store_error(deployment: Deployment) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    remote = RemoteClient(load_settings(server=f"http://127.0.0.1:{port}", token="t"))
    with pytest.raises(StoreError, match=f"cannot reach govml server at http://127.0.0.1:{port}"):
        remote.list_models()
    remote.close()


def test_client_mode_needs_a_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GOVML_SERVER", "http://127.0.0.1:9")
    monkeypatch.delenv("GOVML_TOKEN", raising=False)
    with pytest.raises(ConfigurationError, match="GOVML_TOKEN is not set"):
        govml.connect()
    assert invoke(["models", "list"]) == 2
    assert "GOVML_TOKEN" in capsys.readouterr().err


def test_server_refuses_to_start_without_users(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert invoke(["--store", db_url, "server", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert "has no users" in err and "govml users add NAME --role admin" in err


def test_remote_registration_records_the_clients_lineage_and_artifact(
    deployment: Deployment, tmp_path: Path
) -> None:
    import subprocess

    import lightgbm

    from govml.lineage import environment_lineage

    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "train.py").write_text("print('train')\n")
    for args in (
        ["init", "-q", "-b", "main"],
        ["add", "train.py"],
        ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "train"],
    ):
        subprocess.run(["git", *args], cwd=checkout, check=True, capture_output=True)
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"],
        cwd=checkout,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    frame = _frame()
    model = lightgbm.LGBMClassifier(n_estimators=5, verbose=-1).fit(frame[["x1", "x2"]], frame["y"])
    bob = deployment["bob"]
    bob.create_model("credit", risk_tier="high")
    version = bob.register_version(
        "credit", model=model, train_data=frame, target="y", code_path=checkout
    )
    assert version.code["git_commit"] == commit and version.code["branch"] == "main"
    assert version.environment["lock_digest"] == environment_lineage()["lock_digest"]
    # The client's serialisation is stored as it is, with the wrapper's options (classes).
    assert version.flavor_options == govml.flavors.flavor_for(model).dump(model).options
    loaded = deployment.local.load_model(version.ref)
    expected = model.predict(frame[["x1", "x2"]])
    assert (loaded.predict(frame[["x1", "x2"]]) == expected).all()
    deployment.local.verify_ledger()


def test_remote_lineage_is_validated(deployment: Deployment) -> None:
    deployment["bob"].create_model("credit", risk_tier="high")
    frame = _frame()
    model = LogisticRegression().fit(frame[["x1", "x2"]], frame["y"])
    serialized = govml.flavors.flavor_for(model).dump(model)
    with deployment.http(deployment.tokens["bob"]) as http:
        response = http.post(
            "/api/v1/models/credit/versions",
            data={
                "flavor": serialized.flavor,
                "flavor_options": json.dumps(serialized.options),
                "environment": json.dumps({"packages": {"numpy": 2}}),
            },
            files={"artifact": ("model", serialized.data, "application/octet-stream")},
        )
    assert response.status_code == 422
    assert "environment.packages" in response.json()["error"]["message"]
    assert deployment.local.list_versions("credit") == []
