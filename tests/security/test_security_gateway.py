"""Attacks on the serving gateway, for real: `govml serve` (uvicorn on loopback) over SQLite and
PostgreSQL.

- forged feedback cannot make monitoring roll production back: without a key, with a key of
  the wrong scope or model, with a revoked key, or with a feedback key that tries to write over
  the labels given or to label requests the gateway never answered, every attempt is refused
  with its own status and message, and monitoring keeps production; only a key a deployer gave
  the correct_labels scope can correct labels (and then monitoring does act on them);
- slow and oversized clients (slowloris headers, a trickled body, header floods) are answered
  408 / 431 and disconnected while other clients keep being served;
- a production artifact whose bytes no longer match their digest is named by /ready and /predict.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.test_lifecycle import Team
from tests.integration.test_serving_gateway import (
    GOVML,
    MODEL,
    Served,
    free_port,
    issue_key,
    read_log,
    record,
    serve,
    wait_for,
)

POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: watched, owner: risk@example.com}
tiers: [high]
performance:
  - {metric: accuracy, min: 0.0}
approvals: {required: 2, roles: [approver, risk_officer]}
monitoring:
  window: 1d
  performance: [{metric: accuracy, min: 0.8}]
  on_critical: [rollback]
"""
SLOW = ("--header-timeout", "1", "--body-timeout", "1")


def production_store(db_url: str, home: Path, tmp: Path) -> Team:
    """credit@1 then credit@2 in production (both sound), under a policy that rolls back."""
    team = Team(db_url, home, tmp)
    policy = tmp / "watched.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    team["alice"].apply_policy(policy)
    for _ in range(2):
        ref = team.register(MODEL)
        team.evaluate(ref)
        team.approve_twice(ref)
        team["frank"].promote(ref, to="staging")
        team["frank"].promote(ref, to="production")
    team["bob"].create_model("churn", risk_tier="minimal")
    return team


@pytest.fixture
def team(db_url: str, home: Path, tmp_path: Path) -> Iterator[Team]:
    made = production_store(db_url, home, tmp_path)
    yield made
    made.close()


