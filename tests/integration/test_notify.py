"""Slack and Teams payloads: approval requests naming the approvers the policy names, decisions,
monitoring alerts; delivered to a real HTTP receiver on loopback; hostile text escaped."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from tests.integration.test_lifecycle import Team

import govml
from govml.cli.main import invoke
from govml.integrations import notify

POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {{name: gate-notify}}
tiers: [high]
performance:
  - {{metric: accuracy, min: 0.0}}
approvals:
  required: 2
  roles: [approver, risk_officer]
  notify: {{webhook: "{url}", format: {style}}}
"""


class Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    status: ClassVar[int] = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(
            {
                "path": self.path,
                "event": self.headers.get("X-Govml-Event"),
                "body": json.loads(body),
            }
        )
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[Receiver]]]:
    handler = type("Handler", (Receiver,), {"received": [], "status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def make_team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, style: str) -> Team:
    home = tmp_path / "home"
    home.mkdir()
    db = f"sqlite:///{home / 'govml.db'}"
    govml.connect(home, database_url=db, user="alice", create=True).close()
    team = Team(db, home, tmp_path)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(url=f"{url}/{style}", style=style), encoding="utf-8")
    team["alice"].apply_policy(policy)
    monkeypatch.setenv("GOVML_HOME", str(home))
    monkeypatch.setenv("GOVML_DATABASE_URL", db)
    monkeypatch.setenv("GOVML_USER", "vic")
    monkeypatch.setenv("GOVML_WEBHOOK_SECRET", "s3cret")
    monkeypatch.delenv("GOVML_SERVER", raising=False)
    return team


def slack_text(body: dict[str, Any]) -> str:
    return json.dumps(body["blocks"])


def test_slack_approval_request_names_the_approvers_then_decisions(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: tuple[str, type[Receiver]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, handler = receiver
    team = make_team(tmp_path, monkeypatch, url, "slack")
    try:
        ref = team.register("credit")
        team.evaluate(ref)
        cursor = tmp_path / "cursor"
        assert invoke(["notify", "relay", "--cursor", str(cursor), "--json"]) == 0
        (request,) = handler.received
        assert request["path"] == "/slack" and request["event"] == "approval.requested"
        body = request["body"]
        assert body["text"].endswith("Approval requested: credit@1")
        assert body["blocks"][0]["type"] == "header"
        # carol, dave (approver) and erin (risk officer); not bob who registered it, not frank.
        assert "*Asked to act:* @carol, @dave, @erin" in slack_text(body)

        team["carol"].approve(ref, comment="<!channel> fine & <https://evil.example|click>")
        team["erin"].approve(ref, comment="risk accepted")
        team["frank"].promote(ref, to="staging")
        team["frank"].promote(ref, to="production")
        capsys.readouterr()
        assert invoke(["notify", "relay", "--cursor", str(cursor), "--json"]) == 0
        sent = json.loads(capsys.readouterr().out)["deliveries"]
        assert [d["event"] for d in sent] == [
            "version.approved",
            "version.approved",
            "alias.promoted",
            "alias.promoted",
        ]
        carol = handler.received[1]["body"]
        text = slack_text(carol)
        assert "&lt;!channel&gt; fine &amp; &lt;https://evil.example|click&gt;" in text
        assert "<!channel>" not in text
        assert handler.received[-1]["body"]["text"].endswith("credit@1 promoted to production")
        # Nothing new: nothing sent. Each relay that sent is in the ledger.
        assert invoke(["notify", "relay", "--cursor", str(cursor)]) == 0
        assert len(handler.received) == 5
        capsys.readouterr()
        assert invoke(["audit", "log", "--action", "notify.relayed", "--json"]) == 0
        relayed = json.loads(capsys.readouterr().out)
        assert [len(e["payload"]["deliveries"]) for e in relayed] == [1, 4]
    finally:
        team.close()


def test_teams_cards_and_a_failing_webhook(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receiver: tuple[str, type[Receiver]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, handler = receiver
    team = make_team(tmp_path, monkeypatch, url, "teams")
    monkeypatch.setattr("govml.monitoring.webhook.DEFAULT_BACKOFF", 0.01)
    try:
        ref = team.register("credit")
        team.evaluate(ref)
        handler.status = 500
        cursor = tmp_path / "cursor"
        assert invoke(["notify", "relay", "--cursor", str(cursor)]) == 4
        assert not cursor.exists() or cursor.read_text().strip() == ""
        handler.status = 200
        handler.received.clear()
        assert invoke(["notify", "relay", "--cursor", str(cursor)]) == 0
        (request,) = handler.received
        body = request["body"]
        assert body["type"] == "message"
        (attachment,) = body["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        card = attachment["content"]
        assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
        texts = [b.get("text", "") for b in card["body"]]
        assert texts[0] == "Approval requested: credit@1"
        assert "**Asked to act:** carol, dave, erin" in texts
        facts = next(b for b in card["body"] if b["type"] == "FactSet")["facts"]
        assert {"title": "Approvals", "value": "0 of 2"} in facts
    finally:
        team.close()


def test_alert_payloads() -> None:
    payload = {
        "event": "monitoring.alert",
        "model": "credit",
        "version": 3,
        "status": "critical",
        "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z"},
        "run_id": 7,
        "policy": {"name": "p", "version": 2, "digest": "sha256:ab"},
        "rows": 1000,
        "labelled": 200,
        "checks": [
            {
                "check": "data_drift:age",
                "status": "alert",
                "value": 0.31,
                "message": "PSI 0.31 > 0.25",
            }
        ],
        "rollback": {"status": "done", "detail": "production rolled back from version 3 to 2"},
    }
    message = notify.alert_message("monitoring.alert", payload)
    slack = notify.render("slack", message)
    assert slack["text"] == "🛑 credit@3 is in critical"
    section = slack["blocks"][1]["text"]["text"]
    assert "data_drift:age: alert — PSI 0.31 &gt; 0.25" in section
    assert "Rollback: done" in section
    teams = notify.render("teams", message)
    card = teams["attachments"][0]["content"]
    assert card["body"][0]["color"] == "Attention"
    assert "PSI 0\\.31 \\> 0\\.25" in card["body"][1]["text"]
    assert notify.render("generic", message) == payload
