"""The serving gateway on a real store: inputs, log, feedback, metrics, shadow and canary.

One store and one gateway serve the whole module: credit@1 holds production and credit@2
(trained on inverted labels, so it disagrees with version 1 on every record) holds staging.
Tests that change the serving set-up put it back to ``off``. The gateway is the application
`govml serve` runs, with the options its flags give, called in this process (`tests.asgi`);
`serve` here starts the real `govml serve` process on loopback for the modules that need
one (`test_serving_live.py` and others).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import polars as pl
import pyarrow.parquet as pq
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sklearn.linear_model import LogisticRegression
from tests.asgi import BASE_URL, in_process
from tests.integration.test_lifecycle import Team

import govml
from govml.serving import GatewayOptions, create_app
from govml.serving.app import SWITCH_INTERVAL
from govml.serving.source import ClientSource

GOVML = str(Path(sys.executable).with_name("govml"))
MODEL = "credit"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_store(db_url: str, home: Path, tmp: Path) -> Team:
    """credit@1 in production, credit@2 (inverted labels) in staging and ready for production."""
    team = Team(db_url, home, tmp)
    team["alice"].apply_policy(team.policy(accuracy_min=0.0))
    first = team.register(MODEL)
    frame = pd.read_csv(team.data)
    flipped = LogisticRegression().fit(frame[["x1", "x2"]], 1 - frame["y"])
    second = team["bob"].register_version(MODEL, model=flipped, train_data=frame, target="y").ref
    frank = team["frank"]
    for ref in (first, second):
        team.evaluate(ref)
        team.approve_twice(ref)
    frank.promote(first, to="staging")
    frank.promote(first, to="production")
    frank.promote(second, to="staging")
    return team


@dataclass
class Served:
    """A running `govml serve` process, where it logs, and a key (predict, feedback) of it."""

    process: subprocess.Popen[bytes]
    url: str
    log_dir: Path
    output: Path
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)

    def text(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")


def issue_key(db_url: str, home: Path, *scopes: str) -> str:
    """Issue a gateway key of ``credit`` as the deployer frank."""
    with govml.connect(home, database_url=db_url, user="frank") as frank:
        return frank.issue_gateway_key(MODEL, scopes=list(scopes)).secret


@contextmanager
def serve(
    db_url: str, home: Path, tmp: Path, *args: str, name: str = "gateway"
) -> Iterator[Served]:
    """Start `govml serve credit` and wait until it is ready; stop it afterwards."""
    key = issue_key(db_url, home, "predict", "feedback")
    port = free_port()
    log_dir = tmp / f"{name}-log"
    output = tmp / f"{name}.out"
    env = {
        **os.environ,
        "GOVML_HOME": str(home),
        "GOVML_DATABASE_URL": db_url,
        "GOVML_USER": "gateway",
    }
    env.pop("GOVML_SERVER", None)
    command = [GOVML, "serve", MODEL, "--port", str(port), "--log-dir", str(log_dir), *args]
    with output.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    served = Served(process, f"http://127.0.0.1:{port}", log_dir, output, key)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"govml serve exited with {process.returncode}:\n{served.text()}")
            try:
                if httpx.get(f"{served.url}/ready", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"govml serve did not become ready:\n{served.text()}")
            time.sleep(0.1)
        yield served
    finally:
        served.stop()


def record(i: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(i)
    x1, x2 = rng.normal(size=2)
    return {"x1": float(x1), "x2": float(x2)}


def read_log(root: Path, part: str = "version=*") -> pl.DataFrame:
    """Read a part of the log as monitoring does (Hive partitions become columns)."""
    files = sorted(root.glob(f"model={MODEL}/{part}/date=*/*.parquet"))
    if not files:
        return pl.DataFrame({"request_id": []}, schema={"request_id": pl.String})
    return pl.read_parquet(files, hive_partitioning=True)


def wait_for(predicate: Any, timeout: float = 20.0, *, why: Any = None) -> None:
    """Poll ``predicate`` until true; fail after ``timeout`` s, with ``why()`` if given."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time" + (f": {why()}" if why else ""))
        time.sleep(0.05)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    tmp = tmp_path_factory.mktemp("serving")
    home = tmp / "home"
    home.mkdir()
    url = f"sqlite:///{home / 'govml.db'}"
    govml.connect(home, database_url=url, user="alice", create=True).close()
    team = build_store(url, home, tmp)
    yield team
    team.close()


