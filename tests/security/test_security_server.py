"""Attacks on the REST server's bodies, through real uvicorn on SQLite and PostgreSQL.

- nobody's body is read before the caller is authenticated, and an upload's before the caller is
  known to hold the permission its route needs (a raw socket announces a large body, sends a
  little of it, and gets its 401 / 403 at once);
- a small compressed Parquet file that decodes into hundreds of megabytes is refused by its
  decoded size (413, naming the field) and never expanded; too many rows likewise;
- a JSON body is held to the (lower) JSON limit;
- no error body names a folder of the server, nor does any answer (the ledger key's file, the
  feedback file labels were written to);
- a server killed while a gateway's log file waits in it leaves nothing in the system's
  temporary folder, and the next server to start removes it from its home.
"""

from __future__ import annotations

import io
import json
import os
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression
from tests.integration.monitoring_logs import write_predictions
from tests.security.test_security_artifacts import (
    GOVML,
    START_DEADLINE_S,
    _free_port,
    _wait_for_health,
)

import govml
from govml.server import create_app
from govml.server.background import serving
from govml.server.limits import ServerLimits
from govml.settings import load_settings

LIMITS = ServerLimits(
    max_upload_bytes=8 << 20,
    max_json_bytes=256 << 10,
    max_table_rows=100_000,
    max_table_bytes=32 << 20,
)


class Server:
    """A store with an admin (alice), a contributor (bob) and a viewer (vic), served over HTTP."""

    def __init__(self, url: str, home: Path, db_url: str) -> None:
        self.url, self.home = url, home
        self.local = govml.connect(home, database_url=db_url, user="alice")
        self.local.init()
        self.tokens = {
            "bob": self.local.add_user("bob", roles=["contributor"]).token,
            "vic": self.local.add_user("vic", roles=["viewer"]).token,
        }
        self.local.create_model("credit", risk_tier="minimal", description="d", intended_use="u")
        frame = _frame()
        model = LogisticRegression().fit(frame[["x1", "x2"]], frame["y"])
        self.version = self.local.register_version(
            "credit", model=model, train_data=frame, target="y"
        )

    def http(self, who: str | None = None) -> httpx.Client:
        headers = {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


def _frame(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2))
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": (x[:, 0] > 0).astype("int64")})


@pytest.fixture
def server(db_url: str, home: Path) -> Iterator[Server]:
    govml.connect(home, database_url=db_url, user="alice").close()
    app = create_app(load_settings(home=home, database_url=db_url), limits=LIMITS)
    with serving(app) as url:
        made = Server(url, home, db_url)
        yield made
        made.local.close()


def _head_only(url: str, path: str, token: str | None, announced: int) -> tuple[int, bytes]:
    """Announce a multipart body of ``announced`` bytes, send 1 KiB of it, read the answer."""
    parts = urlsplit(url)
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Content-Type: multipart/form-data; boundary=xyz",
        f"Content-Length: {announced}",
    ]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=20) as sock:
        sock.sendall(head + b"--xyz\r\n" + b"a" * 1024)
        # The answer must come while most of the body is still unsent: a server that waited
        # for the body would leave this read to time out.
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer


def test_bodies_are_not_read_before_the_caller_may_send_them(server: Server) -> None:
    versions = "/api/v1/models/credit/versions"
    status, answer = _head_only(server.url, versions, None, 4 << 20)
    assert status == 401 and b"no bearer token" in answer
    status, answer = _head_only(server.url, versions, "govml_0123456789abcdef_x", 4 << 20)
    assert status == 401
    status, answer = _head_only(server.url, versions, server.tokens["vic"], 4 << 20)
    assert status == 403 and b"may not register" in answer
    status, _ = _head_only(server.url, "/api/v1/evaluations", server.tokens["vic"], 4 << 20)
    assert status == 403
    # The contributor may upload: the server waits for the rest of the body, so it never
    # answered before it was sent (no answer arrives; the socket read times out).
    with pytest.raises(TimeoutError):
        _head_only_with_timeout(server, versions, server.tokens["bob"])


def _head_only_with_timeout(server: Server, path: str, token: str) -> None:
    parts = urlsplit(server.url)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        "Content-Type: multipart/form-data; boundary=xyz\r\n"
        f"Content-Length: {4 << 20}\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=2) as sock:
        sock.sendall(head + b"--xyz\r\n")
        sock.recv(65536)


