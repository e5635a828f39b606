"""The prediction log in an S3-compatible bucket: uploaded with no loss, read by monitoring.

Against moto's S3 server on loopback (a real HTTP server; boto3 configured by the standard
AWS variables only), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.integration import test_monitoring
from tests.integration.s3_server import aws_env, make_bucket, s3_server
from tests.integration.test_monitoring import DAY, MODEL, Watched, frame

from govml.errors import ConfigurationError
from govml.serving.shipping import LogShipper, marker
from govml.settings import load_settings
from govml.store.s3_client import s3_client
from govml.store.s3_logs import S3LogSender

# The monitoring tests' store with model credit in production, and their webhook receiver.
watched = test_monitoring.watched
hook = test_monitoring.hook
BUCKET = "govml-logs"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with s3_server() as url, aws_env(url):
        make_bucket(BUCKET)
        yield url


def _keys(prefix: str) -> dict[str, bytes]:
    client = s3_client()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return {
        item["Key"]: client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        for page in pages
        for item in page.get("Contents", [])
    }


def _checks(run: Any) -> dict[tuple[int, str], tuple[str, Any]]:
    return {
        (report.version, check.check): (check.status, check.value)
        for report in run.versions
        for check in report.checks
    }


def test_files_stay_in_the_spool_until_the_bucket_takes_them(
    watched: Watched, endpoint: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    watched.serve(2, frame(300, seed=3))
    location = f"s3://{BUCKET}/{request.node.name.replace('[', '-').replace(']', '')}"
    with aws_env(endpoint):
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # the bucket is away
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
        away = LogShipper(watched.logs, MODEL, S3LogSender(location), every=1.0)
        pending = away.pending()
        assert pending and away.ship() == 0
        assert not any(marker(path).exists() for path in pending)
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # it is back
        back = LogShipper(watched.logs, MODEL, S3LogSender(location), every=1.0)
        assert back.ship() == len(pending)
        assert back.pending() == []
        stored = _keys(location.removeprefix(f"s3://{BUCKET}/") + "/")
    assert len(stored) == len(pending)
    for path in pending:
        relative = path.relative_to(watched.logs).as_posix()
        key = next(k for k in stored if k.endswith(relative))
        assert hashlib.sha256(stored[key]).digest() == hashlib.sha256(path.read_bytes()).digest()
        assert path.exists()  # the local copy stays: the gateway checks labels against it


def test_monitor_reads_the_bucket_as_it_reads_the_folder(
    watched: Watched, endpoint: str, request: pytest.FixtureRequest
) -> None:
    watched.serve(2, frame(800, seed=7, shift=1.5))
    watched.serve(2, frame(400, seed=8), start=DAY + timedelta(hours=1), prefix="s")
    location = f"s3://{BUCKET}/{request.node.name.replace('[', '-').replace(']', '')}"
    with aws_env(endpoint):
        LogShipper(watched.logs, MODEL, S3LogSender(location), every=1.0).ship()
        local = watched.monitor(dry_run=True)
        remote = watched.team["frank"].monitor(
            MODEL, log_dir=location, since=DAY, until=DAY + timedelta(days=1), dry_run=True
        )
    assert remote.versions and _checks(remote) == _checks(local)
    assert any(status in ("alert", "critical") for status, _ in _checks(remote).values())


def test_a_log_location_that_is_not_a_bucket_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GOVML_PREDICTION_LOG", "/var/log/govml")
    with pytest.raises(ConfigurationError, match="GOVML_PREDICTION_LOG: a prediction log location"):
        load_settings()


def test_a_file_outside_the_log_layout_is_never_sent(tmp_path: Path, endpoint: str) -> None:
    stray = tmp_path / "model=credit" / "version=1" / "notes.txt"
    stray.parent.mkdir(parents=True)
    stray.write_text("x")
    with aws_env(endpoint), pytest.raises(Exception, match="not a closed prediction log file"):
        S3LogSender(f"s3://{BUCKET}/x")(MODEL, stray, kind="predictions", version=1)
