"""The gateway application in-process (httpx's ASGI transport) over a registry stand-in."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from serving_fakes import FakeSource

from govml.serving import Gateway, GatewayOptions
from govml.serving.batching import Batcher
from govml.serving.deployment import Scores
from govml.serving.source import Challenger

pytestmark = pytest.mark.anyio
ROW = {"age": 30, "income": 55.0, "city": "paris"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def metric(gateway: Gateway, name: str, **labels: str) -> float:
    text = gateway.metrics.exposition().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


async def test_a_promotion_is_picked_up_and_logged(
    gateway_client: tuple[Gateway, httpx.AsyncClient], source: FakeSource
) -> None:
    gateway, client = gateway_client
    first = (await client.post("/predict", json=ROW)).json()
    source.alias_map["production"] = 2
    await asyncio.get_running_loop().run_in_executor(None, gateway.follower.refresh)
    second = (await client.post("/predict", json=ROW)).json()
    assert (first["version"], second["version"]) == (1, 2)
    assert second["predictions"] == [1 - first["predictions"][0]]  # version 2 is inverted
    assert metric(gateway, "govml_gateway_model_switches_total", variant="champion") == 1
    assert metric(gateway, "govml_gateway_model_info", variant="champion", version="2") == 1
    assert metric(gateway, "govml_gateway_model_info", version="1") == 0
    assert source.loads == [1, 2]


async def test_a_version_that_fails_to_load_leaves_the_current_one(
    gateway_client: tuple[Gateway, httpx.AsyncClient], source: FakeSource
) -> None:
    gateway, client = gateway_client
    source.add(3, source.models[2])
    source.fail_load.add(3)
    source.alias_map["production"] = 3
    await asyncio.get_running_loop().run_in_executor(None, gateway.follower.refresh)
    assert (await client.post("/predict", json=ROW)).json()["version"] == 1
    assert (await client.get("/ready")).status_code == 200
    assert metric(gateway, "govml_gateway_model_load_failures_total") == 1
    await asyncio.get_running_loop().run_in_executor(None, gateway.follower.refresh)
    assert metric(gateway, "govml_gateway_model_load_failures_total") == 1  # not every poll


async def test_without_a_version_the_gateway_is_alive_but_not_ready(
    source: FakeSource, tmp_path: Path
) -> None:
    source.alias_map.clear()
    key = source.issue("predict")
    gateway = Gateway(GatewayOptions(model="credit", log_dir=tmp_path, poll_seconds=3600), source)
    await gateway.startup()
    transport = httpx.ASGITransport(app=gateway)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gateway", headers=headers
    ) as client:
        assert (await client.get("/health")).status_code == 200
        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["reasons"] == [
            "no version of credit holds 'production' (or it is still loading)"
        ]
        refused = await client.post("/predict", json=ROW)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    await gateway.shutdown()
    assert source.closed


async def test_a_full_log_answers_503_with_retry_after_before_scoring(
    source: FakeSource, tmp_path: Path
) -> None:
    options = GatewayOptions(
        model="credit", log_dir=tmp_path, poll_seconds=3600, log_queue_records=5, log_wait_ms=20
    )
    key = source.issue("predict")
    gateway = Gateway(options, source)
    await gateway.startup()
    transport = httpx.ASGITransport(app=gateway)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gateway", headers=headers
    ) as client:
        room = 5 - gateway.log.depth  # the start event holds one place until written
        assert gateway.log.reserve(room)
        refused = await client.post("/predict", json=ROW)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert "the prediction log is full" in refused.json()["errors"][0]["message"]
        gateway.log.release(room)
        assert (await client.post("/predict", json=ROW)).status_code == 200
    await gateway.shutdown()
    assert metric(gateway, "govml_gateway_errors_total", reason="overloaded") == 1


async def test_concurrent_requests_are_scored_together_and_answered_alike(
    gateway_client: tuple[Gateway, httpx.AsyncClient], source: FakeSource
) -> None:
    gateway, client = gateway_client
    rows = [
        {"age": 20 + i, "income": 40.0 + i, "city": ["paris", "lyon", "nice"][i % 3]}
        for i in range(24)
    ]
    answers = await asyncio.gather(*[client.post("/predict", json=row) for row in rows])
    expected = source.models[1].predict(pd.DataFrame(rows))
    assert [a.json()["predictions"][0] for a in answers] == expected.tolist()
    calls = metric(gateway, "govml_gateway_batch_records_count")
    assert calls < len(rows)  # fewer model calls than requests


async def test_shadow_copies_are_scored_after_the_answer_and_logged(
    gateway_client: tuple[Gateway, httpx.AsyncClient], source: FakeSource
) -> None:
    gateway, client = gateway_client
    source.alias_map["staging"] = 2
    source.setup = Challenger(mode="shadow")
    await asyncio.get_running_loop().run_in_executor(None, gateway.follower.refresh)
    answer = await client.post("/predict", json=[ROW, ROW])
    assert answer.json()["version"] == 1
    for _ in range(100):
        if metric(gateway, "govml_gateway_shadow_records_total"):
            break
        await asyncio.sleep(0.01)
    assert metric(gateway, "govml_gateway_shadow_records_total") == 2
    assert metric(gateway, "govml_gateway_shadow_disagreements_total") == 2
    assert metric(gateway, "govml_gateway_records_total", version="2", variant="shadow") == 2


async def test_unknown_paths_and_methods(gateway_client: tuple[Gateway, httpx.AsyncClient]) -> None:
    _, client = gateway_client
    missing = await client.get("/predictions")
    assert missing.status_code == 404
    wrong = await client.get("/predict")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    odd_id = await client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert odd_id.headers["x-request-id"] != "bad id with spaces"
    assert len(odd_id.headers["x-request-id"]) == 32


class _Stub:
    """A deployment stand-in that fails on a poisoned value."""

    def __init__(self) -> None:
        from govml.domain.signature import ColumnSpec

        self.inputs = (ColumnSpec("x", "float64"),)
        self.calls: list[int] = []

    def score(self, values: dict[str, list[Any]]) -> Scores:
        self.calls.append(len(values["x"]))
        if -1.0 in values["x"]:
            raise ValueError("poisoned")
        return Scores(predictions=np.asarray(values["x"]) * 2, probabilities=None)


async def test_one_failing_request_does_not_fail_its_batch() -> None:
    batcher = Batcher(max_records=100, max_background=10)
    batcher.start()
    stub = _Stub()
    jobs = [batcher.score(stub, {"x": [float(i)]}, 1) for i in range(5)]  # type: ignore[arg-type]
    jobs.append(batcher.score(stub, {"x": [-1.0]}, 1))  # type: ignore[arg-type]
    results = await asyncio.gather(*jobs, return_exceptions=True)
    await batcher.stop()
    assert [r.predictions.tolist() for r in results[:5]] == [[0.0], [2.0], [4.0], [6.0], [8.0]]
    assert isinstance(results[5], ValueError)
    assert stub.calls[0] == 6  # one call for the whole batch first, then one per request


async def test_batches_are_split_at_the_record_limit() -> None:
    batcher = Batcher(max_records=4, max_background=10)
    batcher.start()
    stub = _Stub()
    sizes = [3, 1, 2, 4, 1]
    jobs = [batcher.score(stub, {"x": [1.0] * n}, n) for n in sizes]  # type: ignore[arg-type]
    results = await asyncio.gather(*jobs)
    await batcher.stop()
    assert [len(r.predictions) for r in results] == sizes
    assert stub.calls == [4, 2, 4, 1]
