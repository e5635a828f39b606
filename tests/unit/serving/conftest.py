"""Fixtures for gateway tests: a registry stand-in and the gateway on httpx's ASGI transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from serving_fakes import FakeSource, fit

from govml.serving import Gateway, GatewayOptions


@pytest.fixture
def source() -> FakeSource:
    made = FakeSource()
    made.add(1, fit(made.frame))
    made.add(2, fit(made.frame, flip=True))
    made.alias_map["production"] = 1
    return made


@pytest.fixture
async def gateway_client(
    source: FakeSource, tmp_path: Path
) -> AsyncIterator[tuple[Gateway, httpx.AsyncClient]]:
    options = GatewayOptions(
        model="credit", log_dir=tmp_path / "log", poll_seconds=3600, flush_seconds=0.05
    )
    key = source.issue("predict", "feedback")
    gateway = Gateway(options, source)
    await gateway.startup()
    transport = httpx.ASGITransport(app=gateway)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gateway", headers=headers
    ) as client:
        yield gateway, client
    await gateway.shutdown()
