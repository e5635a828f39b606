"""Promotion through the gates, approvals with separation of duties, rollback, people, tokens.

Every test runs on SQLite and on the PostgreSQL server. The actors are separate clients of
the same store with different ``user`` names (local mode: the identity is ``GOVML_USER``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sklearn.linear_model import LogisticRegression
from tests.conftest import BACKENDS, PG_ADMIN_URL

import govml
from govml.cli.main import invoke
from govml.domain.lifecycle import Role
from govml.errors import (
    AlreadyExistsError,
    AuthenticationError,
    ForbiddenError,
    GateError,
    IntegrityError,
    NotFoundError,
    ValidationError,
)
from govml.services.access import AccessService
from govml.store.access_records import load_user
from govml.store.db import Store
from govml.store.schema import UTCDateTime

POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {{name: gate, owner: risk@example.com}}
tiers: [high, unacceptable]
performance:
  - {{metric: accuracy, min: {accuracy_min}}}
approvals: {{required: 2, roles: [approver, risk_officer]}}
"""


def _frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    y = (x[:, 0] - x[:, 1] + rng.normal(scale=0.5, size=n) > 0).astype("int64")
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "y": y})


class Team:
    """One store, several people: admin alice, contributor bob, approvers carol and dave,
    risk officer erin, deployer frank, viewer vic."""

    def __init__(self, db_url: str, home: Path, tmp_path: Path) -> None:
        self.db_url, self.home, self.tmp = db_url, home, tmp_path
        self.clients: dict[str, govml.Client] = {}
        self.tokens: dict[str, str] = {}
        admin = self["alice"]
        admin.init()
        for name, role in [
            ("bob", "contributor"),
            ("carol", "approver"),
            ("dave", "approver"),
            ("erin", "risk_officer"),
            ("frank", "deployer"),
            ("vic", "viewer"),
        ]:
            self.tokens[name] = admin.add_user(name, roles=[role]).token
        self.data = tmp_path / "eval.csv"
        _frame(seed=1).to_csv(self.data, index=False)

    def __getitem__(self, name: str) -> govml.Client:
        if name not in self.clients:
            self.clients[name] = govml.connect(self.home, database_url=self.db_url, user=name)
        return self.clients[name]

    def policy(self, accuracy_min: float = 0.6) -> Path:
        path = self.tmp / f"policy-{accuracy_min}.yaml"
        path.write_text(POLICY.format(accuracy_min=accuracy_min), encoding="utf-8")
        return path

    def register(self, name: str = "credit", *, tier: str = "high") -> str:
        bob = self["bob"]
        try:
            bob.get_model(name)
        except NotFoundError:
            bob.create_model(name, risk_tier=tier, description="d", intended_use="u")
        frame = _frame()
        model = LogisticRegression().fit(frame[["x1", "x2"]], frame["y"])
        version = bob.register_version(name, model=model, train_data=frame, target="y")
        return version.ref

    def evaluate(self, ref: str) -> govml.Evaluation:
        return self["bob"].evaluate(ref, data=str(self.data), target="y", n_boot=50)

    def approve_twice(self, ref: str) -> None:
        self["carol"].approve(ref, comment="metrics reviewed")
        self["erin"].approve(ref, comment="risk accepted")

    def close(self) -> None:
        for opened in self.clients.values():
            opened.close()


@pytest.fixture
def team(db_url: str, home: Path, tmp_path: Path) -> Iterator[Team]:
    made = Team(db_url, home, tmp_path)
    made["alice"].apply_policy(made.policy())
    yield made
    made.close()


def test_promotion_walks_through_every_gate(team: Team) -> None:
    ref = team.register()
    frank = team["frank"]
    with pytest.raises(GateError) as info:
        frank.promote(ref, to="staging")
    assert info.value.missing == (
        "credit@1 has no evaluation under policy gate v1: run `govml evaluate credit@1 "
        "--data FILE --target COLUMN`",
    )
    evaluation = team.evaluate(ref)
    assert evaluation.status == "pass"
    change = frank.promote(ref, to="staging", reason="candidate")
    assert (change.alias, change.version, change.previous) == ("staging", 1, None)
    assert change.evaluation_id == evaluation.id

    with pytest.raises(GateError) as info:
        frank.promote(ref, to="production")
    (missing,) = info.value.missing
    assert "asks for 2 approval(s) from approver or risk_officer; credit@1 has 0 (none)" in missing

    team["carol"].approve(ref, comment="metrics reviewed")
    with pytest.raises(GateError, match="production") as info:
        frank.promote(ref, to="production")
    assert "has 1 (carol)" in info.value.missing[0]
    team["erin"].approve(ref, comment="risk accepted")
    readiness = frank.readiness(ref, to="production")
    assert readiness.ready and readiness.approvals == ("carol", "erin")
    change = frank.promote("credit@staging", to="production", reason="go live")
    assert change.approvals == ("carol", "erin") and change.policy_digest is not None
    assert frank.get_model("credit").aliases == {"production": 1, "staging": 1}
    assert frank.get_version("credit@production").version == 1

    history = frank.alias_history("credit")
    assert [(c.alias, c.action, c.version, c.actor) for c in history] == [
        ("staging", "promote", 1, "frank"),
        ("production", "promote", 1, "frank"),
    ]
    actions = [e.action for e in frank.audit_log(model="credit")]
    assert actions.count("version.approved") == 2 and "alias.promoted" in actions
    result = frank.verify_ledger()
    assert (result.users, result.approvals, result.alias_changes) == (7, 2, 2)


