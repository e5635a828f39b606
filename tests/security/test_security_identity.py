"""Attacks on people, tokens and approvals, through real uvicorn on SQLite and PostgreSQL.

- look-alike names (``"rita\\n"``, ``"Rita"``, full-width ``"ｒｉｔａ"``) are never a second rita:
  they cannot be created beside her, cannot be slipped into the table past its unique key,
  and cannot approve her version;
- a token one issues for oneself always expires, and no later than the server's limit;
- one admin alone cannot reach production: no self-granted approving or deploying role, and
  a role granted after a version was registered does not approve it;
- malformed references (Unicode digits, huge numbers, trailing newlines) are 422s naming
  the reference, never 500s.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression

import govml
from govml.errors import ForbiddenError, IntegrityError
from govml.server import create_app
from govml.server.background import serving
from govml.settings import load_settings

POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: gate}
tiers: [high]
performance:
  - {metric: accuracy, min: 0.6}
approvals: {required: 2, roles: [approver, risk_officer]}
"""
TEAM = {
    "rita": ["contributor", "approver"],
    "sam": ["approver"],
    "erin": ["risk_officer"],
    "dana": ["deployer"],
    "zoe": ["admin"],
}
LOOK_ALIKES = ["rita\n", "Rita", "RITA", "ｒｉｔａ", "rita ", "ri\u200bta"]


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = (x[:, 0] - x[:, 1] + rng.normal(scale=0.5, size=n) > 0).astype("int64")
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": y})


class Store:
    """Admin alice and a team; rita registers credit@1 and evaluates it; served over HTTP."""

    def __init__(self, url: str, home: Path, db_url: str, tmp: Path) -> None:
        self.url, self.home, self.db_url = url, home, db_url
        self.local = govml.connect(home, database_url=db_url, user="alice")
        self.local.init()
        policy = tmp / "gate.yaml"
        policy.write_text(POLICY, encoding="utf-8")
        self.local.apply_policy(policy)
        self.tokens = {
            name: self.local.add_user(name, roles=roles).token for name, roles in TEAM.items()
        }
        self.tokens["alice"] = self.local.issue_token("alice").token
        self.data = tmp / "eval.csv"
        _frame(seed=1).to_csv(self.data, index=False)
        self.ref = self.register()

    def register(self) -> str:
        with govml.connect(self.home, database_url=self.db_url, user="rita") as rita:
            try:
                rita.get_model("credit")
            except govml.errors.NotFoundError:
                rita.create_model("credit", risk_tier="high", description="d", intended_use="u")
            frame = _frame()
            model = LogisticRegression().fit(frame[["x1", "x2"]], frame["y"])
            ref = rita.register_version("credit", model=model, train_data=frame, target="y").ref
            rita.evaluate(ref, data=str(self.data), target="y", n_boot=20)
        return ref

    def http(self, who: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=30)

    def ledger(self, action: str) -> list[dict[str, object]]:
        with self.http("alice") as http:
            response = http.get("/audit/log", params={"action": action})
        assert response.status_code == 200, response.text
        return list(response.json())


@pytest.fixture
def store(db_url: str, home: Path, tmp_path: Path) -> Iterator[Store]:
    govml.connect(home, database_url=db_url, user="alice").close()
    app = create_app(load_settings(home=home, database_url=db_url))
    with serving(app) as url:
        made = Store(url, home, db_url, tmp_path)
        yield made
        made.local.close()


def _seg(value: str) -> str:
    """Return ``value`` as one URL path segment, percent-encoded as a client sends it."""
    return quote(value, safe="@")


def _error(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert "error" in body, body
    return dict(body["error"])


# -- look-alike names ---------------------------------------------------------------------------


def test_look_alikes_cannot_be_created_beside_rita(store: Store) -> None:
    with store.http("alice") as http:
        for name in LOOK_ALIKES:
            response = http.post("/users", json={"name": name, "roles": ["approver"]})
            assert response.status_code in (409, 422), (name, response.text)
            error = _error(response)
            if response.status_code == 422:
                assert (
                    error["type"] == "ValidationError" and "invalid user name" in error["message"]
                )
            else:
                assert "same person as existing user 'rita'" in error["message"]
        names = [user["name"] for user in http.get("/users").json()]
    assert names.count("rita") == 1
    assert not any(name in names for name in LOOK_ALIKES)


def test_the_table_itself_refuses_a_second_rita(store: Store) -> None:
    with store.local.ctx.store.write() as conn:
        rita = conn.execute(sa.text("SELECT * FROM users WHERE name = 'rita'")).mappings().one()
    for name in ("Rita", "ｒｉｔａ"):
        insert = sa.text(
            "INSERT INTO users (name, name_key, roles, roles_granted_at, created_at, created_by) "
            "SELECT :name, name_key, roles, roles_granted_at, created_at, 'mallory' FROM users "
            "WHERE name = 'rita'"
        )
        with pytest.raises(sa.exc.IntegrityError), store.local.ctx.store.write() as conn:
            conn.execute(insert, {"name": name})
    # Past the key with a key of its own: audit verify names the user the ledger never added.
    with store.local.ctx.store.write() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO users (name, name_key, roles, roles_granted_at, created_at, "
                "created_by) SELECT 'Rita', 'rita-2', roles, roles_granted_at, created_at, "
                "'mallory' FROM users WHERE name = 'rita'"
            )
        )
    with pytest.raises(IntegrityError, match="user 'Rita' has no user.added ledger entry"):
        store.local.verify_ledger()
    assert rita["name_key"] == "rita"