@dataclass
class InProcessGateway:
    """The gateway's application in this process, where it logs, and a key of it."""

    transport: httpx.BaseTransport
    log_dir: Path
    key: str
    url: str = BASE_URL

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture(scope="module")
def gateway(store: Team) -> Iterator[InProcessGateway]:
    """`govml serve credit --poll-seconds 0.1 --flush-seconds 0.1 --max-body-bytes 20000`."""
    key = issue_key(store.db_url, store.home, "predict", "feedback")
    log_dir = (store.tmp / "gateway-log").resolve()
    options = GatewayOptions(
        model=MODEL, log_dir=log_dir, poll_seconds=0.1, flush_seconds=0.1, max_body_bytes=20000
    )
    client = govml.connect(store.home, database_url=store.db_url, user="gateway")
    # As in a `govml serve` worker (`app_from_environment`): threads pass the interpreter's
    # lock every millisecond, so the event loop is not kept waiting by the log writer.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        with in_process(create_app(options, ClientSource(client))) as transport:
            yield InProcessGateway(transport, log_dir, key)
    finally:
        sys.setswitchinterval(switch)
        client.close()


@pytest.fixture
def http(gateway: InProcessGateway) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=gateway.url, timeout=30, headers=gateway.headers, transport=gateway.transport
    ) as client:
        yield client


@pytest.fixture
def serving_set_up(store: Team, gateway: InProcessGateway, http: httpx.Client) -> Iterator[Team]:
    """Give a test the store's deployer; put the serving set-up back to off afterwards."""
    yield store
    store["frank"].configure_serving(MODEL, mode="off")
    wait_for(lambda: http.get("/version").json()["mode"] == "off")


def errors(response: httpx.Response) -> list[dict[str, Any]]:
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    return list(body["errors"])


def test_every_input_shape_is_answered_by_the_production_version(http: httpx.Client) -> None:
    one = http.post("/predict", json=record(1), headers={"X-Request-ID": "client-chosen-1"})
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["request_id"] == one.headers["x-request-id"] == "client-chosen-1"
    assert (body["model"], body["version"], body["variant"]) == (MODEL, 1, "champion")
    assert one.headers["x-model-version"] == "1" and one.headers["x-model-name"] == MODEL
    assert body["classes"] == [0, 1] and len(body["probabilities"]) == 1
    assert body["predictions"][0] in (0, 1)

    rows = [record(i) for i in range(5)]
    listed = http.post("/predict", json=rows).json()
    enveloped = http.post("/predict", json={"records": rows}).json()
    columnar = http.post(
        "/predict", json={"columns": {"x1": [r["x1"] for r in rows], "x2": [r["x2"] for r in rows]}}
    ).json()
    assert listed["predictions"] == enveloped["predictions"] == columnar["predictions"]
    assert len(listed["predictions"]) == 5
    assert listed["predictions"][1] == body["predictions"][0]
    assert listed["request_id"] != enveloped["request_id"]


def test_malformed_json_is_a_400_with_its_position(http: httpx.Client) -> None:
    response = http.post("/predict", content=b'{"x1": 1.0,\n "x2": }')
    assert response.status_code == 400
    (error,) = errors(response)
    assert error["message"].startswith("invalid JSON at line 2 column 8 (char 19)")
    assert http.post("/predict", content=b"").status_code == 400


def test_wrong_types_missing_and_extra_columns_are_422_by_record_and_field(
    http: httpx.Client,
) -> None:
    bad = [
        {"x1": 1.0, "x2": 2.0},
        {"x1": "high", "x2": 2.0},
        {"x1": 1.0},
        {"x1": 1.0, "x2": None},
        {"x1": 1.0, "x2": 2.0, "x3": 7, "X2": 1},
        {"x1": True, "x2": [1]},
    ]
    response = http.post("/predict", json=bad)
    assert response.status_code == 422
    found = errors(response)
    assert {"field": "x3", "message": "unknown column 'x3': the model has no such input"} in found
    assert {"record": 1, "field": "x1", "message": "expected a number, got string 'high'"} in found
    assert {
        "record": 2,
        "field": "x2",
        "message": "missing value for column 'x2' (required: it is not nullable)",
    } in found
    assert {
        "record": 3,
        "field": "x2",
        "message": "null is not allowed: column 'x2' is not nullable",
    } in found
    assert {"record": 5, "field": "x1", "message": "expected a number, got boolean true"} in found
    assert {"record": 5, "field": "x2", "message": "expected a number, got an array"} in found
    assert all(e.get("record") != 0 for e in found)

    missing = http.post("/predict", json={"columns": {"x1": [1.0, 2.0]}})
    assert errors(missing) == [{"message": "missing column 'x2' (required: it is not nullable)"}]
    assert http.post("/predict", json=42).status_code == 422
    assert http.post("/predict", json=[1, 2]).status_code == 422


