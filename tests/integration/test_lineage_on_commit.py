"""OpenLineage events sent as governed actions are committed (``GOVML_LINEAGE_TARGET``): to a
file from the SDK, to a real HTTP endpoint on loopback from `govml server`, each valid against
the RunEvent schema of the OpenLineage 2-0-2 spec and the same as ``govml lineage emit`` sends;
an endpoint that cannot be reached is warned and the action stands."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from tests.integration.test_lifecycle import Team
from tests.integration.test_openlineage import VALIDATOR, Endpoint

import govml
from govml.errors import ConfigurationError
from govml.remote import RemoteClient
from govml.server import create_app
from govml.server.background import serving
from govml.services.lineage_events import LineageEmitWarning, LineageService
from govml.settings import load_settings

pytest.importorskip("openlineage.client")


def make_team(tmp_path: Path) -> Team:
    home = tmp_path / "home"
    home.mkdir()
    url = f"sqlite:///{home / 'govml.db'}"
    govml.connect(home, database_url=url, user="alice", create=True).close()
    made = Team(url, home, tmp_path)
    made["alice"].apply_policy(made.policy(accuracy_min=0.0))
    return made


@pytest.fixture
def endpoint() -> Iterator[tuple[str, type[Endpoint]]]:
    handler = type("Handler", (Endpoint,), {"received": [], "status": 201})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v1/lineage", handler
    server.shutdown()
    server.server_close()


def test_each_committed_action_is_sent_to_the_file_as_it_happens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "lineage.jsonl"
    monkeypatch.setenv("GOVML_LINEAGE_TARGET", str(target))
    team = make_team(tmp_path)
    try:
        ref = team.register("credit")
        assert [json.loads(line)["job"]["name"] for line in target.read_text().splitlines()] == [
            "credit.register"
        ]
        team.evaluate(ref)
        team.approve_twice(ref)  # approvals have no OpenLineage event
        team["frank"].promote(ref, to="staging")
        team["frank"].promote(ref, to="production")
        sent = [json.loads(line) for line in target.read_text().splitlines()]
        assert [e["job"]["name"] for e in sent] == [
            "credit.register",
            "credit.evaluate",
            "credit.promote",
            "credit.promote",
        ]
        for item in sent:
            VALIDATOR.validate(item)
        # The same events `govml lineage emit` builds from the ledger afterwards.
        emitted = LineageService(team["vic"].ctx).emit(None).events
        assert sent == emitted
    finally:
        team.close()


def test_the_server_sends_a_promotion_over_rest_to_an_http_endpoint(
    tmp_path: Path, endpoint: tuple[str, type[Endpoint]]
) -> None:
    url, handler = endpoint
    team = make_team(tmp_path)
    try:
        ref = team.register("credit")
        team.evaluate(ref)
        team.approve_twice(ref)
        assert handler.received == []  # these clients have no target
        settings = load_settings(home=team.home, database_url=team.db_url, lineage_target=url)
        with serving(create_app(settings)) as server:
            remote = RemoteClient(load_settings(server=server, token=team.tokens["frank"]))
            try:
                moved = remote.promote(ref, to="staging", reason="canary first")
            finally:
                remote.close()
        (received,) = handler.received
        event = received["event"]
        VALIDATOR.validate(event)
        assert event["job"]["name"] == "credit.promote"
        tags = {t["key"]: t["value"] for t in event["run"]["facets"]["tags"]["tags"]}
        assert tags["actor"] == "frank"
        (entry,) = team["vic"].audit_log(model="credit", action="alias.promoted")
        assert tags["ledger_seq"] == str(entry.seq) and entry.payload["id"] == moved.id
    finally:
        team.close()


def test_an_unreachable_endpoint_is_warned_and_the_action_stands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    target = f"http://127.0.0.1:{port}/api/v1/lineage"  # nobody listens there
    monkeypatch.setenv("GOVML_LINEAGE_TARGET", target)
    with pytest.warns(LineageEmitWarning, match="the action stands") as caught:
        team = make_team(tmp_path)
        ref = team.register("credit")
    try:
        assert f"not sent to {target}" in str(caught[0].message)
        assert "govml lineage emit --to" in str(caught[0].message)
        assert team["vic"].get_version(ref).version == 1
        (entry,) = team["vic"].audit_log(model="credit", action="version.registered")
        assert f"ledger entries {entry.seq} " in str(caught[0].message)
    finally:
        team.close()


def test_an_empty_namespace_setting_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVML_LINEAGE_NAMESPACE", "")
    with pytest.raises(ConfigurationError, match="GOVML_LINEAGE_NAMESPACE"):
        load_settings()