def test_look_alikes_cannot_approve_ritas_version(store: Store) -> None:
    with store.http("rita") as http:
        response = http.post(f"/versions/{store.ref}/approvals", json={"comment": "mine"})
    assert response.status_code == 403
    assert "separation of duties: rita registered credit@1" in _error(response)["message"]
    for name in LOOK_ALIKES:  # local mode: a claimed name is not a known person
        impostor = govml.connect(store.home, database_url=store.db_url, user=name)
        with impostor, pytest.raises(ForbiddenError, match="is not known to this store"):
            impostor.approve(store.ref, comment="I am rita too")
    with store.http("alice") as http:
        for name in LOOK_ALIKES:
            response = http.post(f"/users/{_seg(name)}/tokens", json={})
            assert response.status_code in (404, 422), (name, response.text)
        decisions = http.get(f"/versions/{store.ref}/approvals").json()
    assert decisions == []


# -- tokens -------------------------------------------------------------------------------------


def test_a_token_one_issues_for_oneself_always_expires_within_the_limit(store: Store) -> None:
    with store.http("sam") as http:
        for body, status in (
            ({"expires_in_days": None}, 422),
            ({"expires_in_days": 91}, 403),
            ({"expires_in_days": 36500}, 422),
            ({"expires_in_days": 0}, 422),
            ({"expires_in_days": -1}, 422),
        ):
            response = http.post("/users/sam/tokens", json=body)
            assert response.status_code == status, (body, response.text)
            assert "expires_in_days" in _error(response)["message"]
        response = http.post("/users/sam/tokens", json={})
    assert response.status_code == 201, response.text
    expires = datetime.fromisoformat(response.json()["expires_at"])
    assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)
    with store.http("alice") as http:  # an admin, for herself: the same limit
        response = http.post("/users/alice/tokens", json={"expires_in_days": 365})
        assert response.status_code == 403, response.text
        response = http.post(
            "/users", json={"name": "x", "roles": ["viewer"], "expires_in_days": None}
        )
        assert response.status_code == 422, response.text


def test_only_an_admin_issues_a_longer_token_for_someone_else_and_the_ledger_says_so(
    store: Store,
) -> None:
    with store.http("alice") as http:
        response = http.post("/users/dana/tokens", json={"expires_in_days": 365})
    assert response.status_code == 201, response.text
    issued = response.json()
    entry = next(
        e for e in store.ledger("token.issued") if e["payload"]["token_id"] == issued["token_id"]
    )  # type: ignore[index]
    payload = entry["payload"]
    assert isinstance(payload, dict)
    assert (payload["issued_by"], payload["days"], payload["over_cap"]) == ("alice", 365, True)
    assert entry["actor"] == "alice" and entry["subject"] == "user/dana"
    with store.http("zoe") as http:  # another admin's normal token is not over the limit
        response = http.post("/users/sam/tokens", json={})
    assert response.status_code == 201
    entry = store.ledger("token.issued")[-1]
    assert entry["payload"]["over_cap"] is False  # type: ignore[index]


# -- one admin alone -----------------------------------------------------------------------------