def test_huge_bodies_are_refused_with_413(http: httpx.Client) -> None:
    rows = [record(i) for i in range(1000)]  # about 45 kB, over the 20 kB limit
    response = http.post("/predict", json=rows)
    assert response.status_code == 413
    assert errors(response) == [{"message": "request body larger than 20000 bytes"}]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        yield b"["
        for _ in range(999):
            yield b'{"x1": 1.0, "x2": 2.0},'
        yield b'{"x1": 1.0, "x2": 2.0}]'

    streamed = http.post("/predict", content=chunks())
    assert streamed.status_code == 413
    assert http.post("/predict", json=record()).status_code == 200  # still serving


def test_out_of_range_values_are_answered_with_warnings_and_counted(http: httpx.Client) -> None:
    response = http.post("/predict", json={"x1": 1e6, "x2": 0.0})
    assert response.status_code == 200
    (warning,) = response.json()["warnings"]
    assert (warning["record"], warning["field"], warning["kind"]) == (0, "x1", "above_max")
    families = {f.name: f for f in text_string_to_metric_families(http.get("/metrics").text)}
    samples = families["govml_gateway_out_of_range"].samples
    assert any(s.labels == {"feature": "x1", "kind": "above_max"} and s.value >= 1 for s in samples)


def test_predictions_and_feedback_join_by_request_id(
    http: httpx.Client, gateway: InProcessGateway
) -> None:
    tag = uuid.uuid4().hex[:8]
    ids = [f"join-{tag}-{i}" for i in range(3)]
    answers = {}
    for i, request_id in enumerate(ids):
        rows = [record(10 * i + j) for j in range(i + 1)]
        response = http.post("/predict", json=rows, headers={"X-Request-ID": request_id})
        answers[request_id] = response.json()["predictions"]
    feedback = [
        {"request_id": ids[0], "label": 1},
        {"request_id": ids[2], "record": 2, "label": 0},
    ]
    accepted = http.post("/feedback", json={"feedback": feedback})
    assert accepted.status_code == 200 and accepted.json()["accepted"] == 2
    late = http.post("/feedback", json={"request_id": ids[1], "record": 1, "label": 1.0})
    assert late.status_code == 200
    refused = http.post("/feedback", json=[{"request_id": ids[0], "label": "yes", "extra": 1}])
    assert refused.status_code == 422
    assert {(e.get("record"), e.get("field")) for e in errors(refused)} == {
        (0, "label"),
        (0, "extra"),
    }

    def joined() -> pl.DataFrame:
        predictions = read_log(gateway.log_dir).filter(pl.col("request_id").is_in(ids))
        labels = read_log(gateway.log_dir, "feedback")
        if labels.is_empty() or predictions.height < 6:
            return pl.DataFrame()
        return predictions.join(labels, on=["request_id", "record"], how="inner")

    wait_for(lambda: joined().height == 3)
    table = joined().sort("request_id", "record")
    assert table.select("request_id", "record", "label").rows() == [
        (ids[0], 0, 1),
        (ids[1], 1, 1),
        (ids[2], 2, 0),
    ]
    assert table["prediction"].to_list() == [
        answers[ids[0]][0],
        answers[ids[1]][1],
        answers[ids[2]][2],
    ]
    assert table["label"].dtype == pl.Int64 and table["prediction"].dtype == pl.Int64


