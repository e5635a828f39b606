"""The review queue and suspension over REST, through real uvicorn (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.integration.test_server import Deployment

import govml
from govml.domain.oversight import Referral
from govml.server import create_app
from govml.server.background import serving
from govml.settings import load_settings


@pytest.fixture
def deployment(db_url: str, home: Path, tmp_path: Path) -> Iterator[Deployment]:
    settings = load_settings(home=home, database_url=db_url)
    govml.connect(home, database_url=db_url, user="alice").close()
    with serving(create_app(settings)) as url:
        made = Deployment(db_url, home, tmp_path, url)
        made.settle()
        made.register()
        yield made
        made.close()


def test_reviewers_decide_and_deployers_suspend_over_rest(deployment: Deployment) -> None:
    referred = Referral(
        version=1,
        request_id="rest-1",
        record=0,
        reasons=["score 0.5 in the referral band [0.4, 0.6]"],
        score=0.5,
        model_decision=0,
        inputs_digest=None,
        referred_at=datetime(2026, 12, 7, tzinfo=UTC),
    )
    assert deployment.local.oversight.record_referrals("credit", [referred]) == 1  # type: ignore[attr-defined]
    with deployment.http(deployment.tokens["vic"]) as vic:
        (item,) = vic.get("/api/v1/referrals", params={"model": "credit"}).json()
        assert vic.get(f"/api/v1/referrals/{item['id']}").json()["request_id"] == "rest-1"
        assert vic.get("/api/v1/referrals/rf_nope").status_code == 404
        assert vic.get("/api/v1/referrals", params={"status": "maybe"}).status_code == 422
        refused = vic.post(
            f"/api/v1/referrals/{item['id']}/decision", json={"decision": 1, "reason": "x"}
        )
        assert refused.status_code == 403
    with deployment.http(deployment.tokens["erin"]) as erin:
        bad = erin.post(f"/api/v1/referrals/{item['id']}/decision", json={"decision": 1})
        assert bad.status_code == 422
        hostile = erin.post(
            f"/api/v1/referrals/{item['id']}/decision",
            json={"decision": {"$gt": 1}, "reason": "x"},
        )
        assert hostile.status_code == 422
        done = erin.post(
            f"/api/v1/referrals/{item['id']}/decision",
            json={"decision": 1, "reason": "verified"},
        )
        assert done.status_code == 200, done.text
        assert (done.json()["decision"], done.json()["override"]) == (1, True)
        again = erin.post(
            f"/api/v1/referrals/{item['id']}/decision", json={"decision": 0, "reason": "again"}
        )
        assert again.status_code == 409
        held = erin.post("/api/v1/models/credit/suspend", json={"reason": "complaints"})
        assert held.status_code == 200 and held.json()["suspended"] is True
    with deployment.http(deployment.tokens["bob"]) as bob:
        assert bob.post("/api/v1/models/credit/resume", json={"reason": "x"}).status_code == 403
    with deployment.http(deployment.tokens["frank"]) as frank:
        assert frank.post("/api/v1/models/credit/resume", json={"reason": "ok"}).status_code == 200
    deployment.local.verify_ledger()
