"""The gateway's keys, labels, limits and failures in-process (httpx's ASGI transport)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest
from serving_fakes import FakeSource

from govml.errors import IntegrityError
from govml.serving import Gateway, GatewayOptions
from govml.serving.logschema import PredictionEntry

pytestmark = pytest.mark.anyio
ROW = {"age": 30, "income": 55.0, "city": "paris"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def refresh(gateway: Gateway) -> None:
    await asyncio.get_running_loop().run_in_executor(None, gateway.follower.refresh)


async def feedback_rows(gateway: Gateway, expected: int) -> list[dict[str, Any]]:
    """Wait for ``expected`` labels in the feedback log (the fixture flushes every 50 ms)."""
    for _ in range(400):
        files = sorted(gateway.options.log_dir.glob("model=credit/feedback/date=*/*.parquet"))
        rows = [row for f in files for row in pq.read_table(f).to_pylist()]
        if len(rows) >= expected:
            return sorted(rows, key=lambda row: row["time"])
        await asyncio.sleep(0.025)
    raise AssertionError(f"{expected} labels were not written")


@pytest.fixture
async def started(
    source: FakeSource, tmp_path: Path
) -> AsyncIterator[tuple[Gateway, httpx.AsyncClient]]:
    """A gateway with /metrics behind a key, and a client without any key."""
    options = GatewayOptions(
        model="credit", log_dir=tmp_path / "log", poll_seconds=3600, metrics_auth=True
    )
    gateway = Gateway(options, source)
    await gateway.startup()
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield gateway, client
    await gateway.shutdown()


async def test_every_endpoint_but_health_and_ready_needs_a_key_of_its_scope(
    started: tuple[Gateway, httpx.AsyncClient], source: FakeSource
) -> None:
    gateway, client = started
    predict, feedback = source.issue("predict"), source.issue("feedback")
    metrics, other = source.issue("metrics"), source.issue("predict", model="churn")
    await refresh(gateway)
    assert (await client.get("/health")).status_code == 200
    assert (await client.get("/ready")).status_code == 200

    anonymous = await client.post("/predict", json=ROW)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == 'Bearer realm="govml-gateway"'
    assert "send the header `Authorization: Bearer KEY`" in anonymous.json()["errors"][0]["message"]
    forged = await client.post("/predict", json=ROW, headers=bearer(predict[:-2] + "xx"))
    assert forged.status_code == 401
    assert forged.json()["errors"][0]["message"].startswith("invalid gateway key")

    assert (await client.post("/predict", json=ROW, headers=bearer(predict))).status_code == 200
    wrong_scope = await client.post("/predict", json=ROW, headers=bearer(feedback))
    assert wrong_scope.status_code == 403
    assert "may not ask for predictions (scope predict)" in wrong_scope.text
    other_model = await client.post("/predict", json=ROW, headers=bearer(other))
    assert (
        other_model.status_code == 403 and "a key of model churn, not of credit" in other_model.text
    )

    assert (await client.get("/version", headers=bearer(feedback))).status_code == 200
    version = await client.get("/version", headers=bearer(metrics))
    assert version.status_code == 403
    assert "may not use this endpoint (scope predict or feedback)" in version.text
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers=bearer(predict))).status_code == 403
    scraped = await client.get("/metrics", headers=bearer(metrics))
    assert (
        'govml_gateway_errors_total{endpoint="/predict",reason="unauthorized"} 2.0' in scraped.text
    )
    assert 'govml_gateway_errors_total{endpoint="/predict",reason="forbidden"} 2.0' in scraped.text


async def test_a_revoked_or_expired_key_is_refused_from_the_next_poll(
    started: tuple[Gateway, httpx.AsyncClient], source: FakeSource
) -> None:
    gateway, client = started
    key = source.issue("predict")
    await refresh(gateway)
    assert (await client.post("/predict", json=ROW, headers=bearer(key))).status_code == 200
    source.keys = [
        k.__class__(**{**k.__dict__, "revoked_at": datetime.now(UTC), "revoked_by": "frank"})
        for k in source.keys
    ]
    assert (await client.post("/predict", json=ROW, headers=bearer(key))).status_code == 200
    await refresh(gateway)  # the poll
    refused = await client.post("/predict", json=ROW, headers=bearer(key))
    assert refused.status_code == 401 and "was revoked on" in refused.text
    expired = source.issue("predict", days=-1)
    await refresh(gateway)
    refused = await client.post("/predict", json=ROW, headers=bearer(expired))
    assert refused.status_code == 401 and "expired on" in refused.text


async def test_labels_must_be_true_classes_of_requests_the_gateway_answered(
    gateway_client: tuple[Gateway, httpx.AsyncClient],
) -> None:
    gateway, client = gateway_client
    answered = await client.post("/predict", json=[ROW, ROW], headers={"X-Request-ID": "r-1"})
    assert answered.status_code == 200
    refused = await client.post(
        "/feedback",
        json=[
            {"request_id": "r-1", "label": 7},
            {"request_id": "r-1", "record": 2, "label": 1},
            {"request_id": "never-answered", "label": 1},
            {"request_id": "r-1", "record": 1, "label": 0},
            {"request_id": "r-1", "record": 1, "label": 1},
        ],
    )
    assert refused.status_code == 422
    errors = {(e["record"], e["field"]): e["message"] for e in refused.json()["errors"]}
    assert errors == {
        (0, "label"): "label 7 is not one of credit's classes: 0, 1",
        (1, "record"): "record 2 is out of range: request 'r-1' had 2 record(s)",
        (2, "request_id"): "request id 'never-answered' is not one this gateway answered for "
        "credit in the last 30 days: labels are only taken for its own decisions",
        (4, "record"): "record 1 of request r-1 is labelled twice in this request",
    }
    accepted = await client.post("/feedback", json={"request_id": "r-1", "label": 1})
    assert accepted.status_code == 200 and accepted.json()["accepted"] == 1
    (row,) = await feedback_rows(gateway, 1)  # nothing of the refused request was written
    assert (row["request_id"], row["record"], row["label"]) == ("r-1", 0, 1)


async def test_a_second_label_needs_the_correct_labels_scope_and_is_kept_as_a_correction(
    gateway_client: tuple[Gateway, httpx.AsyncClient], source: FakeSource
) -> None:
    gateway, client = gateway_client
    await client.post("/predict", json=ROW, headers={"X-Request-ID": "r-2"})
    first = await client.post("/feedback", json={"request_id": "r-2", "label": 1})
    assert first.json() == {
        "request_id": first.json()["request_id"],
        "accepted": 1,
        "corrections": 0,
    }
    again = await client.post("/feedback", json={"request_id": "r-2", "label": 0})
    assert again.status_code == 409
    assert again.json()["errors"] == [
        {
            "record": 0,
            "field": "label",
            "message": "record 0 of request 'r-2' is already labelled; a correction needs a key "
            "with the correct_labels scope",
        }
    ]
    corrector = source.issue("feedback", "correct_labels")
    await refresh(gateway)
    corrected = await client.post(
        "/feedback", json={"request_id": "r-2", "label": 0}, headers=bearer(corrector)
    )
    assert corrected.status_code == 200 and corrected.json()["corrections"] == 1
    rows = await feedback_rows(gateway, 2)
    assert [(r["label"], r["correction"]) for r in rows] == [(1, False), (0, True)]
    assert rows[1]["key_id"] == corrector.split("_")[1]


async def test_labels_reach_requests_answered_by_another_replica_and_labels_on_disk(
    gateway_client: tuple[Gateway, httpx.AsyncClient], source: FakeSource
) -> None:
    gateway, client = gateway_client
    from govml.serving.logschema import FeedbackEntry, table_for

    deployment = gateway.follower.state.champion
    assert deployment is not None
    now = datetime.now(UTC)
    entry = PredictionEntry(
        model="credit",
        version=1,
        variant="champion",
        request_id="elsewhere",
        time=now,
        inputs=deployment.inputs,
        values={"age": [30, 31, 32], "income": [1.0, 2.0, 3.0], "city": ["nice"] * 3},
        count=3,
        predictions=np.array([0, 1, 0]),
        output_type="int64",
        probabilities=None,
        classes=None,
        latency_ms=1.0,
    )
    labelled = FeedbackEntry(
        model="credit",
        time=now,
        request_ids=["elsewhere"],
        records=[1],
        labels=[1],
        label_type="int64",
        corrections=[False],
    )
    for item, name in ((entry, "part-replica.parquet"), (labelled, "part-replica.parquet")):
        folder = gateway.options.log_dir / item.partition()
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table_for([item]), folder / name)
    gateway.issued._listed_at = -1.0  # as after LIST_SECONDS
    ok = await client.post("/feedback", json={"request_id": "elsewhere", "record": 2, "label": 0})
    assert ok.status_code == 200, ok.text
    taken = await client.post(
        "/feedback", json={"request_id": "elsewhere", "record": 1, "label": 0}
    )
    assert taken.status_code == 409
    beyond = await client.post(
        "/feedback", json={"request_id": "elsewhere", "record": 3, "label": 0}
    )
    assert "had 3 record(s)" in beyond.text


async def test_a_regressors_labels_are_finite_numbers(
    gateway_client: tuple[Gateway, httpx.AsyncClient],
) -> None:
    _, client = gateway_client
    await client.post("/predict", json=ROW, headers={"X-Request-ID": "r-3"})
    refused = await client.post("/feedback", json={"request_id": "r-3", "label": "yes"})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["message"] == "label must be an integer, got a string"


async def test_a_tampered_artifact_is_named_in_ready_and_every_503(
    source: FakeSource, tmp_path: Path
) -> None:
    source.fail_load.add(1)
    source.fail_load_with = IntegrityError("artifact /x was modified")
    key = source.issue("predict")
    gateway = Gateway(GatewayOptions(model="credit", log_dir=tmp_path, poll_seconds=3600), source)
    await gateway.startup()
    transport = httpx.ASGITransport(app=gateway)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gateway", headers=bearer(key)
    ) as client:
        expected = (
            f"the artifact of credit@1 does not match its digest sha256:{1:064d}: it is not "
            "served; no version of credit answers for 'production'"
        )
        ready = await client.get("/ready")
        assert ready.status_code == 503 and ready.json()["reasons"] == [expected]
        refused = await client.post("/predict", json=ROW)
        assert refused.status_code == 503 and refused.json()["errors"][0]["message"] == expected
        source.fail_load.clear()
        source.alias_map["production"] = 2
        await refresh(gateway)
        assert (await client.post("/predict", json=ROW)).json()["version"] == 2
    await gateway.shutdown()
    events = pq.read_table(tmp_path / "model=credit" / "events").to_pylist()
    assert any(
        e["event"] == "load_failed" and e["detail"].startswith(expected[:40]) for e in events
    )


async def test_strict_policy_refuses_values_outside_the_training_profile(
    gateway_client: tuple[Gateway, httpx.AsyncClient], source: FakeSource
) -> None:
    gateway, client = gateway_client
    odd = {"age": 300, "income": 55.0, "city": "oslo"}
    warned = await client.post("/predict", json=odd)
    assert warned.status_code == 200 and len(warned.json()["warnings"]) == 2
    source.strict_mode = True
    await refresh(gateway)
    refused = await client.post("/predict", json=odd)
    assert refused.status_code == 422
    assert {(e["field"], e["message"]) for e in refused.json()["errors"]} == {
        ("age", "300 is above the training maximum 79 (strict serving policy: refused)"),
        ("city", "'oslo' never occurred in the training data (strict serving policy: refused)"),
    }
    assert (await client.get("/version")).json()["strict"] is True


@pytest.mark.parametrize(
    ("body", "status", "field", "message"),
    [
        (
            b'{"age": 99999999999999999999999, "income": 1.0, "city": "nice"}',
            422,
            "age",
            "expected an integer that fits in 64 bits, got number 1e+23",
        ),
        (
            b'{"age": 18446744073709551615, "income": 1.0, "city": "nice"}',
            422,
            "age",
            "expected an integer that fits in 64 bits, got number 18446744073709551615",
        ),
        (b'{"age": 30, "income": NaN, "city": "nice"}', 400, "income", "invalid JSON"),
        (b'{"age": 30, "income": 1e999, "city": "nice"}', 400, "income", "invalid JSON"),
        (
            b'{"age": 30, "age": 31, "income": 1.0, "city": "nice"}',
            422,
            "age",
            "key 'age' is given twice in one object: which value is meant?",
        ),
        (b'{"age": 30, "income": 1.0, "city": "ni\xffce"}', 400, None, "not valid UTF-8"),
        (b"[" * 5000 + b"]" * 5000, 400, None, "depth limit exceeded"),
    ],
)
async def test_hostile_json_is_a_4xx_naming_the_field(
    gateway_client: tuple[Gateway, httpx.AsyncClient],
    body: bytes,
    status: int,
    field: str | None,
    message: str,
) -> None:
    _, client = gateway_client
    response = await client.post("/predict", content=body)
    assert response.status_code == status, response.text
    (error,) = response.json()["errors"]
    assert error.get("field") == field and message in error["message"]


async def test_a_body_that_does_not_arrive_in_time_is_a_408(
    source: FakeSource, tmp_path: Path
) -> None:
    key = source.issue("predict")
    options = GatewayOptions(
        model="credit", log_dir=tmp_path, poll_seconds=3600, body_timeout_seconds=0.2
    )
    gateway = Gateway(options, source)
    await gateway.startup()
    sent: list[dict[str, Any]] = []
    stalled = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if not stalled.is_set():
            stalled.set()
            return {"type": "http.request", "body": b'{"age": 3', "more_body": True}
        await asyncio.sleep(3600)  # the client stops sending
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/predict",
        "headers": [(b"authorization", f"Bearer {key}".encode()), (b"content-length", b"900")],
    }
    await gateway(scope, receive, send)
    await gateway.shutdown()
    assert sent[0]["status"] == 408 and (b"connection", b"close") in sent[0]["headers"]
    assert b"did not arrive within 0.2 s" in sent[1]["body"]


async def test_a_large_request_is_answered_as_small_ones_while_they_keep_being_answered(
    gateway_client: tuple[Gateway, httpx.AsyncClient], source: FakeSource
) -> None:
    _, client = gateway_client
    n = 90_000  # within the log's capacity
    rng = np.random.default_rng(0)
    columns = {
        "age": rng.integers(18, 80, n).tolist(),
        "income": rng.normal(50, 10, n).tolist(),
        "city": rng.choice(["paris", "lyon", "nice"], n).tolist(),
    }
    large = asyncio.create_task(client.post("/predict", json={"columns": columns}))
    small_answers = []
    while not large.done() and len(small_answers) < 1000:
        small_answers.append((await client.post("/predict", json=ROW)).status_code)
    answer = await large
    assert answer.status_code == 200, answer.text
    # Small requests were answered while the large one was decoded, checked and scored.
    assert len(small_answers) >= 10 and set(small_answers) == {200}
    head = {name: values[:500] for name, values in columns.items()}
    small = (await client.post("/predict", json={"columns": head})).json()
    assert answer.json()["predictions"][:500] == small["predictions"]
    assert np.allclose(answer.json()["probabilities"][:500], small["probabilities"])
    assert len(orjson.dumps(columns)) > 1024 * 1024
