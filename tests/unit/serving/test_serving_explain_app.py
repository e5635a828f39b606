"""``POST /predict?explain=k`` in-process: contributions, reason codes, the log, bad input."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
import orjson
import pandas as pd
import pyarrow.parquet as pq
import pytest
import shap
from serving_fakes import FakeSource

from govml.policy.decisions import ReasonCode, ReasonCodes
from govml.serving import Gateway
from govml.serving.explain import explainer_for
from govml.serving.governance import Governance

pytestmark = pytest.mark.anyio
ROWS = [
    {"age": 30, "income": 41.0, "city": "paris"},
    {"age": 60, "income": 62.0, "city": "nice"},
]
CODES = ReasonCodes(
    adverse_outcome=0,
    codes=[
        ReasonCode(feature="income", code="R01", text="Income", adverse="Income too low"),
        ReasonCode(feature="city", code="R02", text="City", adverse="City of residence"),
        ReasonCode(feature="age", code="R03", text="Age", adverse="Age"),
    ],
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _with_codes(gateway: Gateway, source: FakeSource, codes: ReasonCodes) -> None:
    source.governance = lambda name: Governance(reason_codes=codes)
    await asyncio.get_running_loop().run_in_executor(None, gateway.follower.refresh)


async def test_explanations_are_exact_and_carry_adverse_reasons(
    gateway_client: tuple[Gateway, httpx.AsyncClient], source: FakeSource, tmp_path: Path
) -> None:
    gateway, client = gateway_client
    await _with_codes(gateway, source, CODES)
    response = await client.post("/predict?explain=2", json=ROWS)
    assert response.status_code == 200, response.text
    answer = response.json()
    explanations = answer["explanations"]
    assert len(explanations) == 2
    deployment = gateway.follower.state.champion
    assert deployment is not None
    model = deployment.model.raw
    frame = pd.DataFrame(ROWS)
    baseline = explainer_for(deployment).baseline
    masker = shap.maskers.Independent(model[:-1].transform(baseline), max_samples=1)
    values = shap.LinearExplainer(model[-1], masker).shap_values(model[:-1].transform(frame))
    # The encoder puts city's three one-hot columns first, then age and income.
    per_input = np.column_stack([values[:, 3], values[:, 4], values[:, :3].sum(axis=1)])
    for row, explanation in enumerate(explanations):
        assert explanation["method"] == "linear"
        assert explanation["output"] == "log-odds of class 1"
        top = explanation["contributions"]
        assert len(top) == 2
        order = np.argsort(-np.abs(per_input[row]))[:2]
        assert [item["feature"] for item in top] == [["age", "income", "city"][j] for j in order]
        for item in top:
            j = ["age", "income", "city"].index(item["feature"])
            assert item["contribution"] == pytest.approx(per_input[row, j], abs=1e-6)
            assert item["value"] == ROWS[row][item["feature"]]
        adverse = answer["predictions"][row] == 0
        assert explanation["adverse"] is adverse
        for reason in explanation["reasons"]:
            assert reason["code"] in ("R01", "R02", "R03")
            if adverse:
                assert reason["text"] in ("Income too low", "City of residence", "Age")
    logged: list[str] = []
    for _ in range(100):  # the log writer flushes every 0.05 s
        await asyncio.sleep(0.05)
        files = sorted((tmp_path / "log").glob("model=credit/version=1/date=*/*.parquet"))
        logged = [
            text
            for f in files
            if "explanation" in pq.read_schema(f).names
            for text in pq.read_table(f).column("explanation").to_pylist()
            if text
        ]
        if logged:
            break
    assert [orjson.loads(text) for text in logged] == explanations


@pytest.mark.parametrize("value", ["0", "999999", "-1", "two", "1.5", "", "4"])
async def test_a_bad_k_is_refused_naming_the_field(
    gateway_client: tuple[Gateway, httpx.AsyncClient], value: str
) -> None:
    _, client = gateway_client
    response = await client.post(f"/predict?explain={value}", json=ROWS)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "explain"
    assert "from 1 to 3" in error["message"]


async def test_too_many_records_to_explain_are_refused(
    gateway_client: tuple[Gateway, httpx.AsyncClient],
) -> None:
    _, client = gateway_client
    response = await client.post("/predict?explain=1", json=ROWS * 501)
    assert response.status_code == 422
    assert "at most 1000 records" in response.json()["errors"][0]["message"]


async def test_without_explain_nothing_changes(
    gateway_client: tuple[Gateway, httpx.AsyncClient],
) -> None:
    _, client = gateway_client
    answer = (await client.post("/predict", json=ROWS)).json()
    assert "explanations" not in answer