def _bomb(rows: int, width: int, *, arrow_schema: bool) -> bytes:
    """A Parquet file of one repeated ``width``-character value: a few KiB on disk."""
    values = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(rows, dtype="int32")), pa.array(["x" * width])
    )
    table = pa.table({"x1": pa.array(np.zeros(rows)), "blob": values})
    if not arrow_schema:
        table = table.cast(pa.schema([("x1", pa.float64()), ("blob", pa.string())]))
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd", store_schema=arrow_schema)
    return out.getvalue()


@pytest.mark.parametrize("arrow_schema", [False, True])
def test_a_decompression_bomb_is_refused_by_its_decoded_size(
    server: Server, arrow_schema: bool
) -> None:
    bomb = _bomb(90_000, 4_000, arrow_schema=arrow_schema)  # 360 MB decoded
    assert len(bomb) < 200_000
    files = {"data": ("bomb.parquet", bomb, "application/octet-stream")}
    form = {"target": "y", "ref": server.version.ref}
    with server.http("vic") as http:
        refused = http.post("/api/v1/evaluations", files=files, data=form)
    assert refused.status_code == 403
    with server.http("bob") as http:
        response = http.post("/api/v1/evaluations", files=files, data=form)
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["type"] == "TooLargeError"
    assert error["message"].startswith("data: the table decodes to")
    assert "GOVML_SERVER_MAX_TABLE_BYTES" in error["hint"]
    assert server.local.list_evaluations() == []


def test_too_many_rows_are_refused_before_decoding(server: Server) -> None:
    table = pa.table({"x1": np.zeros(150_000), "x2": np.zeros(150_000), "y": np.zeros(150_000)})
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    files = {"data": ("big.parquet", out.getvalue(), "application/octet-stream")}
    with server.http("bob") as http:
        response = http.post(
            "/api/v1/evaluations",
            files=files,
            data={"target": "y", "ref": server.version.ref},
        )
    assert response.status_code == 413
    assert response.json()["error"]["message"] == (
        "data: 150,000 rows; this server accepts at most 100,000 rows per table"
    )


def test_nested_columns_are_refused(server: Server) -> None:
    table = pa.table({"x1": pa.array([[1.0, 2.0]] * 10), "y": np.zeros(10)})
    out = io.BytesIO()
    pq.write_table(table, out)
    files = {"data": ("nested.parquet", out.getvalue(), "application/octet-stream")}
    with server.http("bob") as http:
        response = http.post(
            "/api/v1/evaluations", files=files, data={"target": "y", "ref": server.version.ref}
        )
    assert response.status_code == 422
    assert "column 'x1' has the nested type" in response.json()["error"]["message"]


