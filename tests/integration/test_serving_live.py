"""`govml serve` under traffic: SIGTERM loses no acknowledged prediction, and a promotion or a
rollback switches versions without a failed request (SQLite and PostgreSQL)."""

from __future__ import annotations

import signal
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import polars as pl
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tests.integration.test_lifecycle import Team
from tests.integration.test_serving_gateway import (
    MODEL,
    build_store,
    read_log,
    record,
    serve,
    wait_for,
)

import govml


@dataclass
class Traffic:
    """Client threads posting one record per request until told to stop or refused."""

    url: str
    key: str
    clients: int = 4
    answers: list[tuple[str, int, int | None]] = field(default_factory=list)  # id, status, version
    refused: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Traffic:
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.clients)
        ]
        for thread in self.threads:
            thread.start()
        return self

    def _run(self, worker: int) -> None:
        headers = {"Authorization": f"Bearer {self.key}"}
        with httpx.Client(base_url=self.url, timeout=30, headers=headers) as client:
            i = 0
            while not self.stop.is_set() and i < 20_000:  # bounded in count
                i += 1
                request_id = f"w{worker}-{i}-{uuid.uuid4().hex[:6]}"
                try:
                    response = client.post(
                        "/predict", json=record(i), headers={"X-Request-ID": request_id}
                    )
                except httpx.TransportError:
                    with self.lock:
                        self.refused += 1
                    if self.refused > 50:
                        return
                    continue
                version = response.json().get("version") if response.status_code == 200 else None
                with self.lock:
                    self.answers.append((request_id, response.status_code, version))

    def count(self) -> int:
        with self.lock:
            return len(self.answers)

    def versions(self) -> list[int | None]:
        with self.lock:
            return [version for _, _, version in self.answers]

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


@pytest.fixture
def team(db_url: str, home: Path, tmp_path: Path) -> Iterator[Team]:
    made = build_store(db_url, home, tmp_path)
    yield made
    made.close()


def test_sigterm_under_load_loses_no_acknowledged_prediction(tmp_path: Path, home: Path) -> None:
    url = f"sqlite:///{home / 'govml.db'}"
    govml.connect(home, database_url=url, user="alice", create=True).close()
    made = build_store(url, home, tmp_path)
    # A long flush interval: at SIGTERM the records are still only in memory.
    with serve(made.db_url, home, tmp_path, "--flush-seconds", "600") as served:
        traffic = Traffic(served.url, served.key).start()
        try:
            wait_for(lambda: traffic.count() >= 400)
            served.process.send_signal(signal.SIGTERM)
            code = served.process.wait(timeout=60)
        finally:
            traffic.finish()
            made.close()
    # uvicorn shuts down gracefully, then re-raises the signal: the status says SIGTERM.
    assert code in (0, -signal.SIGTERM), served.text()
    assert "Application shutdown complete" in served.text()
    acknowledged = {rid for rid, status, _ in traffic.answers if status == 200}
    assert len(acknowledged) >= 400
    assert {status for _, status, _ in traffic.answers} == {200}
    logged = read_log(served.log_dir)
    assert logged["request_id"].n_unique() == logged.height  # one row per single-record request
    missing = acknowledged - set(logged["request_id"].to_list())
    assert not missing, f"{len(missing)} acknowledged predictions are not in the log"
    events = read_log(served.log_dir, "events")
    assert events["event"].to_list() == ["start", "stop"]
    assert "gateway stopped" in events["detail"].to_list()


def test_promotion_and_rollback_switch_versions_live_without_failures(team: Team) -> None:
    with serve(
        team.db_url, team.home, team.tmp, "--poll-seconds", "0.2", "--flush-seconds", "0.2"
    ) as served:
        traffic = Traffic(served.url, served.key).start()
        try:
            wait_for(lambda: traffic.count() >= 50)
            frank = team["frank"]
            frank.promote(f"{MODEL}@2", to="production", reason="better")
            wait_for(lambda: traffic.versions()[-1] == 2)
            mark = traffic.count()
            wait_for(lambda: traffic.count() >= mark + 50)
            frank.rollback(MODEL, reason="back to 1 during traffic")
            wait_for(lambda: traffic.versions()[-1] == 1)
            mark = traffic.count()
            wait_for(lambda: traffic.count() >= mark + 50)
            with httpx.Client(base_url=served.url, headers=served.headers) as client:
                metrics = client.get("/metrics").text
        finally:
            traffic.finish()
            served.stop()
    statuses = [status for _, status, _ in traffic.answers]
    assert set(statuses) == {200}, f"{len(statuses) - statuses.count(200)} requests failed"
    assert traffic.refused == 0
    # Versions seen in order: 1, then 2, then 1 again (requests in flight may interleave).
    versions = traffic.versions()
    first_two, last_two = versions.index(2), len(versions) - 1 - versions[::-1].index(2)
    assert set(versions[:first_two]) == {1} and set(versions[last_two + 1 :]) == {1}
    assert versions[-50:] == [1] * 50

    families = {f.name: f for f in text_string_to_metric_families(metrics)}
    switches = {
        s.labels["variant"]: s.value for s in families["govml_gateway_model_switches"].samples
    }
    assert switches["champion"] == 2
    events = read_log(served.log_dir, "events").sort("time")
    switched = events.filter(pl.col("event") == "switch")
    assert switched.select("version", "previous").rows() == [(2, 1), (1, 2)]
    assert "credit@2 answers for production" in served.text()
    logged = read_log(served.log_dir)
    by_version = dict(logged.group_by("version").len().rows())
    assert by_version[1] + by_version[2] == logged.height == len(statuses)
    assert by_version[2] == versions.count(2)
