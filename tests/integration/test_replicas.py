"""Two `govml serve` replicas on one PostgreSQL and one S3 log store, under load.

Both follow a promotion and a rollback without a failed request; each uploads its own log
files (named by its process) to the bucket; every acknowledged prediction is there exactly
once; and a monitoring run over the bucket merges both replicas' files. The bucket is moto's
S3 server on loopback, the gateways real processes configured by the standard AWS variables.
"""

from __future__ import annotations

import io
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tests.integration.s3_server import aws_environment, make_bucket, s3_server
from tests.integration.test_lifecycle import Team
from tests.integration.test_serving_gateway import MODEL, build_store, serve, wait_for
from tests.integration.test_serving_live import Traffic

from govml.store.s3_client import s3_client

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
BUCKET = "govml-replicas"


@pytest.fixture
def team(pg_url: str, home: Path, tmp_path: Path) -> Iterator[Team]:
    made = build_store(pg_url, home, tmp_path)
    yield made
    made.close()


@pytest.fixture
def log_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with s3_server() as endpoint:
        for key, value in aws_environment(endpoint).items():
            monkeypatch.setenv(key, value)
        make_bucket(BUCKET)
        location = f"s3://{BUCKET}/logs-{uuid.uuid4().hex[:8]}"
        monkeypatch.setenv("GOVML_PREDICTION_LOG", location)
        yield location


def _uploaded(location: str) -> dict[str, list[str]]:
    """Return the request ids in each uploaded prediction file, by key."""
    client = s3_client()
    prefix = location.removeprefix(f"s3://{BUCKET}/") + f"/model={MODEL}/"
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    found: dict[str, list[str]] = {}
    for page in pages:
        for item in page.get("Contents", []):
            if "/version=" not in item["Key"]:
                continue
            body = client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
            found[item["Key"]] = pq.read_table(io.BytesIO(body)).column("request_id").to_pylist()
    return found


def test_two_replicas_follow_a_rollback_under_load_and_lose_nothing(
    team: Team, log_store: str
) -> None:
    options = ("--poll-seconds", "0.2", "--flush-seconds", "0.2")
    with (
        serve(team.db_url, team.home, team.tmp, *options, name="replica-a") as first,
        serve(team.db_url, team.home, team.tmp, *options, name="replica-b") as second,
    ):
        loads = [
            Traffic(first.url, first.key, clients=2),
            Traffic(second.url, second.key, clients=2),
        ]
        for load in loads:
            load.start()
        try:
            wait_for(lambda: all(load.count() >= 40 for load in loads))
            frank = team["frank"]
            frank.promote(f"{MODEL}@2", to="production", reason="better")
            wait_for(lambda: all(load.versions()[-1] == 2 for load in loads))
            marks = [load.count() for load in loads]
            wait_for(lambda: all(n.count() >= m + 40 for n, m in zip(loads, marks, strict=True)))
            frank.rollback(MODEL, reason="back to 1 on both replicas")
            wait_for(lambda: all(load.versions()[-1] == 1 for load in loads))
            marks = [load.count() for load in loads]
            wait_for(lambda: all(n.count() >= m + 40 for n, m in zip(loads, marks, strict=True)))
        finally:
            for load in loads:
                load.finish()
        # SIGTERM: each replica writes what it holds and uploads it before it exits (uvicorn
        # then re-raises the signal, so the status says SIGTERM).
        for replica in (first, second):
            assert replica.stop() in (0, -signal.SIGTERM), replica.text()
            assert "Application shutdown complete" in replica.text()
    answers = [answer for load in loads for answer in load.answers]
    statuses = [status for _, status, _ in answers]
    assert set(statuses) == {200}, f"{len(statuses) - statuses.count(200)} requests failed"
    assert all(load.refused == 0 for load in loads)
    for load in loads:
        versions = load.versions()
        assert 2 in versions and versions[-20:] == [1] * 20

    uploaded = _uploaded(log_store)
    writers = {key.rsplit("/", 1)[1].split("-")[3] for key in uploaded}  # part-STAMP-PID-...
    assert len(writers) == 2, f"files of {len(writers)} processes: {sorted(uploaded)[:4]}"
    logged = [request_id for ids in uploaded.values() for request_id in ids]
    acknowledged = [request_id for request_id, _, _ in answers]
    assert len(logged) == len(set(logged)), "a prediction was logged twice"
    assert set(logged) == set(acknowledged), "an acknowledged prediction is not in the bucket"

    run = team["frank"].monitor(MODEL, log_dir=log_store, window="1d", dry_run=True)
    assert sum(report.rows for report in run.versions) == len(acknowledged)
    assert {report.version for report in run.versions} == {1, 2}