def refusal(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert body["request_id"] == response.headers["x-request-id"]
    return response.status_code, " | ".join(e["message"] for e in body["errors"])


def labelled_rows(served: Served) -> int:
    return read_log(served.log_dir, "feedback").height


def test_forged_feedback_cannot_trigger_a_rollback(team: Team) -> None:
    frank = team["frank"]
    with serve(
        team.db_url, team.home, team.tmp, "--poll-seconds", "0.2", "--flush-seconds", "0.2"
    ) as served:
        started = datetime.now(UTC)
        predictor = issue_key(team.db_url, team.home, "predict")
        churn_key = frank.issue_gateway_key("churn", scopes=["feedback"]).secret
        stolen = frank.issue_gateway_key(MODEL, scopes=["feedback"])
        with httpx.Client(base_url=served.url, timeout=30, headers=served.headers) as app:
            answers: dict[str, int] = {}
            for i in range(300):
                body = app.post("/predict", json=record(i)).json()
                answers[body["request_id"]] = body["predictions"][0]
            truth = [{"request_id": r, "label": p} for r, p in answers.items()]
            accepted = app.post("/feedback", json={"feedback": truth})
            assert accepted.status_code == 200 and accepted.json()["accepted"] == 300
        forged = {"feedback": [{"request_id": r, "label": 1 - p} for r, p in answers.items()]}

        def post(key: str | None, payload: Any = forged) -> httpx.Response:
            headers = {} if key is None else {"Authorization": f"Bearer {key}"}
            return httpx.post(f"{served.url}/feedback", json=payload, headers=headers, timeout=30)

        status, message = refusal(post(None))
        assert status == 401 and "no gateway key" in message
        assert refusal(post("gwk_0123456789abcdef_" + "x" * 43)) == (
            401,
            "invalid gateway key: it is not a key of this gateway's store",
        )
        status, message = refusal(post(predictor))
        assert status == 403 and "may not send labels (scope feedback)" in message
        status, message = refusal(post(churn_key))
        assert status == 403 and "is a key of model churn, not of credit" in message
        overwrite = post(served.key)  # a feedback key: no overwriting
        status, message = refusal(overwrite)
        assert status == 409 and message.count("is already labelled") == 100
        assert overwrite.json()["more_errors"] == 200  # every one refused, the first 100 named
        invented = {"feedback": [{"request_id": f"never-{i}", "label": 0} for i in range(300)]}
        status, message = refusal(post(served.key, invented))
        assert status == 422 and message.count("is not one this gateway answered") == 100
        some_id = next(iter(answers))
        status, message = refusal(post(served.key, {"request_id": some_id, "label": 2}))
        assert (status, message) == (422, "label 2 is not one of credit's classes: 0, 1")
        frank.revoke_gateway_key(MODEL, stolen.key.key_id)
        wait_for(lambda: post(stolen.secret).status_code == 401)
        assert "was revoked on" in refusal(post(stolen.secret))[1]

        wait_for(lambda: labelled_rows(served) == 300)
        run = frank.monitor(MODEL, since=started, log_dir=served.log_dir, min_rows=100)
        coverage = {c.check: c for c in run.report(2).checks}["label_coverage"]
        assert coverage.evidence["labelled"] == 300 and coverage.evidence["corrections"] == 0
        assert run.status != "critical" and run.actions == ()
        assert frank.get_model(MODEL).aliases["production"] == 2

        # The same labels from a key a deployer allowed to correct labels are corrections, and
        # monitoring acts on them: what was refused above would have rolled production back.
        corrector = frank.issue_gateway_key(MODEL, scopes=["feedback", "correct_labels"]).secret
        wait_for(lambda: post(corrector).status_code == 200)
        wait_for(lambda: labelled_rows(served) == 600)
        run = frank.monitor(MODEL, since=started, log_dir=served.log_dir, min_rows=100)
        coverage = {c.check: c for c in run.report(2).checks}["label_coverage"]
        assert coverage.evidence["corrections"] == 300
        assert run.status == "critical"
        assert ("rollback", "done") in {(a.action, a.status) for a in run.actions}
        assert frank.get_model(MODEL).aliases["production"] == 1


def _raw(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.settimeout(10)
    return sock


def _answer(sock: socket.socket) -> bytes:
    """Read until the server closes the connection."""
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_slow_and_oversized_clients_are_cut_off_while_others_are_served(team: Team) -> None:
    with serve(team.db_url, team.home, team.tmp, *SLOW) as served:
        port = int(served.url.rsplit(":", 1)[1])
        auth = f"Authorization: Bearer {served.key}\r\n".encode()
        slow = [_raw(port) for _ in range(20)]
        for sock in slow:
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: gateway\r\n")
        with httpx.Client(base_url=served.url, timeout=30, headers=served.headers) as app:
            for _ in range(6):  # a header line every 0.3 s, never the end of the headers
                for sock in slow:
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        sock.sendall(b"X-Trickle: 1\r\n")  # unless cut off already
                assert app.post("/predict", json=record()).status_code == 200
                time.sleep(0.3)
            for sock in slow:
                answer = _answer(sock)
                assert answer.startswith(b"HTTP/1.1 408 Request Timeout"), answer[:100]
                assert b"the request headers did not arrive within 1 s" in answer
                sock.close()

            flood = _raw(port)
            flood.sendall(b"GET /health HTTP/1.1\r\nHost: gateway\r\n")
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                for i in range(200):
                    flood.sendall(f"X-Flood-{i}: {'y' * 1000}\r\n".encode())
            answer = _answer(flood)
            assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large"), answer[:100]
            flood.close()

            trickle = _raw(port)
            trickle.sendall(
                b"POST /predict HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
                + auth
                + b'Content-Length: 100000\r\n\r\n{"x1": '
            )
            answer = _answer(trickle)
            assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
            assert b"the request body did not arrive within 1 s" in answer
            trickle.close()

            assert app.post("/predict", json=record()).status_code == 200
            assert app.get("/ready").status_code == 200


def test_a_tampered_production_artifact_is_named_not_served(team: Team) -> None:
    version = team["vic"].get_version(f"{MODEL}@production")
    path = team["vic"].ctx.artifacts.path_for(version.artifact_digest)
    path.chmod(0o644)
    path.write_bytes(path.read_bytes() + b"\x00")
    key = issue_key(team.db_url, team.home, "predict")
    port = free_port()
    env = {
        **os.environ,
        "GOVML_HOME": str(team.home),
        "GOVML_DATABASE_URL": team.db_url,
        "GOVML_USER": "gateway",
    }
    env.pop("GOVML_SERVER", None)
    output = team.tmp / "tampered.out"
    command = [GOVML, "serve", MODEL, "--port", str(port), "--log-dir", str(team.tmp / "t-log")]
    with output.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    expected = (
        f"the artifact of {MODEL}@2 does not match its digest {version.artifact_digest}: it is "
        f"not served; no version of {MODEL} answers for 'production'"
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def ready() -> httpx.Response | None:
            try:
                return httpx.get(f"{url}/ready", timeout=5)
            except httpx.TransportError:
                return None

        wait_for(lambda: (answer := ready()) is not None and answer.status_code == 503, 60)
        answer = ready()
        assert answer is not None and answer.json()["reasons"] == [expected]
        refused = httpx.post(
            f"{url}/predict", json=record(), headers={"Authorization": f"Bearer {key}"}
        )
        assert refused.status_code == 503 and refused.json()["errors"][0]["message"] == expected
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    assert "does not match its digest" in output.read_text()
