"""`govml serve`'s large-request process: large bodies answered by a niced second gateway.

One real `govml serve` (its default: large requests go to a second process, started at the
first one) on a store where credit@1 holds production. A body over `SMALL_BODY` is answered
by that process with the same predictions the gateway gives in small requests; its request id
is known to the gateway at once (feedback), its records are in the log and the metrics; when
the process is killed the gateway answers large requests itself, and it stops the process
when it stops.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.integration.test_lifecycle import Team
from tests.integration.test_serving_gateway import (
    Served,
    read_log,
    record,
    serve,
    wait_for,
)
from tests.integration.test_serving_gateway import store as store  # the module's store fixture

from govml.serving.payload import SMALL_BODY

RECORDS = 2_500  # about 110 KB as columns: over SMALL_BODY
RESTART_SECONDS = 3  # instead of 30: the restart test waits for it


@pytest.fixture(scope="module")
def served(store: Team) -> Iterator[Served]:
    with serve(
        store.db_url,
        store.home,
        store.tmp,
        "--large-restart-seconds",
        str(RESTART_SECONDS),
    ) as gateway:
        yield gateway


def columns(count: int, offset: int = 0) -> dict[str, Any]:
    rows = [record(offset + i) for i in range(count)]
    return {"columns": {name: [row[name] for row in rows] for name in rows[0]}}


def large_process(http: httpx.Client) -> dict[str, Any]:
    answer = http.get("/version")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()["gateway"]["large_process"]
    return found


def started(http: httpx.Client) -> int:
    """Have the gateway start its large-request process (a large request does); its pid."""
    if not large_process(http)["ready"]:
        assert http.post("/predict", json=columns(RECORDS)).status_code == 200
        wait_for(lambda: large_process(http)["ready"], timeout=90)
    return int(large_process(http)["pid"])


def nice_of(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[16])  # field 19 of proc(5), counted after the command's ")"


@pytest.fixture
def http(served: Served) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {served.key}"}
    with httpx.Client(base_url=served.url, headers=headers, timeout=120) as client:
        yield client


def test_a_large_request_is_answered_by_the_niced_process_like_small_ones(
    served: Served, http: httpx.Client
) -> None:
    body = columns(RECORDS)
    assert len(httpx.Request("POST", "/", json=body).content) > SMALL_BODY
    first = http.post("/predict", json=body)  # starts the process; answered meanwhile
    assert first.status_code == 200, first.text
    wait_for(lambda: large_process(http)["ready"], timeout=90)
    described = large_process(http)
    gateway_pid = http.get("/version").json()["gateway"]["pid"]
    assert described["pid"] not in (None, gateway_pid)
    assert nice_of(described["pid"]) == 10 == described["nice"]

    answer = http.post("/predict", json=body, headers={"X-Request-ID": "large-request-1"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-request-id"] == "large-request-1"
    assert answer.headers["x-records"] == str(RECORDS)
    assert answer.headers["x-model-version"] == "1"
    data = answer.json()
    assert data["request_id"] == "large-request-1"
    # The same records in small requests, answered by the gateway's own process.
    small = []
    for start in range(0, RECORDS, 500):
        part = http.post("/predict", json=columns(500, start))
        assert part.status_code == 200
        assert len(part.content) < SMALL_BODY
        small.extend(part.json()["predictions"])
    assert data["predictions"] == small == first.json()["predictions"]

    # The gateway knows the id at once: a label is taken, a second refused.
    feedback = http.post(
        "/feedback", json={"request_id": "large-request-1", "record": 7, "label": 1}
    )
    assert feedback.status_code == 200, feedback.text
    again = http.post("/feedback", json={"request_id": "large-request-1", "record": 7, "label": 0})
    assert again.status_code == 409, again.text

    # Its records are logged (by the second process, in the same log) and counted once.
    wait_for(
        lambda: (read_log(served.log_dir)["request_id"] == "large-request-1").sum() == RECORDS,
        timeout=30,
    )
    families = {
        family.name: family for family in text_string_to_metric_families(http.get("/metrics").text)
    }
    records = sum(s.value for s in families["govml_gateway_records"].samples)
    assert records == 3 * RECORDS  # two large requests and the small ones
    predict_requests = [
        s.value
        for s in families["govml_gateway_requests"].samples
        if s.labels == {"endpoint": "/predict", "status": "200"}
    ]
    assert predict_requests == [2 + RECORDS // 500]


def test_a_bad_large_request_is_refused_by_the_process_with_its_field(
    served: Served, http: httpx.Client
) -> None:
    started(http)
    body = columns(RECORDS)
    body["columns"]["x2"][1234] = "not a number"
    answer = http.post("/predict", json=body)
    assert answer.status_code == 422, answer.text
    assert any(e.get("record") == 1234 and e.get("field") == "x2" for e in answer.json()["errors"])
    unauthorised = httpx.post(f"{served.url}/predict", json=columns(RECORDS), timeout=60)
    assert unauthorised.status_code == 401


def test_when_the_process_is_killed_the_gateway_answers_large_requests_itself(
    served: Served, http: httpx.Client
) -> None:
    pid = started(http)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: large_process(http)["pid"] != pid, timeout=10)  # the gateway saw it end
    answer = http.post("/predict", json=columns(RECORDS, 100))
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == RECORDS


def test_the_process_is_started_again_and_stopped_with_the_gateway(
    served: Served, http: httpx.Client
) -> None:
    # After the kill above, a large request starts it again (at most once every RESTART_SECONDS).
    deadline = time.monotonic() + RESTART_SECONDS + 90
    while not large_process(http)["ready"]:
        assert time.monotonic() < deadline, "the large-request process was not started again"
        assert http.post("/predict", json=columns(RECORDS)).status_code == 200
        time.sleep(2)
    pid = large_process(http)["pid"]
    served.process.send_signal(signal.SIGTERM)
    assert served.process.wait(timeout=60) in (0, -signal.SIGTERM), served.text()
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and "Z" not in _state(pid):
        assert time.monotonic() < deadline, "the large-request process outlived the gateway"
        time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return "gone"


def test_the_process_stops_when_the_gateway_is_killed(store: Team) -> None:
    with serve(store.db_url, store.home, store.tmp, name="killed") as gateway:
        headers = {"Authorization": f"Bearer {gateway.key}"}
        with httpx.Client(base_url=gateway.url, headers=headers, timeout=120) as client:
            assert client.post("/predict", json=columns(RECORDS)).status_code == 200
            wait_for(lambda: large_process(client)["ready"], timeout=90)
            pid = large_process(client)["pid"]
        folder = Path(Path(f"/proc/{pid}/cmdline").read_text().split("\0")[3]).parent
        assert folder.name.startswith("govml-large-") and folder.is_dir()
        gateway.process.kill()
        gateway.process.wait(timeout=10)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{pid}").exists() and "Z" not in _state(pid):
            assert time.monotonic() < deadline, "the large-request process outlived the gateway"
            time.sleep(0.2)
        assert not folder.exists(), "the process left its socket's folder behind"
