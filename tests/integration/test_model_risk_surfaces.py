"""Where the model-risk records show: a retired model's gateway answer, the inventory and the
model page, the model card and Annex IV (risk register, change tickets with their links,
retirement), and tickets given through the REST API.

One store serves the module (SQLite): ``credit`` in production with a risk register of two
revisions and tickets on its approvals and promotions, and ``legacy`` in production until a
test retires it (`retire_legacy`, once).
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.asgi import BASE_URL, in_process
from tests.integration.test_lifecycle import Team
from tests.ui.conftest import sign_in

import govml
from govml.cli.main import invoke
from govml.errors import ConfigurationError, ValidationError
from govml.remote import RemoteClient
from govml.server import create_app as create_server
from govml.server.background import serving
from govml.services.model_risk import ModelRiskService
from govml.serving import GatewayOptions, create_app
from govml.serving.source import ClientSource
from govml.settings import load_settings, ticket_link

PATTERN = "https://jira.example/browse/{ticket}"
RISKS = [
    {
        "risk": "Income proxy for a protected attribute",
        "likelihood": "medium",
        "impact": "high",
        "mitigation": "Quarterly fairness review",
        "owner": "erin",
        "status": "open",
        "review_date": "2027-03-01",
    },
    {
        "id": "R9",
        "risk": "Drift after rate changes",
        "likelihood": "high",
        "impact": "medium",
        "mitigation": "PSI alerts",
        "owner": "carol",
        "status": "mitigated",
        "review_date": "2027-01-15",
    },
]
REASON = "replaced by credit; portfolio closed"


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    tmp = tmp_path_factory.mktemp("model-risk-surfaces")
    home = tmp / "home"
    home.mkdir()
    url = f"sqlite:///{home / 'govml.db'}"
    govml.connect(home, database_url=url, user="alice", create=True).close()
    made = Team(url, home, tmp)
    made["alice"].apply_policy(made.policy(accuracy_min=0.0))
    for name in ("credit", "legacy"):
        ref = made.register(name)
        made.evaluate(ref)
        made["carol"].approve(ref, comment="metrics reviewed", ticket="JIRA-7")
        made["erin"].approve(ref, comment="risk accepted")
        made["frank"].promote(ref, to="staging")
        made["frank"].promote(ref, to="production", ticket="CHG#12")
    risks = ModelRiskService(made["bob"].ctx)
    risks.revise_register("credit", RISKS, ticket="JIRA-8")
    accepted = [dict(RISKS[0], status="accepted"), RISKS[1]]
    risks.revise_register("credit", accepted, comment="accepted by the committee")
    yield made
    made.close()


def retire_legacy(team: Team) -> None:
    """Retire ``legacy`` (as frank, under a ticket) unless a test did already."""
    service = ModelRiskService(team["frank"].ctx)
    if service.retirement("legacy") is None:
        service.retire("legacy", reason=REASON, ticket="CHG0099")


def wait_for(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_gateway_answers_a_retired_model_with_when_who_why_and_the_ticket(team: Team) -> None:
    with govml.connect(team.home, database_url=team.db_url, user="frank") as frank:
        key = frank.issue_gateway_key("legacy", scopes=["predict"]).secret
    options = GatewayOptions(
        model="legacy", log_dir=team.tmp / "gateway-log", poll_seconds=0.1, flush_seconds=0.1
    )
    client = govml.connect(team.home, database_url=team.db_url, user="gateway")
    headers = {"Authorization": f"Bearer {key}"}
    try:
        with (
            in_process(create_app(options, ClientSource(client))) as transport,
            httpx.Client(base_url=BASE_URL, transport=transport, headers=headers) as http,
        ):
            before = http.post("/predict", json={"x1": 0.1, "x2": -0.3})
            assert before.status_code == 200, before.text
            retire_legacy(team)

            def refused() -> httpx.Response | None:
                answer = http.post("/predict", json={"x1": 0.1, "x2": -0.3})
                return answer if answer.status_code != 200 else None

            answer = wait_for(refused)
            assert answer is not None, "the gateway kept answering a retired model"
            assert answer.status_code == 503
            (error,) = answer.json()["errors"]
            message = error["message"]
            assert message.startswith("model legacy is retired: retired on ")
            assert "by frank (ticket CHG0099)" in message and REASON in message
            ready = http.get("/ready")
            assert ready.status_code == 503
            assert any("is retired" in reason for reason in ready.json()["reasons"])
    finally:
        client.close()


def test_retired_model_through_a_server_is_read_from_the_ledger(team: Team) -> None:
    retire_legacy(team)
    token = team.tokens["vic"]
    settings = load_settings(home=team.home, database_url=team.db_url)
    with serving(create_server(settings)) as url:
        remote = RemoteClient(load_settings(server=url, token=token))
        try:
            found = ClientSource(remote).retirement("legacy")
            assert ClientSource(remote).retirement("credit") is None
        finally:
            remote.close()
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("GOVML_SERVER", url)
            patch.setenv("GOVML_TOKEN", token)
            with contextlib.redirect_stdout(io.StringIO()) as out:
                code = invoke(["models", "show", "legacy", "--json"])
    assert code == 0
    assert json.loads(out.getvalue())["retired"]["reason"] == REASON
    assert found is not None
    assert (found["retired_by"], found["reason"], found["ticket"]) == ("frank", REASON, "CHG0099")
    assert found["aliases"] == {"production": 1, "staging": 1}


def test_model_card_and_annex_iv_list_register_tickets_and_retirement(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    retire_legacy(team)
    monkeypatch.setenv("GOVML_TICKET_URL", PATTERN)
    vic = team["vic"]
    card = json.loads(str(vic.report("model-card", "credit@1", format="json")))
    risk = card["model_risk"]
    assert risk["retired"] is None
    register = risk["risk_register"]
    assert register["revision"] == 2 and register["comment"] == "accepted by the committee"
    assert [r["id"] for r in register["risks"]] == ["R1", "R9"]
    assert register["risks"][0]["status"] == "accepted"
    first = register["revisions"][0]
    assert (first["ticket"], first["ticket_url"]) == (
        "JIRA-8",
        "https://jira.example/browse/JIRA-8",
    )
    assert first["open"] == 1 and first["ledger_entry"] is not None
    tickets = {(t["ticket"], t["what"]): t for t in risk["tickets"]}
    approval = tickets[("JIRA-7", "approve of version 1")]
    assert approval["actor"] == "carol"
    assert approval["ticket_url"] == "https://jira.example/browse/JIRA-7"
    promotion = tickets[("CHG#12", "promote of version 1 to production")]
    assert promotion["ticket_url"] == "https://jira.example/browse/CHG%2312"

    markdown = str(vic.report("model-card", "credit@1"))
    assert "## Model risk: retirement, risk register and change tickets" in markdown
    assert "| R9 | Drift after rate changes | high | medium | PSI alerts |" in markdown
    assert "JIRA-7 (https://jira.example/browse/JIRA-7)" in markdown

    annex = json.loads(str(vic.report("annex-iv", "credit@1", format="json")))
    items = {item["id"]: item["content"] for item in annex["items"]}
    assert items["5"]["risk_register"]["digest"] == register["digest"]
    assert {t["ticket"] for t in items["6"]["tickets"]} >= {"JIRA-7", "CHG#12"}
    assert items["6"]["retired"] is None

    retired = json.loads(str(vic.report("annex-iv", "legacy@1", format="json")))
    items = {item["id"]: item["content"] for item in retired["items"]}
    gone = items["6"]["retired"]
    assert (gone["retired_by"], gone["reason"], gone["ticket"]) == ("frank", REASON, "CHG0099")
    assert gone["ticket_url"] == "https://jira.example/browse/CHG0099"
    assert gone["aliases"] == {"production": 1, "staging": 1}
    assert items["1"]["forms_placed_on_market"]["retired"]["reason"] == REASON
    text = str(vic.report("annex-iv", "legacy@1"))
    assert "retired on " in text and REASON in text
    legacy_card = str(vic.report("model-card", "legacy@1"))
    assert "The model is retired" in legacy_card and "CHG0099" in legacy_card

    monkeypatch.delenv("GOVML_TICKET_URL")
    plain = json.loads(str(vic.report("model-card", "credit@1", format="json")))
    assert all(t["ticket_url"] is None for t in plain["model_risk"]["tickets"])


def test_inventory_and_model_page_show_the_retirement_and_the_register(
    team: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    retire_legacy(team)
    monkeypatch.setenv("GOVML_TICKET_URL", PATTERN)
    settings = load_settings(home=team.home, database_url=team.db_url)
    with serving(create_server(settings)) as url:
        http = sign_in(url, team.tokens["vic"])
        listed = http.get("/models.json", params={"stage": "retired"}).json()
        assert [m["name"] for m in listed["models"]] == ["legacy"]
        assert listed["models"][0]["retired_at"] is not None
        assert listed["models"][0]["approvals"] is None
        assert listed["facets"]["stage"]["retired"] == 1
        assert listed["facets"]["stage"]["production"] == 1
        inventory = http.get("/models").text
        assert "retired</strong>" in inventory

        page = http.get("/models/legacy")
        assert page.status_code == 200
        assert "<b>Retired</b> on " in page.text and REASON in page.text
        assert 'href="https://jira.example/browse/CHG0099"' in page.text
        assert "The model is retired: nothing awaits a decision" in page.text
        data = http.get("/models/legacy.json").json()
        assert data["retired"]["retired_by"] == "frank"

        credit = http.get("/models/credit")
        assert "Drift after rate changes" in credit.text
        assert 'href="https://jira.example/browse/JIRA-8"' not in credit.text  # revision 2
        assert "revision 2" in credit.text
        http.close()


def test_tickets_are_taken_over_rest_for_approve_promote_and_rollback(team: Team) -> None:
    ref = team.register("credit")
    team.evaluate(ref)
    settings = load_settings(home=team.home, database_url=team.db_url)
    with serving(create_server(settings)) as url:
        remote = {
            name: RemoteClient(load_settings(server=url, token=team.tokens[name]))
            for name in ("carol", "erin", "frank")
        }
        try:
            with pytest.raises(ValidationError, match="ticket 'JIRA 1; rm'"):
                remote["carol"].approve(ref, comment="ok", ticket="JIRA 1; rm")
            approval = remote["carol"].approve(ref, comment="reviewed", ticket="JIRA-21")
            remote["erin"].approve(ref, comment="accepted", ticket="JIRA-22")
            remote["frank"].promote(ref, to="staging", ticket="CHG-31")
            moved = remote["frank"].promote(ref, to="production", ticket="CHG-32")
            back = remote["frank"].rollback("credit", reason="canary errors", ticket="INC-41")
        finally:
            for opened in remote.values():
                opened.close()
    assert back.version == 1 and back.previous == 2
    linked = [
        (e.payload["ticket"], e.payload["for"], e.payload["id"], e.actor)
        for e in team["vic"].audit_log(model="credit", action="ticket.linked")
    ]
    assert ("JIRA-21", "approval", approval.id, "carol") in linked
    assert ("CHG-32", "promote", moved.id, "frank") in linked
    assert ("INC-41", "rollback", back.id, "frank") in linked


def test_ticket_url_setting_is_checked_and_ids_are_encoded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert ticket_link("CHG#12/a b", PATTERN) == "https://jira.example/browse/CHG%2312%2Fa%20b"
    monkeypatch.delenv("GOVML_TICKET_URL", raising=False)
    assert ticket_link("JIRA-1") is None
    monkeypatch.setenv("GOVML_TICKET_URL", "https://jira.example/browse/")
    with pytest.raises(ConfigurationError, match="GOVML_TICKET_URL: .*must hold \\{ticket\\}"):
        load_settings()
    monkeypatch.setenv("GOVML_TICKET_URL", "ftp://jira/{ticket}")
    with pytest.raises(ConfigurationError, match="GOVML_TICKET_URL: .*http:// or https://"):
        load_settings()
    monkeypatch.setenv("GOVML_TICKET_URL", PATTERN)
    assert ticket_link("JIRA-1") == "https://jira.example/browse/JIRA-1"