def test_prediction_log_schema_is_typed(http: httpx.Client, gateway: InProcessGateway) -> None:
    response = http.post("/predict", json=[record(1), record(2)], headers={"X-Request-ID": "typed"})
    assert response.status_code == 200
    wait_for(lambda: read_log(gateway.log_dir).filter(pl.col("request_id") == "typed").height == 2)
    files = sorted(gateway.log_dir.glob(f"model={MODEL}/version=1/date=*/*.parquet"))
    schema = pq.read_schema(files[-1])
    assert str(schema.field("inputs").type) == "struct<x1: double, x2: double>"
    assert str(schema.field("time").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("probabilities").type) == "struct<0: double, 1: double>"
    rows = read_log(gateway.log_dir).filter(pl.col("request_id") == "typed").sort("record")
    assert rows["record"].to_list() == [0, 1]
    assert rows["inputs"].struct.field("x1").to_list() == [record(1)["x1"], record(2)["x1"]]
    assert rows["variant"].to_list() == ["champion", "champion"]
    assert rows["version"].to_list() == [1, 1]  # from the partition path
    assert rows["prediction"].to_list() == response.json()["predictions"]


def test_metrics_exposition_parses(http: httpx.Client) -> None:
    http.post("/predict", json=record())
    http.get("/nowhere")
    text = http.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in (
        "govml_gateway_requests",
        "govml_gateway_errors",
        "govml_gateway_request_duration_seconds",
        "govml_gateway_predictions",
        "govml_gateway_prediction_value",
        "govml_gateway_model_info",
        "govml_gateway_out_of_range",
        "govml_gateway_log_queue_records",
        "govml_gateway_log_records_written",
        "govml_gateway_shadow_disagreements",
    ):
        assert name in families, name
    info = families["govml_gateway_model_info"].samples
    assert any(s.labels["variant"] == "champion" and s.labels["version"] == "1" for s in info)
    requests = families["govml_gateway_requests"].samples
    assert any(s.labels == {"endpoint": "other", "status": "404"} for s in requests)
    assert families["govml_gateway_request_duration_seconds"].type == "histogram"


def test_shadow_logs_the_challenger_without_changing_answers(
    serving_set_up: Team, http: httpx.Client, gateway: InProcessGateway
) -> None:
    rows = [record(i) for i in range(4)]
    before = http.post("/predict", json=rows).json()
    serving_set_up["frank"].configure_serving(MODEL, mode="shadow")
    wait_for(lambda: http.get("/version").json()["mode"] == "shadow")
    assert http.get("/version").json()["challenger"]["version"] == 2
    response = http.post("/predict", json=rows, headers={"X-Request-ID": "shadowed"})
    body = response.json()
    assert (body["version"], body["variant"]) == (1, "champion")
    assert body["predictions"] == before["predictions"]
    assert body["probabilities"] == before["probabilities"]

    def logged() -> pl.DataFrame:
        return read_log(gateway.log_dir).filter(pl.col("request_id") == "shadowed")

    wait_for(lambda: logged().height == 8)
    table = logged().sort("variant", "record")
    shadow = table.filter(pl.col("variant") == "shadow")
    champion = table.filter(pl.col("variant") == "champion")
    assert shadow["version"].to_list() == [2] * 4 and champion["version"].to_list() == [1] * 4
    # Version 2 learnt the inverted labels: it disagrees on every record.
    assert (shadow["prediction"] == 1 - champion["prediction"]).all()
    families = {f.name: f for f in text_string_to_metric_families(http.get("/metrics").text)}
    (disagreements,) = families["govml_gateway_shadow_disagreements"].samples
    assert disagreements.value >= 4


def test_canary_share_is_sticky_and_roughly_right(serving_set_up: Team, http: httpx.Client) -> None:
    serving_set_up["frank"].configure_serving(MODEL, mode="canary", share=0.3, key="customer")
    wait_for(lambda: http.get("/version").json()["mode"] == "canary")
    versions: dict[str, int] = {}
    for i in range(300):
        row = {**record(i), "customer": f"c{i}"}
        response = http.post("/predict", json=row)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["variant"] == ("canary" if body["version"] == 2 else "champion")
        versions[f"c{i}"] = body["version"]
    share = sum(v == 2 for v in versions.values()) / len(versions)
    assert 0.2 < share < 0.4  # 300 keys: the binomial standard deviation is 0.026
    for i in range(0, 300, 7):  # the same key always reaches the same version
        again = http.post("/predict", json={**record(i + 1), "customer": f"c{i}"}).json()
        assert again["version"] == versions[f"c{i}"]
    without_key = [http.post("/predict", json=record(i)).json()["version"] for i in range(100)]
    assert 10 < without_key.count(2) < 50  # no key: the request id decides
