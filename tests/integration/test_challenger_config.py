"""The challenger set-up of a model's gateway: validated, permissioned, ledgered, replayed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.integration.test_lifecycle import Team

from govml.cli.main import invoke
from govml.errors import ForbiddenError, IntegrityError, NotFoundError, ValidationError


@pytest.fixture
def team(db_url: str, home: Path, tmp_path: Path) -> Iterator[Team]:
    made = Team(db_url, home, tmp_path)
    made["bob"].create_model("credit", risk_tier="high")
    yield made
    made.close()


def test_default_is_off_and_changes_are_ledgered(team: Team) -> None:
    frank = team["frank"]
    assert frank.serving_config("credit").mode == "off"
    config = frank.configure_serving("credit", mode="canary", share=0.1, key="customer_id")
    assert (config.mode, config.share, config.key, config.updated_by) == (
        "canary",
        0.1,
        "customer_id",
        "frank",
    )
    assert frank.serving_config("credit") == config
    frank.configure_serving("credit", mode="shadow")
    entries = [e for e in frank.audit_log(model="credit") if e.action == "serving.configured"]
    assert [e.payload["mode"] for e in entries] == ["canary", "shadow"]
    frank.verify_ledger()


@pytest.mark.parametrize(
    ("mode", "share", "key", "field"),
    [
        ("blue-green", None, None, "mode"),
        ("canary", None, None, "share"),
        ("canary", 1.0, None, "share"),
        ("canary", 0.0, None, "share"),
        ("shadow", 0.5, None, "share"),
        ("shadow", None, "customer_id", "key"),
        ("canary", 0.2, " ", "key"),
    ],
)
def test_inconsistent_set_ups_name_the_field(
    team: Team, mode: str, share: float | None, key: str | None, field: str
) -> None:
    with pytest.raises(ValidationError, match=f"^{field}:"):
        team["frank"].configure_serving("credit", mode=mode, share=share, key=key)
    assert team["frank"].serving_config("credit").mode == "off"


def test_only_deployers_change_it(team: Team) -> None:
    with pytest.raises(ForbiddenError, match="may not promote or roll back"):
        team["bob"].configure_serving("credit", mode="shadow")
    with pytest.raises(NotFoundError, match="'credt' does not exist"):
        team["frank"].configure_serving("credt", mode="shadow")


def test_a_set_up_changed_by_sql_is_named(team: Team) -> None:
    team["frank"].configure_serving("credit", mode="canary", share=0.1)
    with team["alice"].ctx.store.write() as conn:
        conn.execute(sa.text("UPDATE serving_configs SET share = 0.9"))
    with pytest.raises(IntegrityError, match="serving set-up of 'credit' differs.*share"):
        team["alice"].verify_ledger()


def test_cli(
    team: Team, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GOVML_HOME", str(team.home))
    monkeypatch.setenv("GOVML_DATABASE_URL", team.db_url)
    monkeypatch.setenv("GOVML_USER", "frank")
    code = invoke(["serving", "set", "credit", "--mode", "canary", "--share", "0.25"])
    out, _ = capsys.readouterr()
    assert code == 0 and "staging answers 25% of requests (by request id)" in out
    code = invoke(["serving", "show", "credit", "--json"])
    out, _ = capsys.readouterr()
    assert code == 0 and json.loads(out)["share"] == 0.25
    code = invoke(["serving", "set", "credit", "--mode", "canary"])
    _, err = capsys.readouterr()
    assert code == 2 and "share: a canary needs a share" in err