def test_refusals_name_the_person_and_the_rule(team: Team) -> None:
    ref = team.register()
    team.evaluate(ref)
    with pytest.raises(ForbiddenError, match=r"vic \(viewer\) may not promote"):
        team["vic"].promote(ref, to="staging")
    with pytest.raises(ForbiddenError, match="bob .contributor. may not approve"):
        team["bob"].approve(ref, comment="mine")
    with pytest.raises(ForbiddenError, match="carol .approver. may not promote"):
        team["carol"].promote(ref, to="staging")
    with pytest.raises(ForbiddenError, match="'mallory' is not known"):
        team["mallory"].promote(ref, to="staging")
    with pytest.raises(ValidationError, match="unknown stage 'prod'"):
        team["frank"].promote(ref, to="prod")
    with pytest.raises(ValidationError, match="comment must not be empty"):
        team["carol"].approve(ref, comment="  ")
    team["carol"].approve(ref, comment="fine")
    with pytest.raises(AlreadyExistsError, match="carol already approved credit@1"):
        team["carol"].approve(ref, comment="fine again")
    frank = team["frank"]
    frank.promote(ref, to="staging")
    with pytest.raises(AlreadyExistsError, match="already holds staging"):
        frank.promote(ref, to="staging")


def test_nobody_approves_what_they_registered(team: Team) -> None:
    team["alice"].set_roles("bob", roles=["contributor", "approver"])
    ref = team.register()
    with pytest.raises(ForbiddenError, match="separation of duties: bob registered credit@1"):
        team["bob"].approve(ref, comment="looks good to me")
    assert team["bob"].list_approvals(ref) == []


def test_approvals_from_roles_the_policy_does_not_accept_are_not_counted(team: Team) -> None:
    text = team.policy().read_text()
    policy = text.replace("roles: [approver, risk_officer]", "roles: [risk_officer]")
    path = team.tmp / "strict.yaml"
    path.write_text(policy)
    team["alice"].apply_policy(path)
    ref = team.register()
    team.evaluate(ref)
    team.approve_twice(ref)
    team["frank"].promote(ref, to="staging")
    ready = team["frank"].readiness(ref)
    assert not ready.ready
    assert "has 1 (erin); not counted: carol (approved as approver)" in ready.missing[0]


def test_a_rejection_blocks_until_its_author_changes_their_mind(team: Team) -> None:
    ref = team.register()
    team.evaluate(ref)
    team.approve_twice(ref)
    team["dave"].approve(ref, comment="drift risk too high", reject=True)
    team["frank"].promote(ref, to="staging")
    with pytest.raises(GateError) as info:
        team["frank"].promote(ref, to="production")
    assert "dave (approver) rejected credit@1" in info.value.missing[0]
    assert "drift risk too high" in info.value.missing[0]
    team["dave"].approve(ref, comment="mitigation accepted")
    assert team["frank"].promote(ref, to="production").version == 1
    decisions = [(a.actor, a.decision) for a in team["vic"].list_approvals(ref)]
    assert decisions == [
        ("carol", "approve"),
        ("erin", "approve"),
        ("dave", "reject"),
        ("dave", "approve"),
    ]


def test_failed_and_stale_evaluations_do_not_open_the_gate(team: Team) -> None:
    ref = team.register()
    team["alice"].apply_policy(team.policy(accuracy_min=0.99))
    failed = team.evaluate(ref)
    assert failed.status == "fail"
    with pytest.raises(GateError) as info:
        team["frank"].promote(ref, to="staging")
    assert info.value.missing == (
        f"the latest evaluation of credit@1 under policy gate v2 (evaluation {failed.id}) "
        "failed: accuracy",
    )
    team["alice"].apply_policy(team.policy(accuracy_min=0.6))  # version 3 now in force
    with pytest.raises(GateError) as info:
        team["frank"].promote(ref, to="staging")
    assert f"evaluation {failed.id} of credit@1 is stale" in info.value.missing[0]
    assert "policy gate v3" in info.value.missing[0]
    team.evaluate(ref)
    assert team["frank"].promote(ref, to="staging").version == 1


