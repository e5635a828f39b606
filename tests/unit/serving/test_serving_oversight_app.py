"""Oversight in-process: the referral band, out-of-range inputs, suspension (refer or 503)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow.parquet as pq
import pytest
from serving_fakes import FakeSource

from govml.policy.decisions import Oversight, Referral
from govml.serving import Gateway
from govml.serving.governance import Governance, Suspended

pytestmark = pytest.mark.anyio
ROWS = [{"age": 30 + i, "income": 35.0 + 3 * i, "city": "paris"} for i in range(10)]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _govern(gateway: Gateway, source: FakeSource, governance: Governance) -> None:
    source.governance = lambda name: governance
    await asyncio.get_running_loop().run_in_executor(None, gateway.follower.refresh)


async def _logged(root: Path, request_id: str, count: int) -> list[dict[str, Any]]:
    for _ in range(100):
        await asyncio.sleep(0.05)
        files = sorted(root.glob("model=credit/version=1/date=*/*.parquet"))
        rows = [
            row
            for f in files
            for row in pq.read_table(f).to_pylist()
            if row["request_id"] == request_id
        ]
        if len(rows) >= count:
            return rows
    return []


async def test_records_in_the_band_are_referred_not_answered(
    gateway_client: tuple[Gateway, httpx.AsyncClient], source: FakeSource, tmp_path: Path
) -> None:
    gateway, client = gateway_client
    plain = (await client.post("/predict", json=ROWS)).json()
    band = Oversight(refer=Referral(score_between=[0.3, 0.7]))
    await _govern(gateway, source, Governance(oversight=band))
    answer = (await client.post("/predict", json=ROWS)).json()
    scores = [p[1] for p in plain["probabilities"]]
    inside = [i for i, score in enumerate(scores) if 0.3 <= score <= 0.7]
    assert inside and len(inside) < len(ROWS)  # the band splits these records
    assert answer["decisions"] == ["referred" if i in inside else "answered" for i in range(10)]
    for i in range(10):
        if i in inside:
            assert answer["predictions"][i] is None and answer["probabilities"][i] is None
        else:
            assert answer["predictions"][i] == plain["predictions"][i]
    assert [item["record"] for item in answer["referrals"]] == inside
    assert "referral band [0.3, 0.7]" in answer["referrals"][0]["reasons"][0]
    logged = await _logged(tmp_path / "log", answer["request_id"], 10)
    assert [row["decision"] for row in logged] == answer["decisions"]
    # The log keeps the model's own decision for monitoring, and why a record was referred.
    assert [row["prediction"] for row in logged] == plain["predictions"]
    assert orjson.loads(logged[inside[0]]["referral"]) == answer["referrals"][0]["reasons"]


async def test_out_of_range_inputs_are_referred(
    gateway_client: tuple[Gateway, httpx.AsyncClient], source: FakeSource
) -> None:
    gateway, client = gateway_client
    await _govern(
        gateway, source, Governance(oversight=Oversight(refer=Referral(out_of_range=True)))
    )
    odd = {"age": 300, "income": 50.0, "city": "paris"}
    answer = (await client.post("/predict", json=[ROWS[0], odd])).json()
    assert answer["decisions"] == ["answered", "referred"]
    assert "age outside the training profile" in answer["referrals"][0]["reasons"][0]


async def test_a_suspended_model_refers_everything_or_answers_503(
    gateway_client: tuple[Gateway, httpx.AsyncClient], source: FakeSource
) -> None:
    gateway, client = gateway_client
    held = Suspended(by="erin", reason="complaints", since="2026-12-07T06:00:00+00:00")
    await _govern(gateway, source, Governance(suspended=held))
    answer = (await client.post("/predict", json=ROWS[:3])).json()
    assert answer["decisions"] == ["referred"] * 3
    assert answer["predictions"] == [None] * 3
    assert "suspended (complaints)" in answer["referrals"][0]["reasons"][0]
    closed = Governance(oversight=Oversight(when_suspended="unavailable"), suspended=held)
    await _govern(gateway, source, closed)
    refused = await client.post("/predict", json=ROWS[:3])
    assert refused.status_code == 503
    body = refused.json()
    assert body["suspended"]["by"] == "erin" and "manual process" in body["fallback"]
    await _govern(gateway, source, Governance())
    resumed = (await client.post("/predict", json=ROWS[:3])).json()
    assert "decisions" not in resumed and None not in resumed["predictions"]


async def test_version_names_reason_codes_that_do_not_fit_the_model(
    gateway_client: tuple[Gateway, httpx.AsyncClient], source: FakeSource
) -> None:
    from govml.policy.decisions import ReasonCode, ReasonCodes

    gateway, client = gateway_client
    codes = ReasonCodes(
        adverse_outcome=7,
        codes=[
            ReasonCode(feature="incom", code="I", text="Income"),
            ReasonCode(feature="age", code="A", text="Age"),
        ],
    )
    await _govern(gateway, source, Governance(reason_codes=codes))
    summary = (await client.get("/version")).json()["governance"]
    problems = summary["reason_code_problems"]
    assert "feature 'incom' is not an input of credit@1 (did you mean 'income'?)" in problems[0]
    assert "adverse_outcome 7 is not a class of credit@1" in problems[1]


async def test_a_drift_alert_refers_every_record_until_it_clears(
    gateway_client: tuple[Gateway, httpx.AsyncClient], source: FakeSource
) -> None:
    gateway, client = gateway_client
    section = Oversight(refer=Referral(drift="alert"))
    await _govern(gateway, source, Governance(oversight=section, monitor_status="warn"))
    calm = (await client.post("/predict", json=ROWS[:2])).json()
    assert calm["decisions"] == ["answered", "answered"]
    await _govern(gateway, source, Governance(oversight=section, monitor_status="critical"))
    drifted = (await client.post("/predict", json=ROWS[:2])).json()
    assert drifted["decisions"] == ["referred", "referred"]
    assert "latest monitoring run is at critical" in drifted["referrals"][0]["reasons"][0]
