"""OpenLineage run events from the ledger: to a file and to a real HTTP endpoint on loopback,
each event valid against the RunEvent schema of the OpenLineage 2-0-2 spec."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import pytest
from tests.integration.test_lifecycle import Team

import govml
from govml.cli.main import invoke

pytest.importorskip("openlineage.client")

# The parts of OpenLineage 2-0-2 (spec/OpenLineage.json, $defs RunEvent, Run, Job, InputDataset,
# OutputDataset, BaseFacet) that govml's events use, as the spec states them.
FACET = {
    "type": "object",
    "required": ["_producer", "_schemaURL"],
    "properties": {
        "_producer": {"type": "string", "format": "uri"},
        "_schemaURL": {"type": "string", "format": "uri"},
    },
}
DATASET = {
    "type": "object",
    "required": ["namespace", "name"],
    "properties": {
        "namespace": {"type": "string"},
        "name": {"type": "string"},
        "facets": {"type": "object", "additionalProperties": FACET},
    },
}
RUN_EVENT = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["eventTime", "producer", "schemaURL", "run", "job"],
    "properties": {
        "eventType": {"enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
        "eventTime": {"type": "string", "format": "date-time"},
        "producer": {"type": "string", "format": "uri"},
        "schemaURL": {"type": "string", "format": "uri"},
        "run": {
            "type": "object",
            "required": ["runId"],
            "properties": {
                "runId": {"type": "string", "format": "uuid"},
                "facets": {"type": "object", "additionalProperties": FACET},
            },
        },
        "job": {
            "type": "object",
            "required": ["namespace", "name"],
            "properties": {
                "namespace": {"type": "string"},
                "name": {"type": "string"},
                "facets": {"type": "object", "additionalProperties": FACET},
            },
        },
        "inputs": {"type": "array", "items": DATASET},
        "outputs": {"type": "array", "items": DATASET},
    },
}
VALIDATOR = jsonschema.Draft202012Validator(
    RUN_EVENT, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)


@pytest.fixture
def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Team]:
    home = tmp_path / "home"
    home.mkdir()
    url = f"sqlite:///{home / 'govml.db'}"
    govml.connect(home, database_url=url, user="alice", create=True).close()
    made = Team(url, home, tmp_path)
    made["alice"].apply_policy(made.policy(accuracy_min=0.0))
    ref = made.register("credit")
    made.evaluate(ref)
    made.approve_twice(ref)
    made["frank"].promote(ref, to="staging")
    made["frank"].promote(ref, to="production")
    monkeypatch.setenv("GOVML_HOME", str(home))
    monkeypatch.setenv("GOVML_DATABASE_URL", url)
    monkeypatch.setenv("GOVML_USER", "vic")
    monkeypatch.delenv("GOVML_SERVER", raising=False)
    yield made
    made.close()


class Endpoint(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    status = 201

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/api/v1/lineage":
            type(self).received.append(
                {"auth": self.headers.get("Authorization"), "event": json.loads(body)}
            )
        self.send_response(type(self).status if self.path == "/api/v1/lineage" else 404)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[tuple[str, type[Endpoint]]]:
    handler = type("Handler", (Endpoint,), {"received": [], "status": 201})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def names(datasets: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in datasets]


def test_events_to_a_file_are_valid_and_carry_the_lineage(
    team: Team, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, cursor = tmp_path / "events.jsonl", tmp_path / "cursor"
    assert invoke(["lineage", "emit", "--to", str(out), "--cursor", str(cursor)]) == 0
    events = [json.loads(line) for line in out.read_text().splitlines()]
    for event in events:
        VALIDATOR.validate(event)
        assert event["eventType"] == "COMPLETE"
        assert event["schemaURL"].startswith("https://openlineage.io/spec/2-0-2/OpenLineage.json")
    assert [e["job"]["name"] for e in events] == [
        "credit.register",
        "credit.evaluate",
        "credit.promote",
        "credit.promote",
    ]
    version = team["bob"].get_version("credit@1")
    register, evaluate, _staging, production = events
    (train,) = version.datasets
    assert names(register["inputs"]) == [("govml://govml", f"dataset/{train.digest}")]
    assert names(register["outputs"]) == [("govml://govml", "model/credit/versions/1")]
    tags = {t["key"]: t["value"] for t in register["run"]["facets"]["tags"]["tags"]}
    assert tags["artifact_digest"] == version.artifact_digest and tags["actor"] == "bob"
    assert register["job"]["facets"]["jobType"]["integration"] == "GOVML"
    assert evaluate["inputs"][0]["name"] == "model/credit/versions/1"
    eval_tags = {t["key"]: t["value"] for t in evaluate["run"]["facets"]["tags"]["tags"]}
    assert eval_tags["status"] == "pass"
    assert names(production["outputs"]) == [("govml://govml", "model/credit@production")]
    prod_tags = {t["key"]: t["value"] for t in production["run"]["facets"]["tags"]["tags"]}
    assert prod_tags["approvals"] == "carol,erin"
    assert len({e["run"]["runId"] for e in events}) == 4

    capsys.readouterr()
    # The cursor: a second run sends only what is new.
    assert invoke(["lineage", "emit", "--to", str(out), "--cursor", str(cursor), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sent"] == 0
    ref = team.register("credit")
    assert invoke(["lineage", "emit", "--to", str(out), "--cursor", str(cursor), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sent"] == 1
    assert ref == "credit@2"


def test_events_to_an_http_endpoint_and_refusals(
    team: Team,
    endpoint: tuple[str, type[Endpoint]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, handler = endpoint
    monkeypatch.setenv("OPENLINEAGE_API_KEY", "k-123")
    assert invoke(["lineage", "emit", "--to", f"{url}/api/v1/lineage", "--model", "credit"]) == 0
    assert len(handler.received) == 4
    assert {r["auth"] for r in handler.received} == {"Bearer k-123"}
    for item in handler.received:
        VALIDATOR.validate(item["event"])
    # The same entries give the same runs wherever they are sent.
    capsys.readouterr()
    assert invoke(["lineage", "emit"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert [e["run"]["runId"] for e in printed] == [
        r["event"]["run"]["runId"] for r in handler.received
    ]
    handler.status = 500
    assert invoke(["lineage", "emit", "--to", f"{url}/api/v1/lineage"]) == 4
    assert "refused event 1 of 4 with HTTP 500" in capsys.readouterr().err
    assert invoke(["lineage", "emit", "--to", "http://127.0.0.1:9/api/v1/lineage"]) == 4
    assert "cannot send OpenLineage events" in capsys.readouterr().err
    assert invoke(["lineage", "emit", "--to", str(team.tmp / "no" / "such" / "dir.jsonl")]) == 2