def test_no_policy_in_force_is_a_missing_condition(db_url: str, home: Path, tmp_path: Path) -> None:
    made = Team(db_url, home, tmp_path)
    try:
        ref = made.register()
        ready = made["frank"].readiness(ref, to="staging")
        assert ready.missing == [
            "no policy is in force for risk tier high: apply one with `govml policy apply FILE`"
        ]
    finally:
        made.close()


def test_an_unacceptable_model_never_reaches_production(team: Team) -> None:
    ref = team.register("social-score", tier="unacceptable")
    team.evaluate(ref)
    team.approve_twice(ref)
    team["frank"].promote(ref, to="staging")
    with pytest.raises(GateError) as info:
        team["frank"].promote(ref, to="production")
    assert info.value.missing == (
        "social-score is in the unacceptable risk tier: it can never reach production",
    )


def test_rollback_goes_back_through_the_promotions(team: Team) -> None:
    refs = [team.register() for _ in range(3)]
    frank = team["frank"]
    for ref in refs:
        team.evaluate(ref)
        team.approve_twice(ref)
        frank.promote(ref, to="staging")
    frank.promote(refs[0], to="production")
    with pytest.raises(NotFoundError, match="no previous production version"):
        frank.rollback("credit", reason="test")
    frank.promote(refs[1], to="production")
    frank.promote(refs[2], to="production")
    with pytest.raises(ValidationError, match="reason must not be empty"):
        frank.rollback("credit", reason="")
    with pytest.raises(ForbiddenError):
        team["bob"].rollback("credit", reason="I want it")
    back = frank.rollback("credit", reason="accuracy alert")
    assert (back.action, back.version, back.previous, back.reason) == (
        "rollback",
        2,
        3,
        "accuracy alert",
    )
    assert frank.rollback("credit", reason="still bad").version == 1
    with pytest.raises(NotFoundError, match="version 1 is the first"):
        frank.rollback("credit", reason="again")
    assert frank.get_model("credit").aliases["production"] == 1
    history = frank.alias_history("credit", alias="production")
    assert [(c.action, c.version, c.previous) for c in history] == [
        ("promote", 1, None),
        ("promote", 2, 1),
        ("promote", 3, 2),
        ("rollback", 2, 3),
        ("rollback", 1, 2),
    ]
    with pytest.raises(NotFoundError, match="nothing to roll back"):
        team.register("other")
        frank.rollback("other", reason="none")
    assert frank.verify_ledger().alias_changes == 8  # 3 to staging, 3 to production, 2 back


# -- people and tokens ------------------------------------------------------------------------


def test_tokens_authenticate_until_expired_or_revoked(team: Team) -> None:
    access = AccessService(team["alice"].ctx)
    assert access.authenticate(team.tokens["frank"]).name == "frank"
    token = team.tokens["frank"]
    for wrong in ("", "abc", token[:-1] + ("A" if token[-1] != "A" else "B"), "govml_x_y"):
        with pytest.raises(AuthenticationError):
            access.authenticate(wrong)
    later = team["alice"].ctx
    original = later.clock
    later.clock = lambda: datetime.now(UTC) + timedelta(days=91)
    try:
        with pytest.raises(AuthenticationError, match="expired on"):
            access.authenticate(token)
    finally:
        later.clock = original
    fresh = team["frank"].issue_token("frank", expires_in_days=1)  # oneself: allowed
    assert access.authenticate(fresh.token).name == "frank"
    with pytest.raises(ForbiddenError):
        team["frank"].issue_token("carol")
    assert team["alice"].revoke_tokens("frank") == 2
    with pytest.raises(AuthenticationError, match="revoked"):
        access.authenticate(fresh.token)
    vic_token = team.tokens["vic"]
    team["alice"].disable_user("vic")
    with pytest.raises(AuthenticationError, match="revoked"):
        access.authenticate(vic_token)
    with pytest.raises(ForbiddenError, match="disabled"):
        team["vic"].issue_token("vic")
    with team["alice"].ctx.store.read() as conn:
        stored = conn.execute(sa.text("SELECT hash FROM tokens")).scalars().all()
    assert all(len(h) == 64 and h not in team.tokens.values() for h in stored)
    assert team["alice"].verify_ledger().users == 7


