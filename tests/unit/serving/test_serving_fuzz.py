"""Fuzzing the gateway's request parsing (hypothesis): whatever the body, a 2xx or a 4xx, in time.

The gateway runs in-process on its own event loop; each example is one request to /predict or
/feedback with a body built from JSON values of every kind (integers past 64 bits, floats,
strings, nesting, duplicate keys, bytes that are not UTF-8...). The pieces decoder is checked
against decoding whole on the shapes it splits.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serving_fakes import FakeSource, fit

from govml.serving import Gateway, GatewayOptions
from govml.serving.chunked import loads_in_pieces

FIELDS = ["age", "income", "city", "customer", "x"]
REQUEST_SECONDS = 30

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["paris", "lyon", "nice", "2024-05-01", "1e999", "NaN"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=10,
)
records = st.dictionaries(st.sampled_from(FIELDS), values, max_size=5)
bodies = st.one_of(
    records,
    st.lists(records, max_size=5),
    st.fixed_dictionaries({"records": st.lists(records, max_size=5)}),
    st.fixed_dictionaries(
        {"columns": st.dictionaries(st.sampled_from(FIELDS), st.lists(values, max_size=4))}
    ),
    st.fixed_dictionaries(
        {
            "feedback": st.lists(
                st.dictionaries(st.sampled_from(["request_id", "label", "record", "x"]), values),
                max_size=4,
            )
        }
    ),
    values,
)


def _text(body: Any, duplicate: bool) -> bytes:
    text = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if duplicate and text.startswith(b'{"') and b":" in text:
        key = text[1 : text.index(b":")]
        text = b"{" + key + b":0," + text[1:]  # the first key once more, first
    return text


class Running:
    """A gateway on an event loop of its own, and a key of it."""

    def __init__(self, tmp: Path) -> None:
        source = FakeSource()
        source.add(1, fit(source.frame))
        source.alias_map["production"] = 1
        self.key = source.issue("predict", "feedback").encode()
        options = GatewayOptions(model="credit", log_dir=tmp / "log", poll_seconds=3600)
        self.gateway = Gateway(options, source)
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(self.gateway.startup())

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        sent: list[dict[str, Any]] = []
        chunks = [body[i : i + 700] for i in range(0, len(body), 700)] or [b""]

        async def receive() -> dict[str, Any]:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "method": "POST",
            "path": path,
            "headers": [(b"authorization", b"Bearer " + self.key)],
        }
        call = self.gateway(scope, receive, send)
        self.loop.run_until_complete(asyncio.wait_for(call, REQUEST_SECONDS))
        return int(sent[0]["status"]), bytes(sent[1]["body"])

    def close(self) -> None:
        self.loop.run_until_complete(self.gateway.shutdown())
        self.loop.close()


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    made = Running(tmp_path_factory.mktemp("fuzz"))
    yield made
    made.close()


def _check(status: int, answer: bytes) -> None:
    assert status < 500, answer
    data = orjson.loads(answer)
    if status >= 400:
        assert data["errors"] and all(e["message"] for e in data["errors"]), data


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies, duplicate=st.booleans(), path=st.sampled_from(["/predict", "/feedback"]))
def test_any_json_body_is_answered_without_a_500(
    running: Running, body: Any, duplicate: bool, path: str
) -> None:
    _check(*running.post(path, _text(body, duplicate)))


@settings(max_examples=300, deadline=None)
@given(raw=st.binary(max_size=300), path=st.sampled_from(["/predict", "/feedback"]))
def test_any_bytes_are_answered_without_a_500(running: Running, raw: bytes, path: str) -> None:
    _check(*running.post(path, raw))


@settings(max_examples=300, deadline=None)
@given(
    body=st.one_of(
        st.lists(records, max_size=30),
        st.fixed_dictionaries({"records": st.lists(records, max_size=30)}),
        st.fixed_dictionaries(
            {"columns": st.dictionaries(st.sampled_from(FIELDS), st.lists(values, max_size=30))}
        ),
    ),
    indent=st.booleans(),
    piece=st.integers(min_value=1, max_value=200),
    cut=st.integers(min_value=0, max_value=10_000),
    damage=st.binary(max_size=3),
)
def test_decoding_in_pieces_is_decoding_whole_or_nothing(
    body: Any, indent: bool, piece: int, cut: int, damage: bytes
) -> None:
    text = json.dumps(body, indent=2 if indent else None).encode()
    for variant in (text, text[: cut % (len(text) + 1)] + damage + text[cut % (len(text) + 1) :]):
        decoded = loads_in_pieces(variant, piece)
        if decoded is None:
            continue
        assert decoded == orjson.loads(variant)
