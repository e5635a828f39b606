"""Artifacts in an S3-compatible bucket: content-addressed, write-once, digest-checked.

Against moto's S3 server started on loopback (a real HTTP server; govml's boto3 client is
configured by the standard AWS variables only), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from tests.integration.s3_server import aws_env, make_bucket, s3_server

import govml
from govml.errors import ConfigurationError, IntegrityError, NotFoundError, StoreError
from govml.settings import load_settings
from govml.store.artifact_stores import open_artifact_store
from govml.store.s3_artifacts import S3ArtifactStore
from govml.store.s3_client import s3_client

BUCKET = "govml-artifacts"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with s3_server() as url, aws_env(url):
        make_bucket(BUCKET)
        yield url


@pytest.fixture
def location(endpoint: str, request: pytest.FixtureRequest) -> Iterator[str]:
    with aws_env(endpoint):
        yield f"s3://{BUCKET}/{request.node.name.replace('[', '-').replace(']', '')}"


def _model() -> tuple[LogisticRegression, pd.DataFrame]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.integers(18, 90, 200), "income": rng.normal(5e4, 1e4, 200)})
    frame["label"] = (frame["income"] + 500 * frame["age"] > 70_000).astype("int64")
    return LogisticRegression(max_iter=300).fit(frame[["age", "income"]], frame["label"]), frame


def _objects(prefix: str) -> dict[str, bytes]:
    client = s3_client()
    listed = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix + "/").get("Contents", [])
    return {
        item["Key"]: client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        for item in listed
    }


def test_registered_model_lives_in_the_bucket_and_loads_back(
    db_url: str, home: Path, location: str
) -> None:
    model, frame = _model()
    client = govml.connect(home, database_url=db_url, user="alice", artifacts=location)
    try:
        client.create_model("credit", risk_tier="minimal")
        version = client.register_version("credit", model=model, train_data=frame, target="label")
        prefix = location.removeprefix(f"s3://{BUCKET}/")
        stored = _objects(prefix)
        hex_digest = version.artifact_digest.removeprefix("sha256:")
        key = f"{prefix}/sha256/{hex_digest[:2]}/{hex_digest[2:]}"
        assert key in stored
        assert hashlib.sha256(stored[key]).hexdigest() == hex_digest
        assert not (home / "artifacts" / "sha256").exists()  # nothing went to the home folder
        loaded = client.load_model("credit@1")
        assert list(loaded.predict(frame[["age", "income"]])) == list(
            model.predict(frame[["age", "income"]])
        )
        assert client.verify_ledger(artifacts=True).artifacts["checked"] == 1  # type: ignore[index]
    finally:
        client.close()


def test_changed_bytes_in_the_bucket_are_refused_and_named_by_audit(
    db_url: str, home: Path, location: str
) -> None:
    model, frame = _model()
    client = govml.connect(home, database_url=db_url, user="alice", artifacts=location)
    try:
        client.create_model("credit", risk_tier="minimal")
        version = client.register_version("credit", model=model, train_data=frame, target="label")
        store = client.ctx.artifacts
        assert isinstance(store, S3ArtifactStore)
        s3_client().put_object(
            Bucket=BUCKET, Key=store.key_for(version.artifact_digest), Body=b"not the model"
        )
        with pytest.raises(IntegrityError, match="was modified"):
            client.load_model("credit@1")
        with pytest.raises(IntegrityError, match=r"credit@1 \(sha256:[0-9a-f]+\): its bytes"):
            client.verify_ledger(artifacts=True)
    finally:
        client.close()


def test_write_once_and_digest_checked(location: str) -> None:
    store = open_artifact_store(location)
    digest = store.put_bytes(b"evidence")
    assert store.put_bytes(b"evidence") == digest
    assert store.exists(digest) and store.get_bytes(digest) == b"evidence"
    assert store.problem(digest) is None
    absent = "sha256:" + "0" * 64
    assert store.problem(absent) == "its object is missing"
    with pytest.raises(NotFoundError, match="is not in the artifact store s3://"):
        store.get_bytes(absent)
    assert len(_objects(location.removeprefix(f"s3://{BUCKET}/"))) == 1


def test_a_file_is_hashed_as_it_is_copied(location: str, tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"x" * 3_000_000)
    store = open_artifact_store(location)
    digest, size = store.put_file(path)
    assert size == 3_000_000
    assert digest == "sha256:" + hashlib.sha256(b"x" * 3_000_000).hexdigest()
    assert store.get_bytes(digest) == path.read_bytes()


def test_an_unreachable_store_is_exit_4_naming_it(
    monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    store = open_artifact_store(f"s3://{BUCKET}/x")
    with pytest.raises(StoreError, match=f"artifact store s3://{BUCKET}/x cannot be reached") as e:
        store.put_bytes(b"data")
    assert e.value.exit_code == 4
    assert "AWS_ENDPOINT_URL" in (e.value.hint or "")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ftp://host/x", "unknown artifact store scheme 'ftp'"),
        ("s3://", "an S3 artifact location is s3://BUCKET"),
        ("s3://bucket/x?versionId=1", "an S3 artifact location is s3://BUCKET"),
    ],
)
def test_bad_locations_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    monkeypatch.setenv("GOVML_ARTIFACTS", value)
    with pytest.raises(ConfigurationError, match="GOVML_ARTIFACTS: " + message):
        load_settings()


def test_invalid_digests_never_become_keys(location: str) -> None:
    store = open_artifact_store(location)
    for digest in ("sha256:../../etc/passwd", "sha256:" + "A" * 64, "md5:" + "0" * 32):
        with pytest.raises(govml.errors.InputError, match="invalid artifact digest"):
            store.get_bytes(digest)