def test_user_administration_is_for_admins(team: Team) -> None:
    with pytest.raises(ForbiddenError, match="administer"):
        team["bob"].add_user("zed", roles=["admin"])
    with pytest.raises(ValidationError, match="unknown role 'approvr'") as info:
        team["alice"].add_user("zed", roles=["approvr"])
    assert info.value.hint == "did you mean 'approver'?"
    with pytest.raises(AlreadyExistsError):
        team["alice"].add_user("bob", roles=["viewer"])
    with pytest.raises(ForbiddenError, match="own admin role"):
        team["alice"].set_roles("alice", roles=["viewer"])
    with pytest.raises(ForbiddenError, match="cannot disable themself"):
        team["alice"].disable_user("alice")
    with pytest.raises(NotFoundError, match="user 'bobb' does not exist"):
        team["alice"].set_roles("bobb", roles=["viewer"])
    assert [u.name for u in team["vic"].list_users()][:2] == ["alice", "bob"]
    assert team["vic"].whoami().roles == ("viewer",)


def test_the_first_user_of_an_empty_store_is_admin(client: govml.Client) -> None:
    with pytest.raises(ForbiddenError, match="alice cannot grant themself approver"):
        client.add_user("alice", roles=["approver"])  # nobody grants themself approving rights
    assert client.list_users() == []  # refused as a whole: not even the admin was stored
    issued = client.add_user("alice", roles=["contributor"])  # alice adds herself first
    assert client.whoami().roles == ("contributor", "admin")
    assert issued.user == "alice"
    other = govml.connect(client.ctx.store.url, user="bob")  # type: ignore[arg-type]
    try:
        with pytest.raises(ForbiddenError, match="'bob' is not known"):
            other.create_model("m", risk_tier="minimal")
    finally:
        other.close()


# -- approvals bound to evidence, staging first ----------------------------------------------


def test_approvals_are_bound_to_the_evaluation_they_were_given_on(team: Team) -> None:
    ref = team.register()
    with pytest.raises(GateError) as info:
        team["carol"].approve(ref, comment="nothing to review yet")
    assert "credit@1 has no evaluation under policy gate v1" in info.value.missing[0]
    first = team.evaluate(ref)
    team.approve_twice(ref)
    decisions = team["vic"].list_approvals(ref)
    digest = team["vic"].policy_for_tier("high").digest  # type: ignore[union-attr]
    assert {(a.evaluation_id, a.policy_digest) for a in decisions} == {(first.id, digest)}
    frank = team["frank"]
    frank.promote(ref, to="staging")
    assert frank.readiness(ref).ready

    second = team.evaluate(ref)  # new evidence: the approvals were given on the first
    ready = frank.readiness(ref)
    assert not ready.ready
    assert [(v.actor, v.counts, v.short) for v in ready.verdicts] == [
        ("carol", False, "stale evaluation"),
        ("erin", False, "stale evaluation"),
    ]
    assert f"approved on evaluation {first.id}; the latest under policy gate v1 is now " in (
        ready.verdicts[0].reason
    )
    with pytest.raises(GateError, match="cannot be promoted to production"):
        frank.promote(ref, to="production")
    team.approve_twice(ref)  # approving again on the new evidence is not "already approved"
    ready = frank.readiness(ref)
    assert ready.ready and ready.approvals == ("carol", "erin")
    change = frank.promote(ref, to="production")
    assert change.evaluation_id == second.id and change.approvals == ("carol", "erin")
    assert frank.verify_ledger().approvals == 4


def test_a_replaced_policy_discounts_the_approvals_given_under_the_old_one(team: Team) -> None:
    ref = team.register()
    team.evaluate(ref)
    team.approve_twice(ref)
    team["frank"].promote(ref, to="staging")
    team["alice"].apply_policy(team.policy(accuracy_min=0.5))  # gate v2, another digest
    team.evaluate(ref)
    ready = team["frank"].readiness(ref)
    assert {v.actor: v.short for v in ready.verdicts} == {
        "carol": "policy replaced",
        "erin": "policy replaced",
    }
    assert "is now in force" in ready.verdicts[0].reason
    assert (
        "has 0 (none); not counted: carol (policy replaced), erin (policy replaced)"
        in (ready.missing[0])
    )


