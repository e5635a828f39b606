"""The promotion gates and the approval rules, on records built in memory (no database)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from govml.domain.lifecycle import (
    AliasChange,
    Approval,
    Permission,
    Readiness,
    Role,
    User,
    approving_role,
)
from govml.domain.readiness import (
    ApprovalRules,
    EvaluationFacts,
    PolicyFacts,
    decide,
    readiness,
)
from govml.domain.records import Model, ModelVersion, RiskTier
from govml.errors import AlreadyExistsError, ForbiddenError, GateError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
REGISTERED = T0 + timedelta(days=10)
NOW = T0 + timedelta(days=20)
POLICY = PolicyFacts(
    name="gate",
    version=1,
    digest="sha256:" + "a" * 64,
    approvals=ApprovalRules(required=2, roles=("approver", "risk_officer")),
)
PASSED = EvaluationFacts(id=7, status="pass", policy_name="gate", policy_digest=POLICY.digest)


def model(tier: RiskTier = RiskTier.HIGH) -> Model:
    return Model(name="credit", owner="o", risk_tier=tier, created_at=T0, created_by="bob")


def version(registrant: str = "bob") -> ModelVersion:
    return ModelVersion(
        model="credit",
        version=1,
        artifact_digest="sha256:" + "b" * 64,
        artifact_size=1,
        flavor="sklearn",
        flavor_options={},
        signature=None,
        datasets=(),
        code={},
        environment={},
        params={},
        metrics={},
        registrant=registrant,
        created_at=REGISTERED,
    )


def person(name: str, role: Role = Role.APPROVER, *, granted: datetime = T0) -> User:
    return User(
        name=name, roles=(role,), created_at=T0, created_by="alice", granted_at={role: granted}
    )


def approval(
    actor: str,
    *,
    id: int,
    role: str = "approver",
    decision: str = "approve",
    evaluation_id: int | None = PASSED.id,
    policy_digest: str | None = POLICY.digest,
) -> Approval:
    return Approval(
        id=id,
        model="credit",
        version=1,
        decision=decision,
        role=role,
        comment="reviewed",
        actor=actor,
        created_at=REGISTERED + timedelta(hours=id),
        evaluation_id=evaluation_id,
        policy_digest=policy_digest,
    )


STAGED = AliasChange(
    model="credit",
    alias="staging",
    action="promote",
    version=1,
    previous=None,
    reason="",
    actor="frank",
    created_at=REGISTERED + timedelta(hours=1),
)
TEAM = {"carol": person("carol"), "erin": person("erin", Role.RISK_OFFICER)}
TWO = [approval("carol", id=1), approval("erin", id=2, role="risk_officer")]


def judge(
    *,
    alias: str = "production",
    policy: PolicyFacts | None = POLICY,
    evaluations: Sequence[EvaluationFacts] = (PASSED,),
    approvals: Sequence[Approval] = TWO,
    people: dict[str, User] | None = None,
    history: Sequence[AliasChange] = (STAGED,),
    tier: RiskTier = RiskTier.HIGH,
    registrant: str = "bob",
) -> Readiness:
    return readiness(
        model=model(tier),
        version=version(registrant),
        alias=alias,
        policy=policy,
        evaluations=evaluations,
        approvals=approvals,
        people=TEAM if people is None else people,
        history=history,
        now=NOW,
    )


def reasons(ready: Readiness) -> dict[str, str]:
    return {v.actor: v.short for v in ready.verdicts if not v.counts and not v.superseded}


def test_everything_in_place_is_ready() -> None:
    ready = judge()
    assert ready.ready, ready.missing
    assert ready.approvals == ("carol", "erin")
    assert ready.evaluation_id == PASSED.id and ready.policy_digest == POLICY.digest
    assert [c.name for c in ready.conditions] == ["risk_tier", "evaluation", "staging", "approvals"]
    assert all(v.counts for v in ready.verdicts)
    assert Readiness.from_dict(ready.to_dict()) == ready


def test_staging_needs_only_a_passing_evaluation() -> None:
    ready = judge(alias="staging", approvals=(), history=())
    assert ready.ready and [c.name for c in ready.conditions] == ["evaluation"]


def test_no_policy_no_promotion() -> None:
    ready = judge(policy=None)
    assert ready.missing == [
        "no policy is in force for risk tier high: apply one with `govml policy apply FILE`"
    ]


def test_production_needs_staging_first_unless_the_policy_says_otherwise() -> None:
    ready = judge(history=())
    assert ready.missing == [
        "credit@1 has never held staging, and policy gate v1 asks for staging before "
        "production: run `govml promote credit@1 --to staging` first"
    ]
    rollback_only = replace(STAGED, alias="production")
    assert not judge(history=(rollback_only,)).ready
    relaxed = replace(POLICY, approvals=replace(POLICY.approvals, require_staging=False))
    assert judge(history=(), policy=relaxed).ready


def test_an_unacceptable_tier_never_reaches_production() -> None:
    ready = judge(tier=RiskTier.UNACCEPTABLE)
    assert ready.missing == [
        "credit is in the unacceptable risk tier: it can never reach production"
    ]


def test_failed_and_stale_evaluations() -> None:
    failed = EvaluationFacts(
        id=8, status="fail", policy_name="gate", policy_digest=POLICY.digest, failed=("accuracy",)
    )
    assert judge(evaluations=(PASSED, failed)).missing[0] == (
        "the latest evaluation of credit@1 under policy gate v1 (evaluation 8) failed: accuracy"
    )
    old = replace(PASSED, policy_digest="sha256:" + "0" * 64, policy_name="old")
    assert "evaluation 7 of credit@1 is stale" in judge(evaluations=(old,)).missing[0]
    assert "has no evaluation under policy gate v1" in judge(evaluations=()).missing[0]


def test_an_approval_counts_only_on_the_latest_evaluation_under_the_policy_in_force() -> None:
    newer = replace(PASSED, id=9)
    ready = judge(evaluations=(PASSED, newer))
    assert not ready.ready
    assert reasons(ready) == {"carol": "stale evaluation", "erin": "stale evaluation"}
    assert "not counted: carol (stale evaluation), erin (stale evaluation)" in ready.missing[0]
    replaced = replace(POLICY, digest="sha256:" + "c" * 64, version=2)
    evaluated = replace(PASSED, id=10, policy_digest=replaced.digest)
    ready = judge(policy=replaced, evaluations=(PASSED, evaluated))
    assert reasons(ready) == {"carol": "policy replaced", "erin": "policy replaced"}
    legacy = [replace(a, evaluation_id=None, policy_digest=None) for a in TWO]
    assert set(reasons(judge(approvals=legacy)).values()) == {"no evaluation recorded"}


def test_approvals_of_people_disabled_or_no_longer_in_the_role_do_not_count() -> None:
    disabled = replace(TEAM["carol"], disabled_at=NOW - timedelta(hours=1))
    ready = judge(people={**TEAM, "carol": disabled})
    assert reasons(ready) == {"carol": "approver disabled"}
    assert "was disabled on" in next(v.reason for v in ready.verdicts if v.actor == "carol")
    demoted = replace(TEAM["carol"], roles=(Role.VIEWER,), granted_at={Role.VIEWER: T0})
    assert reasons(judge(people={**TEAM, "carol": demoted})) == {"carol": "role approver removed"}
    assert reasons(judge(people={"erin": TEAM["erin"]})) == {"carol": "unknown user"}


def test_a_role_granted_after_registration_does_not_count() -> None:
    late = person("carol", granted=REGISTERED + timedelta(minutes=1))
    ready = judge(people={**TEAM, "carol": late})
    assert reasons(ready) == {"carol": "role granted after registration"}
    same_moment = person("carol", granted=REGISTERED)
    assert reasons(judge(people={**TEAM, "carol": same_moment})) == {
        "carol": "role granted after registration"
    }


def test_separation_of_duties_compares_identity_keys() -> None:
    people = {**TEAM, "Carol": person("Carol")}
    ready = judge(approvals=[approval("Carol", id=1), TWO[1]], people=people, registrant="carol")
    assert reasons(ready) == {"Carol": "registered it"}
    relaxed = replace(POLICY, approvals=replace(POLICY.approvals, separation_of_duties=False))
    approvals = [approval("Carol", id=1), TWO[1]]
    assert judge(approvals=approvals, people=people, registrant="carol", policy=relaxed).ready


def test_roles_the_policy_does_not_accept() -> None:
    strict = replace(POLICY, approvals=replace(POLICY.approvals, roles=("risk_officer",)))
    ready = judge(policy=strict)
    assert "has 1 (erin); not counted: carol (approved as approver)" in ready.missing[0]


def test_a_rejection_blocks_until_its_author_changes_their_mind() -> None:
    rejected = [*TWO, approval("dave", id=3, decision="reject")]
    people = {**TEAM, "dave": person("dave")}
    ready = judge(approvals=rejected, people=people)
    assert ready.missing[0].startswith("dave (approver) rejected credit@1 on ")
    changed = [*rejected, approval("dave", id=4)]
    ready = judge(approvals=changed, people=people)
    assert ready.ready and ready.approvals == ("carol", "dave", "erin")
    assert [v.superseded for v in ready.verdicts] == [False, False, True, False]


def test_one_person_counts_once_whatever_the_case_of_their_name() -> None:
    people = {"carol": person("carol"), "CAROL": person("CAROL")}
    twice = [approval("carol", id=1), approval("CAROL", id=2)]
    ready = judge(approvals=twice, people=people)
    assert ready.approvals == ("CAROL",) and not ready.ready


# -- decide ---------------------------------------------------------------------------------


def decision(
    user: User,
    *,
    reject: bool = False,
    evaluations: Sequence[EvaluationFacts] = (PASSED,),
    earlier: Sequence[Approval] = (),
    policy: PolicyFacts | None = POLICY,
    registrant: str = "bob",
) -> Approval:
    return decide(
        user=user,
        version=version(registrant),
        policy=policy,
        evaluations=evaluations,
        earlier=earlier,
        reject=reject,
        comment="reviewed",
        now=NOW,
    )


def test_an_approval_is_bound_to_its_evidence() -> None:
    made = decision(TEAM["carol"])
    assert (made.evaluation_id, made.policy_digest, made.role) == (7, POLICY.digest, "approver")
    assert (made.actor, made.created_at, made.id) == ("carol", NOW, None)


def test_approving_without_a_passing_evaluation_is_refused() -> None:
    with pytest.raises(GateError) as info:
        decision(TEAM["carol"], evaluations=())
    assert info.value.missing == (
        "credit@1 has no evaluation under policy gate v1: run `govml evaluate credit@1 --data "
        "FILE --target COLUMN`",
    )
    failed = replace(PASSED, id=8, status="fail", failed=("accuracy",))
    with pytest.raises(GateError, match="cannot be approved"):
        decision(TEAM["carol"], evaluations=(PASSED, failed))
    with pytest.raises(GateError) as info:
        decision(TEAM["carol"], policy=None)
    assert "no policy is in force" in info.value.missing[0]
    rejection = decision(TEAM["carol"], reject=True, evaluations=())
    assert (rejection.decision, rejection.evaluation_id) == ("reject", None)


def test_nobody_decides_on_their_own_version_whatever_the_case() -> None:
    for registrant in ("carol", "Carol", "CAROL"):
        with pytest.raises(ForbiddenError, match="separation of duties"):
            decision(TEAM["carol"], registrant=registrant)


def test_rights_granted_after_registration_do_not_approve_it() -> None:
    late = person("carol", granted=REGISTERED + timedelta(seconds=1))
    with pytest.raises(ForbiddenError) as info:
        decision(late)
    message = info.value.message
    assert "granted approver on 2026-01-11 00:00:01 UTC" in message
    assert "credit@1 was registered (2026-01-11 00:00:00 UTC)" in message
    unknown = replace(TEAM["carol"], granted_at={})
    with pytest.raises(ForbiddenError, match="at an unknown time"):
        decision(unknown)


def test_the_same_decision_on_the_same_evidence_is_refused_new_evidence_is_not() -> None:
    first = replace(decision(TEAM["carol"]), id=1)
    with pytest.raises(AlreadyExistsError, match="carol already approved credit@1"):
        decision(TEAM["carol"], earlier=[first])
    newer = replace(PASSED, id=9)
    again = decision(TEAM["carol"], earlier=[first], evaluations=(PASSED, newer))
    assert again.evaluation_id == 9
    assert decision(TEAM["carol"], earlier=[first], reject=True).decision == "reject"


def test_someone_without_an_approving_role_cannot_decide() -> None:
    deployer = person("frank", Role.DEPLOYER)
    with pytest.raises(ForbiddenError, match="holds no role that approves"):
        decision(deployer)


# -- the approving role ---------------------------------------------------------------------


def test_the_approving_role_is_chosen_from_the_permissions_never_by_index() -> None:
    both = (Role.APPROVER, Role.RISK_OFFICER)
    assert approving_role(both) is Role.APPROVER
    assert approving_role(both, ["risk_officer"]) is Role.RISK_OFFICER
    assert (
        approving_role((Role.APPROVER,), ["risk_officer"]) is Role.APPROVER
    )  # recorded, not counted
    assert approving_role((Role.DEPLOYER, Role.ADMIN)) is None
    assert approving_role(()) is None
    # A permission map where approving moved to another role: the choice follows it, and a
    # role that lost the permission is not chosen (the old code took held[0] of a fixed list).
    moved = {Role.DEPLOYER: frozenset({Permission.APPROVE}), Role.APPROVER: frozenset()}
    assert approving_role((Role.DEPLOYER,), permissions=moved) is Role.DEPLOYER
    assert approving_role((Role.APPROVER,), permissions=moved) is None