def test_json_bodies_have_their_own_limit(server: Server) -> None:
    tasks = [{"id": i, "data": {"request_id": "r" * 40}} for i in range(5_000)]
    body = json.dumps({"tasks": tasks}).encode()
    assert len(body) > LIMITS.max_json_bytes
    with server.http("bob") as http:
        response = http.post(
            "/api/v1/models/credit/monitoring/labels",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        # A body sent as anything else is held to the same limit: it is read into memory too.
        plain = http.post(
            "/api/v1/policies/validate", content=body, headers={"Content-Type": "text/plain"}
        )
    assert response.status_code == 413
    assert plain.status_code == 413
    assert response.json()["error"]["message"] == (
        "request body too large: this server accepts at most 256 KiB"
    )


def test_error_bodies_name_no_server_folder(server: Server) -> None:
    path = server.local.ctx.artifacts.path_for(server.version.artifact_digest)
    path.chmod(0o644)
    path.write_bytes(b"changed")
    with server.http("bob") as http:
        changed = http.get(f"/api/v1/versions/{server.version.ref}/artifact")
        path.unlink()
        missing = http.get(f"/api/v1/versions/{server.version.ref}/artifact")
    assert changed.status_code == 409 and missing.status_code == 404
    for response in (changed, missing):
        text = response.text
        assert str(server.home) not in text
        assert str(server.home.resolve()) not in text
        assert "$GOVML_ARTIFACTS" in text or "$GOVML_HOME" in text


def test_answers_name_no_server_folder(server: Server) -> None:
    frame = _frame(5)
    ids = write_predictions(
        server.home / "predictions",
        "credit",
        server.version.version,
        frame[["x1", "x2"]],
        frame["y"].tolist(),
        None,
        start=datetime.now(UTC) - timedelta(hours=1),
    )
    result = [{"type": "choices", "value": {"choices": ["1"]}}]
    task = {
        "data": {"govml_request_id": ids[0], "govml_record": 0},
        "annotations": [{"result": result}],
    }
    with server.http("bob") as http:
        key = http.get("/api/v1/audit/key")
        labels = http.post("/api/v1/models/credit/monitoring/labels", json={"tasks": [task]})
    assert key.status_code == 200 and labels.status_code == 200, labels.text
    assert labels.json()["written"] == 1
    for response in (key, labels):
        assert str(server.home) not in response.text
        assert str(server.home.resolve()) not in response.text
    # Each still says where the file is, by the setting that points to its folder.
    assert key.json()["path"] == f"$GOVML_HOME/keys/{key.json()['origin'].split('/')[-1]}.pub"
    assert labels.json()["file"].startswith("$GOVML_HOME/predictions/model=credit/feedback/")


PG_WRITE_LOCK = 0x60_76_4D_4C  # the advisory lock every write transaction of a store takes


@contextmanager
def _writes_held(db_url: str) -> Iterator[None]:
    """Hold the store's write lock, so that a request waits inside its first write."""
    if db_url.startswith("sqlite"):
        held = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        held.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            held.execute("ROLLBACK")
            held.close()
        return
    engine = sa.create_engine(db_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f"SELECT pg_advisory_lock({PG_WRITE_LOCK})"))
        try:
            yield
        finally:
            conn.execute(sa.text(f"SELECT pg_advisory_unlock({PG_WRITE_LOCK})"))
    engine.dispose()


def _start(
    home: Path, db_url: str, scratch: Path, output: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "GOVML_HOME": str(home), "GOVML_DATABASE_URL": db_url}
    env["TMPDIR"] = str(scratch)
    env.pop("GOVML_SERVER", None)
    with output.open("ab") as sink:
        process = subprocess.Popen(
            [GOVML, "server", "--port", str(port)], env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    _wait_for_health(url, process, output)
    return process, url


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.mark.slow  # two `govml server` starts: 29 s each backend at load average 17
def test_a_killed_server_leaves_no_received_log_file_behind(
    db_url: str, home: Path, tmp_path: Path
) -> None:
    with govml.connect(home, database_url=db_url, user="alice") as local:
        local.init()
        token = local.add_user("bob", roles=["contributor"]).token
        local.create_model("credit", risk_tier="minimal")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    output = tmp_path / "server.out"
    failures: list[BaseException] = []

    def send(url: str) -> None:
        try:  # a gateway in client mode sends a closed log file: records about people
            httpx.post(
                f"{url}/api/v1/models/credit/prediction-log",
                headers={"Authorization": f"Bearer {token}"},
                data={"kind": "feedback"},
                files={"file": ("part.parquet", b"PAR1" + b"x" * (2 << 20), "x/parquet")},
                timeout=START_DEADLINE_S,
            )
        except BaseException as exc:  # the server is killed under it
            failures.append(exc)

    def waiting() -> list[Path]:
        return [p for folder in (scratch, home) for p in folder.rglob("part.parquet")]

    process, url = _start(home, db_url, scratch, output)
    try:
        with _writes_held(db_url):
            worker = threading.Thread(target=send, args=(url,), daemon=True)
            worker.start()
            deadline = time.monotonic() + START_DEADLINE_S
            while not waiting():
                if time.monotonic() > deadline or not worker.is_alive():
                    pytest.fail(f"the upload never waited in the server: {output.read_text()}")
                time.sleep(0.02)
            # The file is in the server, which waits for the store: kill it there.
            _stop(process)
            worker.join(timeout=60)
    finally:
        _stop(process)
    assert failures, "the upload should have failed with the server killed"
    assert sorted(path.name for path in scratch.iterdir()) == []
    process, _ = _start(home, db_url, scratch, output)
    _stop(process)
    assert waiting() == []