def test_production_needs_staging_first_unless_the_policy_says_otherwise(team: Team) -> None:
    ref = team.register()
    team.evaluate(ref)
    team.approve_twice(ref)
    with pytest.raises(GateError) as info:
        team["frank"].promote(ref, to="production")
    assert info.value.missing == (
        "credit@1 has never held staging, and policy gate v1 asks for staging before "
        "production: run `govml promote credit@1 --to staging` first",
    )
    relaxed = team.tmp / "relaxed.yaml"
    relaxed.write_text(
        team.policy()
        .read_text()
        .replace(
            "roles: [approver, risk_officer]}",
            "roles: [approver, risk_officer], require_staging: false}",
        )
    )
    applied = team["alice"].apply_policy(relaxed)
    assert applied.policy.policy.approvals.require_staging is False  # type: ignore[union-attr]
    team.evaluate(ref)
    team.approve_twice(ref)
    assert team["frank"].promote(ref, to="production").version == 1


def test_the_default_keeps_the_digest_of_policies_written_before_it(team: Team) -> None:
    stated = team.tmp / "stated.yaml"
    stated.write_text(
        team.policy().read_text().replace("risk_officer]}", "risk_officer], require_staging: true}")
    )
    assert team["alice"].validate_policy(stated).digest == (
        team["alice"].validate_policy(team.policy()).digest
    )


def test_approvals_of_people_disabled_or_demoted_stop_counting(team: Team) -> None:
    ref = team.register()
    team.evaluate(ref)
    team.approve_twice(ref)
    team["frank"].promote(ref, to="staging")
    assert team["frank"].readiness(ref).ready
    alice = team["alice"]
    alice.disable_user("carol")
    alice.set_roles("erin", roles=["viewer"])
    ready = team["frank"].readiness(ref)
    assert {v.actor: v.short for v in ready.verdicts} == {
        "carol": "approver disabled",
        "erin": "role risk_officer removed",
    }
    alice.set_roles("erin", roles=["risk_officer"])  # granted again: after credit@1
    ready = team["frank"].readiness(ref)
    assert {v.actor: v.short for v in ready.verdicts}["erin"] == "role granted after registration"
    with pytest.raises(GateError):
        team["frank"].promote(ref, to="production")
    assert team["frank"].verify_ledger().users == 7


# -- one admin alone ---------------------------------------------------------------------------


def test_one_admin_alone_cannot_reach_production(team: Team) -> None:
    alice = team["alice"]
    for roles in (["admin", "approver"], ["admin", "risk_officer"], ["admin", "deployer"]):
        with pytest.raises(ForbiddenError, match="alice cannot grant themself"):
            alice.set_roles("alice", roles=roles)
    assert alice.whoami().roles == ("admin",)
    ref = team.register()
    team.evaluate(ref)
    with pytest.raises(ForbiddenError, match=r"alice \(admin\) may not approve"):
        alice.approve(ref, comment="I approve my store")

    alice.add_user("zoe", roles=["admin"])  # a second admin may grant alice approving rights
    team["zoe"].set_roles("alice", roles=["admin", "approver"])
    with pytest.raises(ForbiddenError) as info:
        alice.approve(ref, comment="now I may")
    assert "alice was granted approver on " in info.value.message
    assert "not before credit@1 was registered (" in info.value.message
    assert alice.list_approvals(ref) == []
    later = team.register()  # registered after the grant: her approval counts
    team.evaluate(later)
    assert alice.approve(later, comment="reviewed").role == "approver"
    team["frank"].promote(later, to="staging")
    ready = team["frank"].readiness(later)
    assert ready.approvals == ("alice",)
    assert alice.verify_ledger().users == 8


def test_role_grant_times_are_replayed_from_the_ledger(team: Team) -> None:
    carol = next(u for u in team["vic"].list_users() if u.name == "carol")
    assert set(carol.granted_at) == {Role.APPROVER}
    entries = [e for e in team["vic"].audit_log() if e.subject == "user/carol"]
    added = next(e for e in entries if e.action == "user.added")
    assert carol.granted_at[Role.APPROVER] == datetime.fromisoformat(added.time)
    team["alice"].set_roles("carol", roles=["approver", "viewer"])
    after = next(u for u in team["vic"].list_users() if u.name == "carol")
    assert after.granted_at[Role.APPROVER] == carol.granted_at[Role.APPROVER]  # kept
    assert after.granted_at[Role.VIEWER] > carol.granted_at[Role.APPROVER]
    assert team["vic"].verify_ledger().users == 7


# -- names and tokens --------------------------------------------------------------------------