def test_one_admin_alone_cannot_reach_production(store: Store) -> None:
    with store.http("alice") as http:
        for roles in (["admin", "approver"], ["admin", "risk_officer"], ["admin", "deployer"]):
            response = http.put("/users/alice/roles", json={"roles": roles})
            assert response.status_code == 403, response.text
            assert "alice cannot grant themself" in _error(response)["message"]
            assert "govml users roles alice --set ROLE" in _error(response)["hint"]
        response = http.post(f"/versions/{store.ref}/approvals", json={"comment": "mine"})
        assert response.status_code == 403  # admin holds no approving role
        assert (
            http.post(f"/versions/{store.ref}/promote", json={"to": "staging"}).status_code == 200
        )
        response = http.post(f"/versions/{store.ref}/promote", json={"to": "production"})
        assert response.status_code == 409
        assert "asks for 2 approval(s)" in " ".join(_error(response)["missing"])

    with store.http("zoe") as http:  # a second admin grants alice approving rights now
        response = http.put("/users/alice/roles", json={"roles": ["admin", "approver"]})
        assert response.status_code == 200, response.text
        granted = response.json()["roles_granted_at"]["approver"]
    with store.http("alice") as http:
        response = http.post(f"/versions/{store.ref}/approvals", json={"comment": "now I may"})
        assert response.status_code == 403, response.text
        message = _error(response)["message"]
        assert f"granted approver on {datetime.fromisoformat(granted):%Y-%m-%d %H:%M:%S} UTC" in (
            message
        )
        assert "not before credit@1 was registered" in message
    with store.http("sam") as http:
        assert (
            http.post(f"/versions/{store.ref}/approvals", json={"comment": "ok"}).status_code == 201
        )
        readiness = http.get(f"/versions/{store.ref}/readiness").json()
    assert readiness["approvals"] == ["sam"] and not readiness["ready"]


def test_approvals_of_a_disabled_approver_stop_counting(store: Store) -> None:
    for who in ("sam", "erin"):
        with store.http(who) as http:
            response = http.post(f"/versions/{store.ref}/approvals", json={"comment": "ok"})
            assert response.status_code == 201, response.text
            assert response.json()["evaluation_id"] is not None
    with store.http("dana") as http:
        assert (
            http.post(f"/versions/{store.ref}/promote", json={"to": "staging"}).status_code == 200
        )
        assert http.get(f"/versions/{store.ref}/readiness").json()["ready"]
    with store.http("alice") as http:
        assert http.post("/users/sam/disable").status_code == 200
    with store.http("dana") as http:
        readiness = http.get(f"/versions/{store.ref}/readiness").json()
        response = http.post(f"/versions/{store.ref}/promote", json={"to": "production"})
    assert not readiness["ready"]
    assert [(v["actor"], v["short"]) for v in readiness["verdicts"] if not v["counts"]] == [
        ("sam", "approver disabled")
    ]
    assert response.status_code == 409


# -- malformed references ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref",
    [
        "credit@²",
        "credit@１",
        "credit@٣",
        "credit@99999999999999999999999",
        "credit@2147483648",
        "credit@0",
        "credit@1\n",
        "credit\n@1",
        "ｃｒｅｄｉｔ@1",
    ],
)
def test_malformed_references_are_422_naming_them(store: Store, ref: str) -> None:
    requests = [
        ("GET", f"/versions/{_seg(ref)}", None),
        ("GET", f"/versions/{_seg(ref)}/readiness", None),
        ("GET", f"/versions/{_seg(ref)}/approvals", None),
        ("POST", f"/versions/{_seg(ref)}/approvals", {"comment": "x"}),
        ("POST", f"/versions/{_seg(ref)}/promote", {"to": "staging"}),
    ]
    with store.http("sam") as http:
        for method, path, body in requests:
            response = http.request(method, path, json=body)
            assert response.status_code == 422, (method, path, response.text)
            error = _error(response)
            assert error["type"] == "ValidationError"
            assert repr(ref) in error["message"], error["message"]


@pytest.mark.parametrize("name", ["credit\n", "ｃｒｅｄｉｔ", "credit@1"])
def test_malformed_model_and_user_names_in_paths_are_422(store: Store, name: str) -> None:
    with store.http("dana") as http:
        for method, path, body in (
            ("GET", f"/models/{_seg(name)}/history", None),
            ("POST", f"/models/{_seg(name)}/rollback", {"reason": "x"}),
        ):
            response = http.request(method, path, json=body)
            assert response.status_code == 422, (method, path, response.text)
            assert "invalid model name" in _error(response)["message"]
    with store.http("alice") as http:
        for method, path, body in (
            ("PUT", f"/users/{_seg(name)}/roles", {"roles": ["viewer"]}),
            ("POST", f"/users/{_seg(name)}/tokens", {}),
            ("DELETE", f"/users/{_seg(name)}/tokens", None),
            ("POST", f"/users/{_seg(name)}/disable", None),
        ):
            response = http.request(method, path, json=body)
            assert response.status_code == 422, (method, path, response.text)
            assert "invalid user name" in _error(response)["message"]
