"""Gateway keys in the store: who issues and revokes them, the ledger, the audit replay, the CLI
and the REST API (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.integration.test_lifecycle import Team

from govml.cli.main import invoke
from govml.errors import (
    AlreadyExistsError,
    ForbiddenError,
    IntegrityError,
    NotFoundError,
    ValidationError,
)
from govml.serving.keys import key_hash

MODEL = "credit"


@pytest.fixture
def team(db_url: str, home: Path, tmp_path: Path) -> Iterator[Team]:
    made = Team(db_url, home, tmp_path)
    made["bob"].create_model(MODEL, risk_tier="high")
    made["bob"].create_model("churn", risk_tier="minimal")
    yield made
    made.close()


def raw(team: Team, *statements: str) -> None:
    with team["alice"].ctx.store.write() as conn:
        for statement in statements:
            conn.execute(sa.text(statement))


def test_a_deployer_issues_lists_and_revokes_with_ledger_entries(team: Team) -> None:
    frank = team["frank"]
    issued = frank.issue_gateway_key(
        MODEL, scopes=["feedback", "predict"], expires_in_days=30, description="web app"
    )
    key = issued.key
    assert issued.secret.startswith(f"gwk_{key.key_id}_") and len(issued.secret) == 4 + 17 + 43
    assert key.scopes == ("predict", "feedback") and key.hash == key_hash(issued.secret)
    assert (key.expires_at - key.created_at).days == 30
    assert [k.key_id for k in team["vic"].gateway_keys(MODEL)] == [key.key_id]

    entries = frank.audit_log(model=MODEL, action="gateway_key.issued")
    (entry,) = entries
    assert entry.actor == "frank" and entry.payload == {
        "model": MODEL,
        "key_id": key.key_id,
        "scopes": ["predict", "feedback"],
        "hash": key.hash,
        "expires_at": key.expires_at.isoformat(),
        "description": "web app",
    }
    assert issued.secret not in json.dumps([e.to_dict() for e in frank.audit_log()])

    revoked = frank.revoke_gateway_key(MODEL, key.key_id)
    assert revoked.revoked_by == "frank" and revoked.revoked_at is not None
    assert team["vic"].gateway_keys(MODEL) == []
    assert [k.key_id for k in frank.gateway_keys(MODEL, include_revoked=True)] == [key.key_id]
    (entry,) = frank.audit_log(model=MODEL, action="gateway_key.revoked")
    assert entry.payload == {"model": MODEL, "key_id": key.key_id}
    with pytest.raises(AlreadyExistsError, match="already revoked"):
        frank.revoke_gateway_key(MODEL, key.key_id)
    with pytest.raises(NotFoundError, match="model churn has no gateway key"):
        frank.revoke_gateway_key("churn", key.key_id)
    assert {k.key_id for k in frank.keys_for_gateways()} == {key.key_id}  # ended recently
    assert team["alice"].verify_ledger().users == 7


@pytest.mark.parametrize("user", ["bob", "carol", "vic"])
def test_only_deployers_and_admins_issue_or_revoke(team: Team, user: str) -> None:
    with pytest.raises(ForbiddenError, match="may not promote or roll back"):
        team[user].issue_gateway_key(MODEL, scopes=["predict"])
    issued = team["alice"].issue_gateway_key(MODEL, scopes=["predict"])  # admin
    with pytest.raises(ForbiddenError):
        team[user].revoke_gateway_key(MODEL, issued.key.key_id)
    assert len(team["frank"].gateway_keys(MODEL)) == 1


def test_bad_requests_are_refused_by_field(team: Team) -> None:
    frank = team["frank"]
    with pytest.raises(ValidationError, match="scope: 'admin' is not one of"):
        frank.issue_gateway_key(MODEL, scopes=["admin"])
    with pytest.raises(ValidationError, match="expires_in_days: a gateway key lives 1 to"):
        frank.issue_gateway_key(MODEL, scopes=["predict"], expires_in_days=0)
    with pytest.raises(ValidationError, match="expires_in_days"):
        frank.issue_gateway_key(MODEL, scopes=["predict"], expires_in_days=100_000)
    with pytest.raises(ForbiddenError, match="over the 90-day limit of a key a deployer issues"):
        frank.issue_gateway_key(MODEL, scopes=["predict"], expires_in_days=91)
    assert (
        frank.issue_gateway_key(MODEL, scopes=["predict"]).key.expires_at - datetime.now(UTC)
    ).days == 89
    longer = team["alice"].issue_gateway_key(MODEL, scopes=["predict"], expires_in_days=400)
    assert (longer.key.expires_at - longer.key.created_at).days == 400
    with pytest.raises(NotFoundError, match="model 'credt' does not exist"):
        frank.issue_gateway_key("credt", scopes=["predict"])
    assert len(frank.audit_log(action="gateway_key.issued")) == 2


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        (
            'UPDATE gateway_keys SET scopes = \'["predict", "feedback", "correct_labels"]\'',
            "scopes",
        ),
        ("UPDATE gateway_keys SET expires_at = '2999-01-01 00:00:00+00:00'", "expires_at"),
        ("UPDATE gateway_keys SET hash = 'aa'", "hash"),
        ("UPDATE gateway_keys SET revoked_at = NULL, revoked_by = NULL", "revoked"),
        (
            "INSERT INTO gateway_keys (id, model_id, scopes, hash, description, created_at, "
            "created_by, expires_at) SELECT 'ffffffffffffffff', model_id, scopes, hash, '', "
            "created_at, 'mallory', expires_at FROM gateway_keys",
            "gateway key ffffffffffffffff of 'credit' has no gateway_key.issued entry",
        ),
        ("DELETE FROM gateway_keys", "is in the ledger but missing from the database"),
    ],
)
def test_keys_changed_by_sql_are_named_by_audit_verify(
    team: Team, statement: str, message: str
) -> None:
    frank = team["frank"]
    issued = frank.issue_gateway_key(MODEL, scopes=["predict"])
    if "revoked_at = NULL" in statement:
        frank.revoke_gateway_key(MODEL, issued.key.key_id)
    raw(team, statement)
    with pytest.raises(IntegrityError, match=message):
        team["alice"].verify_ledger()


def test_cli_prints_the_key_once_and_lists_without_secrets(
    team: Team, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVML_HOME", str(team.home))
    monkeypatch.setenv("GOVML_DATABASE_URL", team.db_url)
    monkeypatch.setenv("GOVML_USER", "frank")
    args = ["serving", "keys", "add", MODEL, "--scope", "predict,feedback", "--description", "app"]
    assert invoke(args) == 0
    out = capsys.readouterr().out
    secret = next(line for line in out.splitlines() if line.startswith("gwk_"))
    key_id = secret.split("_")[1]
    assert f"gateway key {key_id} of credit (predict, feedback)" in out
    assert invoke(["serving", "keys", "list", MODEL, "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [k["key_id"] for k in listed] == [key_id] and secret not in json.dumps(listed)
    assert invoke(["serving", "keys", "add", MODEL, "--scope", "correct_labels"]) == 2
    assert "give feedback too" in capsys.readouterr().err
    monkeypatch.setenv("GOVML_USER", "vic")
    assert invoke(["serving", "keys", "revoke", MODEL, key_id]) == 3
    monkeypatch.setenv("GOVML_USER", "frank")
    assert invoke(["serving", "keys", "revoke", MODEL, key_id]) == 0
    assert invoke(["serving", "keys", "list", MODEL]) == 0
    assert key_id not in capsys.readouterr().out.split("gateway keys of credit")[-1]


def test_rest_api_issues_to_deployers_and_gives_gateways_the_hashes(team: Team) -> None:
    from govml.remote import RemoteClient
    from govml.server import create_app
    from govml.server.background import serving
    from govml.settings import load_settings

    settings = load_settings(home=team.home, database_url=team.db_url)
    with serving(create_app(settings)) as url:
        frank = RemoteClient(load_settings(server=url, token=team.tokens["frank"]))
        vic = RemoteClient(load_settings(server=url, token=team.tokens["vic"]))
        try:
            issued = frank.issue_gateway_key(MODEL, scopes=["predict"], description="over REST")
            assert issued.key.created_by == "frank"
            with pytest.raises(ForbiddenError, match="vic"):
                vic.issue_gateway_key(MODEL, scopes=["predict"])
            with pytest.raises(ValidationError, match="scope"):
                frank.issue_gateway_key(MODEL, scopes=["everything"])
            assert [k.to_dict() for k in vic.gateway_keys(MODEL)] == [issued.key.to_dict()]
            assert [k.hash for k in vic.keys_for_gateways()] == [key_hash(issued.secret)]
            with pytest.raises(ForbiddenError):
                vic.revoke_gateway_key(MODEL, issued.key.key_id)
            frank.revoke_gateway_key(MODEL, issued.key.key_id)
            assert vic.gateway_keys(MODEL) == []
        finally:
            frank.close()
            vic.close()