def test_look_alike_names_are_not_second_people_or_models(team: Team) -> None:
    alice = team["alice"]
    with pytest.raises(AlreadyExistsError, match="'Carol' is the same person as existing user"):
        alice.add_user("Carol", roles=["approver"])
    for name in ("carol\n", "ｃａｒｏｌ", "carol ", "car\u200bol"):
        with pytest.raises(ValidationError, match="invalid user name"):
            alice.add_user(name, roles=["approver"])
    team.register()
    with pytest.raises(AlreadyExistsError, match="same name as existing model 'credit'"):
        team["bob"].create_model("CREDIT", risk_tier="high")
    with pytest.raises(ValidationError, match="invalid model name"):
        team["bob"].create_model("credit\n", risk_tier="high")
    assert [u.name for u in alice.list_users()] == sorted(
        ["alice", "bob", "carol", "dave", "erin", "frank", "vic"]
    )
    with pytest.raises(ForbiddenError, match="'Carol' is not known"):
        team["Carol"].approve("credit@1", comment="I am carol too")


def test_token_lifetimes_are_capped_for_oneself(team: Team) -> None:
    frank, alice = team["frank"], team["alice"]
    with pytest.raises(ForbiddenError, match="91 days is over the 90-day limit"):
        frank.issue_token("frank", expires_in_days=91)
    with pytest.raises(ForbiddenError, match="over the 90-day limit"):
        alice.issue_token("alice", expires_in_days=365)  # admins too, for themselves
    for days in (0, -1, 3651):
        with pytest.raises(ValidationError, match="a token lives 1 to 3650 days"):
            frank.issue_token("frank", expires_in_days=days)
    own = frank.issue_token("frank")
    assert own.expires_at is not None
    assert timedelta(days=89) < own.expires_at - datetime.now(UTC) <= timedelta(days=90)
    service = alice.issue_token("frank", expires_in_days=365)  # an admin, for another user
    entry = [e for e in alice.audit_log() if e.action == "token.issued"][-1]
    assert entry.payload["token_id"] == service.token_id
    assert (entry.payload["issued_by"], entry.payload["days"], entry.payload["over_cap"]) == (
        "alice",
        365,
        True,
    )
    assert entry.payload["expires_at"] == service.expires_at.isoformat()  # type: ignore[union-attr]
    capped = replace(frank.ctx, token_max_days=30)
    short = AccessService(capped).issue_token("frank")
    assert short.expires_at is not None
    assert short.expires_at - datetime.now(UTC) <= timedelta(days=30)
    with pytest.raises(ForbiddenError, match="over the 30-day limit"):
        AccessService(capped).issue_token("frank", expires_in_days=31)
    assert alice.verify_ledger().users == 7


def test_a_token_stored_without_an_expiry_expires_after_the_cap(team: Team) -> None:
    alice = team["alice"]
    token = team.tokens["vic"]
    with alice.ctx.store.write() as conn:
        conn.execute(sa.text("UPDATE tokens SET expires_at = NULL"))  # as an older govml wrote
    access = AccessService(alice.ctx)
    assert access.authenticate(token).name == "vic"
    later = replace(alice.ctx, clock=lambda: datetime.now(UTC) + timedelta(days=91))
    with pytest.raises(AuthenticationError, match="issued without an expiry") as info:
        AccessService(later).authenticate(token)
    assert "expire GOVML_TOKEN_MAX_DAYS (90) days after issue" in info.value.message


# -- tampering --------------------------------------------------------------------------------


