"""`govml serve` in client mode (GOVML_SERVER + GOVML_TOKEN): it validates as local serving does,
takes its keys and policy from the server, and its log reaches the server's monitoring
(SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.integration.test_lifecycle import Team
from tests.integration.test_serving_gateway import (
    GOVML,
    MODEL,
    build_store,
    free_port,
    read_log,
    record,
    wait_for,
)

import govml
from govml.remote import RemoteClient
from govml.server import create_app
from govml.server.background import serving
from govml.settings import load_settings

STRICT = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: strict, owner: risk@example.com}
tiers: [high]
performance:
  - {metric: accuracy, min: 0.0}
approvals: {required: 2, roles: [approver, risk_officer]}
serving: {strict: true}
"""


@pytest.fixture
def server(db_url: str, home: Path, tmp_path: Path) -> Iterator[tuple[Team, str]]:
    team = build_store(db_url, home, tmp_path)
    settings = load_settings(home=home, database_url=db_url)
    with serving(create_app(settings)) as url:
        yield team, url
    team.close()


def start_gateway(url: str, token: str, tmp: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`govml serve credit` in client mode, with its own local home; wait until ready."""
    port = free_port()
    spool = tmp / "spool"
    env = {
        **os.environ,
        "GOVML_SERVER": url,
        "GOVML_TOKEN": token,
        "GOVML_HOME": str(tmp / "gateway-home"),
    }
    env.pop("GOVML_DATABASE_URL", None)
    command = [GOVML, "serve", MODEL, "--port", str(port), "--log-dir", str(spool)]
    command += ["--poll-seconds", "0.2", "--flush-seconds", "0.2"]
    output = tmp / "client-gateway.out"
    with output.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    gateway = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if process.poll() is not None:
            pytest.fail(f"govml serve exited:\n{output.read_text()}")
        try:
            return httpx.get(f"{gateway}/ready", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(ready, 60)
    return process, gateway, spool


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def test_client_mode_serves_as_local_and_its_log_reaches_monitoring(
    server: tuple[Team, str],
) -> None:
    team, url = server
    frank = RemoteClient(load_settings(server=url, token=team.tokens["frank"]))
    key = frank.issue_gateway_key(MODEL, scopes=["predict", "feedback"]).secret
    # A contributor's token: it reads what the gateway needs and may send the log.
    process, gateway, spool = start_gateway(url, team.tokens["bob"], team.tmp)
    started = datetime.now(UTC)
    try:
        with httpx.Client(
            base_url=gateway, timeout=30, headers={"Authorization": f"Bearer {key}"}
        ) as http:
            # The training profile comes over REST: out-of-range values warn as locally.
            odd = http.post("/predict", json={"x1": 1e6, "x2": 0.0})
            assert odd.status_code == 200
            assert [w["kind"] for w in odd.json()["warnings"]] == ["above_max"]
            answers = {}
            for i in range(60):
                body = http.post("/predict", json=record(i)).json()
                answers[body["request_id"]] = body["predictions"][0]
            labels = [{"request_id": r, "label": p} for r, p in answers.items()]
            assert http.post("/feedback", json={"feedback": labels}).json()["accepted"] == 60

            server_log = team.home / "predictions"
            wait_for(lambda: read_log(server_log).height == 61, 30)
            wait_for(lambda: read_log(server_log, "feedback").height == 60, 30)
            received = frank.audit_log(model=MODEL, action="predictions.received")
            assert {e.payload["kind"] for e in received} >= {"predictions", "feedback"}
            assert all(e.actor == "bob" for e in received)
            for entry in received:
                path = server_log / entry.payload["file"]
                assert pq.read_table(path).num_rows == entry.payload["rows"]
            run = team["frank"].monitor(MODEL, since=started, min_rows=10, min_labels=10)
            assert run.report(1).rows == 61 and run.report(1).labelled == 60

            # The key and the policy come over REST too: a revocation, then strict serving.
            policy = team.tmp / "strict.yaml"
            policy.write_text(STRICT, encoding="utf-8")
            team["alice"].apply_policy(policy, replace=True)
            wait_for(lambda: http.post("/predict", json={"x1": 1e6, "x2": 0.0}).status_code == 422)
            refused = http.post("/predict", json={"x1": 1e6, "x2": 0.0})
            assert "strict serving policy: refused" in refused.text
            frank.revoke_gateway_key(MODEL, key.split("_")[1])
            wait_for(lambda: http.post("/predict", json=record()).status_code == 401)
    finally:
        stop(process)
        frank.close()
    assert all(Path(f"{p.parent}/.{p.name}.sent").exists() for p in spool.rglob("part-*.parquet"))


def _file(tmp: Path, columns: dict[str, Any], name: str = "part-x.parquet") -> Path:
    path = tmp / name
    pq.write_table(pa.table(columns), path)
    return path


def test_the_server_takes_only_log_files_in_the_layout_from_contributors(
    server: tuple[Team, str],
) -> None:
    team, url = server
    now = datetime.now(UTC)
    good = {
        "request_id": pa.array(["r1", "r2"]),
        "record": pa.array([0, 0], type=pa.int32()),
        "time": pa.array([now, now], type=pa.timestamp("us", tz="UTC")),
        "variant": pa.array(["champion", "champion"]),
        "inputs": pa.StructArray.from_arrays(
            [pa.array([0.1, 0.2]), pa.array([0.3, 0.4])], names=["x1", "x2"]
        ),
        "prediction": pa.array([0, 1]),
        "extra": pa.array(["dropped", "dropped"]),
    }
    bob = RemoteClient(load_settings(server=url, token=team.tokens["bob"]))
    vic = RemoteClient(load_settings(server=url, token=team.tokens["vic"]))
    try:
        path = _file(team.tmp, good)
        with pytest.raises(govml.errors.ForbiddenError, match=r"vic \(viewer\) may not register"):
            vic.send_prediction_log(MODEL, path, kind="predictions", version=1)
        receipt = bob.send_prediction_log(MODEL, path, kind="predictions", version=1)
        assert (receipt["rows"], receipt["duplicate"]) == (2, False)
        again = bob.send_prediction_log(MODEL, path, kind="predictions", version=1)
        assert again["duplicate"] is True and again["file"] == receipt["file"]
        written = pq.read_table(team.home / "predictions" / receipt["file"])
        assert "extra" not in written.column_names and written.num_rows == 2
        bad = [
            (
                {
                    **good,
                    "inputs": pa.StructArray.from_arrays([pa.array([1.0, 2.0])], names=["x9"]),
                },
                "predictions",
                "its inputs are ['x9'], but credit@1 takes ['x1', 'x2']",
            ),
            ({k: v for k, v in good.items() if k != "time"}, "predictions", "no column 'time'"),
            ({**good, "variant": pa.array(["champion", "mine"])}, "predictions", "variant 'mine'"),
            ({**good, "request_id": pa.array(["r1", None])}, "predictions", "missing value"),
            (good, "secrets", "kind: 'secrets' is not one of"),
        ]
        for columns, kind, message in bad:
            with pytest.raises(govml.errors.InputError, match=re.escape(message)):
                bob.send_prediction_log(MODEL, _file(team.tmp, columns), kind=kind, version=1)
        garbage = team.tmp / "garbage.parquet"
        garbage.write_bytes(b"PAR1 not parquet at all")
        with pytest.raises(govml.errors.InputError, match="not a readable Parquet file"):
            bob.send_prediction_log(MODEL, garbage, kind="feedback")
        with pytest.raises(govml.errors.NotFoundError):
            bob.send_prediction_log(MODEL, path, kind="predictions", version=9)
        assert len(bob.audit_log(action="predictions.received")) == 1
    finally:
        bob.close()
        vic.close()