def _raw(client: govml.Client, *statements: str) -> None:
    with client.ctx.store.write() as conn:
        if client.ctx.store.dialect == "sqlite":
            for table in ("approvals", "alias_events"):
                conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
                conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
        else:
            for table in ("approvals", "alias_events"):
                conn.execute(sa.text(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}"))
        for statement in statements:
            conn.execute(sa.text(statement))


@pytest.fixture
def promoted(team: Team) -> Team:
    ref = team.register()
    team.evaluate(ref)
    team.approve_twice(ref)
    team["frank"].promote(ref, to="staging")
    team["frank"].promote(ref, to="production")
    team.register()
    return team


@pytest.mark.parametrize(
    ("statements", "message"),
    [
        (
            ["UPDATE model_aliases SET version_id = (SELECT max(id) FROM model_versions)"],
            "credit@production is version 2 in the database but version 1 per ledger entry",
        ),
        (["UPDATE approvals SET actor = 'dave' WHERE actor = 'carol'"], "approval 1 differs"),
        (["DELETE FROM approvals WHERE actor = 'erin'"], "approval 2 is in the ledger but missing"),
        (
            [
                "INSERT INTO approvals (model_id, version, decision, role, comment, actor, "
                "created_at) SELECT model_id, 2, 'approve', 'approver', 'x', 'carol', created_at "
                "FROM approvals WHERE id = 1"
            ],
            "approval 3 has no ledger entry",
        ),
        (["UPDATE alias_events SET reason = 'other'"], "alias change 1 differs"),
        (
            ["UPDATE users SET roles = '[\"admin\"]' WHERE name = 'vic'"],
            "user 'vic' differs from its ledger history: roles",
        ),
        (
            [
                "UPDATE users SET roles_granted_at = "
                "'{\"approver\": \"2000-01-01T00:00:00+00:00\"}' WHERE name = 'carol'"
            ],
            "user 'carol' differs from its ledger history: granted_at",
        ),
        (
            ["UPDATE users SET name_key = 'someone' WHERE name = 'vic'"],
            "user 'vic' has the identity key 'someone' in the database",
        ),
        (
            [
                "INSERT INTO tokens (id, user_id, hash, created_at) SELECT 'ffffffffffffffff', "
                "id, 'aa', created_at FROM users WHERE name = 'alice'"
            ],
            "token ffffffffffffffff of 'alice' has no token.issued entry",
        ),
        (["UPDATE tokens SET revoked_at = NULL"], None),
    ],
)
def test_lifecycle_rows_changed_by_sql_are_named(
    promoted: Team, statements: list[str], message: str | None
) -> None:
    admin = promoted["alice"]
    if message is None:  # un-revoking a token: revoke one first
        admin.revoke_tokens("vic")
        message = "differs from its ledger history: revoked"
    _raw(admin, *statements)
    with pytest.raises(IntegrityError, match=message):
        admin.verify_ledger()


@pytest.mark.parametrize("table", ["approvals", "alias_events"])
def test_decisions_and_alias_changes_are_append_only(promoted: Team, table: str) -> None:
    store = promoted["alice"].ctx.store
    for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.write() as conn:
            conn.execute(sa.text(statement))


def test_one_version_per_alias_is_a_database_constraint(promoted: Team) -> None:
    store = promoted["alice"].ctx.store
    with pytest.raises(sa.exc.IntegrityError), store.write() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO model_aliases (model_id, alias, version_id, updated_at, updated_by) "
                "SELECT model_id, alias, version_id, updated_at, 'x' FROM model_aliases"
            )
        )


# -- CLI --------------------------------------------------------------------------------------


def test_cli_promote_approve_history_and_status(
    team: Team, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GOVML_HOME", str(team.home))
    monkeypatch.setenv("GOVML_DATABASE_URL", team.db_url)

    def run(user: str, *args: str) -> tuple[int, str, str]:
        monkeypatch.setenv("GOVML_USER", user)
        code = invoke(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    ref = team.register()
    code, out, err = run("frank", "promote", ref, "--to", "staging")
    assert code == 1 and "credit@1 cannot be promoted to staging:" in err
    assert "has no evaluation under policy gate v1" in err
    code, out, _ = run("frank", "versions", "status", ref, "--to", "staging", "--json")
    assert code == 1 and json.loads(out)["ready"] is False
    team.evaluate(ref)
    code, out, _ = run("frank", "versions", "status", ref, "--to", "staging")
    assert code == 0 and "ready" in out and "evaluation" in out
    code, out, err = run("frank", "promote", ref, "--to", "staging", "--reason", "candidate")
    assert code == 0 and "credit@staging is now version 1" in out, err
    code, out, _ = run("carol", "approve", ref, "--comment", "ok")
    assert code == 0 and "carol (approver) approved credit@1" in out
    code, _, err = run("carol", "approve", ref, "--comment", "ok")
    assert code == 2 and "already approved" in err
    code, _, err = run("bob", "approve", ref, "--comment", "mine")
    assert code == 3 and "may not approve" in err
    code, out, _ = run("vic", "approvals", "list", ref, "--json")
    assert [a["actor"] for a in json.loads(out)] == ["carol"]
    code, out, _ = run("erin", "approve", ref, "--comment", "risk ok", "--json")
    assert code == 0 and json.loads(out)["role"] == "risk_officer"
    team.evaluate(ref)  # new evidence: the approvals no longer count, and status says why
    code, out, _ = run("frank", "versions", "status", ref)
    assert code == 1 and "decisions that do not count" in out
    assert (
        "carol approved on evaluation 1; the latest under policy gate v1 is now evaluation 2"
        in (" ".join(out.split()))
    )
    code, out, _ = run("frank", "versions", "status", ref, "--json")
    assert [v["short"] for v in json.loads(out)["verdicts"]] == ["stale evaluation"] * 2
    run("carol", "approve", ref, "--comment", "ok again")
    run("erin", "approve", ref, "--comment", "risk ok again")
    code, out, _ = run("frank", "promote", ref, "--to", "production", "--json")
    assert code == 0 and json.loads(out)["approvals"] == ["carol", "erin"]
    code, _, err = run("frank", "promote", "credit@²", "--to", "production")
    assert code == 2 and "invalid version in 'credit@²'" in err
    code, _, err = run("frank", "rollback", "credit", "--reason", "x")
    assert code == 2 and "no previous production version" in err
    code, out, _ = run("vic", "versions", "history", "credit", "--json")
    assert [(c["alias"], c["version"]) for c in json.loads(out)] == [
        ("staging", 1),
        ("production", 1),
    ]
    code, out, _ = run("vic", "versions", "history", "credit")
    assert code == 0 and "production" in out and "candidate" in out
    code, out, _ = run("alice", "users", "add", "gina", "--role", "deployer")
    token = out.strip().splitlines()[-1]
    assert code == 0 and token.startswith("govml_") and "not shown again" in out
    code, out, _ = run("vic", "users", "list", "--json")
    assert "gina" in [u["name"] for u in json.loads(out)] and token not in out
    code, out, _ = run("gina", "users", "whoami", "--json")
    assert json.loads(out)["roles"] == ["deployer"]


# -- upgrading a store with people in it (migration 0009) -------------------------------------


@pytest.fixture(params=BACKENDS)
def old_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty database migrated to revision 0008, the one before identity keys."""
    url = f"sqlite:///{tmp_path / 'old' / 'govml.db'}"
    admin = None
    if request.param == "postgres":
        request.getfixturevalue("pg_template")  # skips when PostgreSQL is not reachable
        name = f"govml_old_{uuid.uuid4().hex[:12]}"
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    store = Store(url, migrate=None)
    config = Config()
    config.set_main_option("script_location", str(files("govml.store") / "migrations"))
    with store.write() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0008_monitoring")
    yield store
    store.dispose()
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _old_user(conn: sa.Connection, seq: int, name: str, action: str, roles: list[str]) -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=seq)
    if action == "user.added":
        conn.execute(
            sa.insert(users).values(name=name, roles=roles, created_at=when, created_by="ada")
        )
    else:
        conn.execute(sa.update(users).where(users.c.name == name).values(roles=roles))
    time = when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    entry = {
        "seq": seq,
        "time": time,
        "actor": "ada",
        "action": action,
        "subject": f"user/{name}",
        "payload": {"roles": roles},
    }
    conn.execute(
        sa.text(
            "INSERT INTO ledger_entries (seq, time, actor, action, subject, entry, leaf_hash) "
            "VALUES (:seq, :time, 'ada', :action, :subject, :entry, :hash)"
        ),
        {
            "seq": seq,
            "time": time,
            "action": action,
            "subject": f"user/{name}",
            "entry": json.dumps(entry),
            "hash": "0" * 64,
        },
    )


# The users table as revision 0008 has it (without the columns revision 0009 adds).
users = sa.table(
    "users",
    sa.column("name", sa.String),
    sa.column("roles", sa.JSON),
    sa.column("created_at", UTCDateTime),
    sa.column("created_by", sa.String),
)


def test_the_upgrade_fills_keys_and_replays_grant_times(old_store: Store) -> None:
    with old_store.write() as conn:
        _old_user(conn, 0, "rita", "user.added", ["approver"])
        _old_user(conn, 1, "sam", "user.added", ["contributor"])
        _old_user(conn, 2, "rita", "user.roles_set", ["approver", "deployer"])
    before, after = old_store.upgrade()
    assert (before, after) == ("0008_monitoring", old_store.head_revision())
    with old_store.read() as conn:
        rita = load_user(conn, "rita")
        key = conn.execute(sa.text("SELECT name_key FROM users WHERE name = 'rita'")).scalar()
    assert rita is not None and key == "rita"
    day = datetime(2026, 1, 1, tzinfo=UTC)
    assert rita.granted_at == {Role.APPROVER: day, Role.DEPLOYER: day + timedelta(days=2)}


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["rita", "Rita"], "users 'rita' and 'Rita' are one name once case and Unicode"),
        (["rita", "rita\n"], r"user name\(s\) 'rita\\n' do not match the name rule"),
    ],
)
def test_the_upgrade_stops_on_look_alikes_naming_them(
    old_store: Store, names: list[str], message: str
) -> None:
    with old_store.write() as conn:
        for seq, name in enumerate(names):
            _old_user(conn, seq, name, "user.added", ["approver"])
    with pytest.raises(IntegrityError, match=message) as info:
        old_store.upgrade()
    assert "nothing was changed" in info.value.message
    assert "govml db upgrade" in info.value.diagnostics()
    assert old_store.current_revision() == "0008_monitoring"
    columns = {c["name"] for c in sa.inspect(old_store.engine).get_columns("users")}
    assert "name_key" not in columns
