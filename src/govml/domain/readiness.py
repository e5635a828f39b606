"""Promotion gates and approval rules as pure functions: facts in, decisions out.

The lifecycle service gathers the facts inside its transaction (the model and version, the
policy in force, the version's evaluations, the decisions on it, the people who decided, the
model's alias history), calls `readiness` or `decide`, and writes what they return. Nothing
here reads a database or a clock, so every rule is unit-tested on records built in memory.

The gates (DESIGN "Lifecycle, people and permissions"):

- ``staging`` needs the version's latest evaluation under the policy in force to pass
  (``pass`` or ``warn``); one made under another policy is stale;
- ``production`` needs that, a tier other than ``unacceptable``, the version to have held
  ``staging`` before (unless the policy's ``approvals.require_staging`` is false), no
  rejection in force, and the approvals the policy asks for. An approval counts while the
  person still holds, and had before the version was registered, the approving role it was
  given in, is not disabled, is not the registrant (separation of duties), holds a role the
  policy accepts, and was given on the evaluation that is still the latest under the policy
  in force. `readiness` says of every decision whether it counts and, if not, why. Under a
  policy whose ``revalidation`` blocks promotion, that latest evaluation must also be newer
  than ``revalidation.every``.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from govml.domain.lifecycle import (
    PRODUCTION,
    STAGING,
    AliasChange,
    Approval,
    ApprovalVerdict,
    Condition,
    Readiness,
    User,
    approving_role,
)
from govml.domain.records import Model, ModelVersion, RiskTier, name_key
from govml.errors import AlreadyExistsError, ForbiddenError, GateError

PASSING = ("pass", "warn")
APPROVE = "approve"
REJECT = "reject"


@dataclass(frozen=True, kw_only=True)
class ApprovalRules:
    """The ``approvals:`` section of a policy (the defaults when it has none)."""

    required: int = 0
    roles: tuple[str, ...] = ()
    separation_of_duties: bool = True
    require_staging: bool = True


@dataclass(frozen=True, kw_only=True)
class PolicyFacts:
    """The policy in force for a model's risk tier: which version, its digest, its rules."""

    name: str
    version: int
    digest: str
    approvals: ApprovalRules = field(default_factory=ApprovalRules)
    revalidate_every: timedelta | None = None  # revalidation.every, with block_promotion
    revalidation_text: str = ""  # as the policy writes it ("365d")

    @property
    def named(self) -> str:
        """Return ``policy NAME vVERSION``."""
        return f"policy {self.name} v{self.version}"


@dataclass(frozen=True, kw_only=True)
class EvaluationFacts:
    """One evaluation of a version: its outcome, the policy it ran under, the checks failed.

    ``data`` and ``target`` are the data file and target column it was run on, when known:
    they fill in the command that evaluates the version again.
    """

    id: int
    status: str
    policy_name: str
    policy_digest: str
    failed: tuple[str, ...] = ()
    data: str | None = None
    target: str | None = None
    created_at: datetime | None = None


def latest_evaluation(
    evaluations: Sequence[EvaluationFacts], policy: PolicyFacts
) -> EvaluationFacts | None:
    """Return the newest of ``evaluations`` made under ``policy`` (by digest), or None."""
    current = [e for e in evaluations if e.policy_digest == policy.digest]
    return max(current, key=lambda e: e.id, default=None)


def readiness(
    *,
    model: Model,
    version: ModelVersion,
    alias: str,
    policy: PolicyFacts | None,
    evaluations: Sequence[EvaluationFacts],
    approvals: Sequence[Approval],
    people: Mapping[str, User],
    history: Sequence[AliasChange],
    now: datetime,
) -> Readiness:
    """Return whether ``version`` may take ``alias`` now, condition by condition.

    Parameters
    ----------
    model, version
        The model (its risk tier) and the version to promote.
    alias
        ``staging`` or ``production``.
    policy
        The policy in force for the model's risk tier, None when there is none.
    evaluations
        Every evaluation of the version, in any order.
    approvals
        Every decision on the version, in any order.
    people
        The users who decided, by name as stored (a missing one does not count).
    history
        The model's promotions and rollbacks.
    now
        The moment judged (users disabled at or before it do not count).
    """
    conditions: list[Condition] = []
    if alias == PRODUCTION:
        conditions.append(_tier_condition(model))
    if policy is None:
        conditions.append(
            Condition(
                name="policy",
                met=False,
                detail=f"no policy is in force for risk tier {model.risk_tier.value}: apply one "
                "with `govml policy apply FILE`",
            )
        )
        return Readiness(
            model=version.model, version=version.version, alias=alias, conditions=tuple(conditions)
        )
    latest = latest_evaluation(evaluations, policy)
    conditions.append(evaluation_condition(version, policy, evaluations))
    verdicts: list[ApprovalVerdict] = []
    counted: list[str] = []
    if alias == PRODUCTION:
        if policy.approvals.require_staging:
            conditions.append(staging_condition(version, policy, history))
        verdicts = approval_verdicts(
            version=version,
            policy=policy,
            latest=latest,
            approvals=approvals,
            people=people,
            now=now,
        )
        approval, counted = _approval_condition(version, policy, verdicts, approvals)
        conditions.append(approval)
        revalidation = revalidation_condition(version, policy, latest, now)
        if revalidation is not None:
            conditions.append(revalidation)
    passed = latest is not None and latest.status in PASSING
    return Readiness(
        model=version.model,
        version=version.version,
        alias=alias,
        conditions=tuple(conditions),
        evaluation_id=latest.id if passed and latest is not None else None,
        policy_digest=policy.digest,
        approvals=tuple(counted),
        verdicts=tuple(verdicts),
    )


def revalidation_condition(
    version: ModelVersion, policy: PolicyFacts, latest: EvaluationFacts | None, now: datetime
) -> Condition | None:
    """Return whether the version's latest evaluation is recent enough for production.

    Only under a policy whose ``revalidation`` blocks promotion, and only when there is an
    evaluation to date (the evaluation condition speaks for a version without one): an
    evaluation older than ``revalidation.every`` must be made again, and approved again.
    """
    every = policy.revalidate_every
    if every is None or latest is None or latest.created_at is None:
        return None
    due = latest.created_at + every
    if now < due:
        return Condition(
            name="revalidation",
            met=True,
            detail=f"evaluation {latest.id} of {latest.created_at:%Y-%m-%d} is due for "
            f"revalidation on {due:%Y-%m-%d} ({policy.named}: revalidation every "
            f"{policy.revalidation_text})",
        )
    return Condition(
        name="revalidation",
        met=False,
        detail=f"revalidation of {version.ref} was due on {due:%Y-%m-%d} ({policy.named}: "
        f"revalidation every {policy.revalidation_text}; its latest evaluation, {latest.id}, "
        f"is of {latest.created_at:%Y-%m-%d}): evaluate it again and get it approved",
    )


def _tier_condition(model: Model) -> Condition:
    allowed = model.risk_tier is not RiskTier.UNACCEPTABLE
    detail = (
        f"risk tier {model.risk_tier.value} may reach production"
        if allowed
        else f"{model.name} is in the unacceptable risk tier: it can never reach production"
    )
    return Condition(name="risk_tier", met=allowed, detail=detail)


def evaluation_condition(
    version: ModelVersion, policy: PolicyFacts, evaluations: Sequence[EvaluationFacts]
) -> Condition:
    """Return the condition that the latest evaluation under ``policy`` passed."""
    named = policy.named
    latest = latest_evaluation(evaluations, policy)
    if latest is not None:
        if latest.status in PASSING:
            detail = f"evaluation {latest.id} of {version.ref} under {named}: {latest.status}"
            return Condition(name="evaluation", met=True, detail=detail)
        listed = ", ".join(latest.failed[:6]) + (", ..." if len(latest.failed) > 6 else "")
        return Condition(
            name="evaluation",
            met=False,
            detail=f"the latest evaluation of {version.ref} under {named} (evaluation "
            f"{latest.id}) failed: {listed}",
        )
    if evaluations:
        stale = max(evaluations, key=lambda e: e.id)
        return Condition(
            name="evaluation",
            met=False,
            detail=f"evaluation {stale.id} of {version.ref} is stale: it was made under policy "
            f"{stale.policy_name} ({stale.policy_digest[:19]}…), but {named} "
            f"({policy.digest[:19]}…) is now in force; evaluate it again with "
            f"`{evaluate_command(version.ref, stale)}`",
        )
    return Condition(
        name="evaluation",
        met=False,
        detail=f"{version.ref} has no evaluation under {named}: run "
        f"`{evaluate_command(version.ref)}`",
    )


def evaluate_command(ref: str, earlier: EvaluationFacts | None = None) -> str:
    """Return the ``govml evaluate`` command for ``ref``, with the data and target ``earlier`` used.

    What is not known stays a placeholder: ``--data FILE --target COLUMN``.
    """
    data = shlex.quote(earlier.data) if earlier and earlier.data else "FILE"
    target = shlex.quote(earlier.target) if earlier and earlier.target else "COLUMN"
    return f"govml evaluate {ref} --data {data} --target {target}"


def staging_condition(
    version: ModelVersion, policy: PolicyFacts, history: Sequence[AliasChange]
) -> Condition:
    """Return the condition that ``version`` held ``staging`` before production."""
    staged = [
        change
        for change in history
        if change.alias == STAGING
        and change.action == "promote"
        and change.version == version.version
    ]
    if staged:
        when = min(change.created_at for change in staged)
        return Condition(
            name="staging",
            met=True,
            detail=f"{version.ref} was promoted to staging on {when:%Y-%m-%d %H:%M} UTC",
        )
    return Condition(
        name="staging",
        met=False,
        detail=f"{version.ref} has never held staging, and {policy.named} asks for staging "
        f"before production: run `govml promote {version.ref} --to staging` first",
    )


def latest_decisions(approvals: Sequence[Approval]) -> dict[str, Approval]:
    """Return each person's latest decision, by identity key (`name_key` of the actor)."""
    latest: dict[str, Approval] = {}
    for approval in sorted(approvals, key=_order):
        latest[name_key(approval.actor)] = approval
    return latest


def _order(approval: Approval) -> tuple[int, datetime]:
    return (approval.id if approval.id is not None else 0, approval.created_at)


def approval_verdicts(
    *,
    version: ModelVersion,
    policy: PolicyFacts,
    latest: EvaluationFacts | None,
    approvals: Sequence[Approval],
    people: Mapping[str, User],
    now: datetime,
) -> list[ApprovalVerdict]:
    """Say of every decision on ``version``, oldest first, whether it counts now and why not."""
    later = latest_decisions(approvals)
    verdicts: list[ApprovalVerdict] = []
    for approval in sorted(approvals, key=_order):
        after = later[name_key(approval.actor)]
        if after is not approval:
            reason = f"superseded by {after.actor}'s later decision (approval {after.id})"
            verdicts.append(_verdict(approval, reason, "superseded", superseded=True))
            continue
        if approval.decision == REJECT:
            reason = (
                f"{approval.actor} ({approval.role}) rejected {version.ref}: it blocks "
                "production until they change their mind"
            )
            verdicts.append(_verdict(approval, reason, "rejected", counts=True))
            continue
        problem = _why_not(version, policy, latest, approval, people.get(approval.actor), now)
        if problem is None:
            verdicts.append(_verdict(approval, "", "", counts=True))
        else:
            verdicts.append(_verdict(approval, *problem))
    return verdicts


def _verdict(
    approval: Approval,
    reason: str,
    short: str,
    *,
    counts: bool = False,
    superseded: bool = False,
) -> ApprovalVerdict:
    return ApprovalVerdict(
        approval_id=approval.id,
        actor=approval.actor,
        role=approval.role,
        decision=approval.decision,
        counts=counts,
        superseded=superseded,
        reason=reason,
        short=short,
    )


def _why_not(
    version: ModelVersion,
    policy: PolicyFacts,
    latest: EvaluationFacts | None,
    approval: Approval,
    person: User | None,
    now: datetime,
) -> tuple[str, str] | None:
    """Return (reason, short reason) why an approval does not count, None when it counts."""
    who, rules = approval.actor, policy.approvals
    if rules.separation_of_duties and name_key(who) == name_key(version.registrant):
        return f"{who} registered {version.ref} (separation of duties)", "registered it"
    if person is None:
        return f"{who} is not a user of this store", "unknown user"
    if person.disabled_at is not None and person.disabled_at <= now:
        return (
            f"{who} was disabled on {person.disabled_at:%Y-%m-%d %H:%M} UTC",
            "approver disabled",
        )
    held = {role.value: role for role in person.roles}
    role = held.get(approval.role)
    if role is None:
        return (
            f"{who} no longer holds the role {approval.role} they approved in",
            f"role {approval.role} removed",
        )
    granted = person.granted_at.get(role)
    if granted is None or not granted < version.created_at:
        when = "at an unknown time" if granted is None else f"on {granted:%Y-%m-%d %H:%M:%S} UTC"
        return (
            f"{who} was granted {approval.role} {when}, not before {version.ref} was "
            f"registered ({version.created_at:%Y-%m-%d %H:%M:%S} UTC): approving rights count "
            "for versions registered after the grant",
            "role granted after registration",
        )
    if rules.roles and approval.role not in rules.roles:
        return (
            f"{who} approved as {approval.role}; {policy.named} asks for "
            f"{' or '.join(rules.roles)}",
            f"approved as {approval.role}",
        )
    if approval.evaluation_id is None or approval.policy_digest is None:
        return (
            f"{who}'s approval records no evaluation (it predates approvals bound to their "
            "evidence): approve again",
            "no evaluation recorded",
        )
    if approval.policy_digest != policy.digest:
        return (
            f"{who} approved under another policy ({approval.policy_digest[:19]}…); "
            f"{policy.named} ({policy.digest[:19]}…) is now in force",
            "policy replaced",
        )
    if latest is None or approval.evaluation_id != latest.id:
        now_latest = "none" if latest is None else f"evaluation {latest.id}"
        return (
            f"{who} approved on evaluation {approval.evaluation_id}; the latest under "
            f"{policy.named} is now {now_latest}",
            "stale evaluation",
        )
    return None


def _approval_condition(
    version: ModelVersion,
    policy: PolicyFacts,
    verdicts: Sequence[ApprovalVerdict],
    approvals: Sequence[Approval],
) -> tuple[Condition, list[str]]:
    rules = policy.approvals
    by_id = {a.id: a for a in approvals}
    in_force = [v for v in verdicts if not v.superseded]
    rejected = [v for v in in_force if v.decision == REJECT]
    counted = sorted(v.actor for v in in_force if v.decision == APPROVE and v.counts)
    ignored = [f"{v.actor} ({v.short})" for v in in_force if v.decision == APPROVE and not v.counts]
    who = f" from {' or '.join(sorted(rules.roles))}" if rules.roles else ""
    if rejected:
        first = by_id.get(rejected[0].approval_id)
        when = "" if first is None else f" on {first.created_at:%Y-%m-%d}"
        comment = "" if first is None else f": {first.comment}"
        detail = f"{rejected[0].actor} ({rejected[0].role}) rejected {version.ref}{when}{comment}"
        if len(rejected) > 1:
            detail += f" (and {len(rejected) - 1} more rejection(s))"
        return Condition(name="approvals", met=False, detail=detail), counted
    met = len(counted) >= rules.required
    have = ", ".join(counted) if counted else "none"
    detail = (
        f"{policy.name} v{policy.version} asks for {rules.required} approval(s){who}; "
        f"{version.ref} has {len(counted)} ({have})"
    )
    if ignored:
        detail += "; not counted: " + ", ".join(ignored)
    if not met:
        detail += f"; an approver runs `govml approve {version.ref} --comment TEXT`"
    return Condition(name="approvals", met=met, detail=detail), counted


def decide(
    *,
    user: User,
    version: ModelVersion,
    policy: PolicyFacts | None,
    evaluations: Sequence[EvaluationFacts],
    earlier: Sequence[Approval],
    reject: bool,
    comment: str,
    now: datetime,
) -> Approval:
    """Return the decision ``user`` records on ``version``, bound to its evidence.

    An approval needs the version's latest evaluation under the policy in force to have
    passed, and is bound to that evaluation and the policy's digest; a rejection is bound to
    them when there are any. Deciding the same way twice on the same evidence and role is
    refused; changing one's mind, or deciding again on new evidence, is recorded.

    Raises
    ------
    ForbiddenError
        When ``user`` registered the version (separation of duties compares identity keys),
        holds no approving role, or was granted it only after the version was registered.
    GateError
        For an approval, when no policy is in force or the latest evaluation under it did
        not pass.
    AlreadyExistsError
        When the same decision on the same evidence is already recorded.
    """
    decision = REJECT if reject else APPROVE
    if user.key == name_key(version.registrant):
        raise ForbiddenError(
            f"separation of duties: {user.name} registered {version.ref} and cannot {decision} it",
            hint="another approver or risk officer must decide",
        )
    wanted = () if policy is None else policy.approvals.roles
    role = approving_role(user.roles, wanted)
    if role is None:
        held = ", ".join(r.value for r in user.roles) or "no role"
        raise ForbiddenError(
            f"{user.name} ({held}) holds no role that approves or rejects versions",
            hint="an admin sets roles with `govml users roles NAME --set ROLE,...` (the full list)",
        )
    granted = user.granted_at.get(role)
    if granted is None or not granted < version.created_at:
        when = "at an unknown time" if granted is None else f"on {granted:%Y-%m-%d %H:%M:%S} UTC"
        raise ForbiddenError(
            f"{user.name} was granted {role.value} {when}, not before {version.ref} was "
            f"registered ({version.created_at:%Y-%m-%d %H:%M:%S} UTC): approving rights count "
            "only for versions registered after they were granted",
            hint="another approver decides, or a version registered from now on is approved",
        )
    latest = None if policy is None else latest_evaluation(evaluations, policy)
    if decision == APPROVE:
        if policy is None:
            raise GateError(
                f"{version.ref} cannot be approved:",
                missing=[
                    "no policy is in force for its risk tier: an approval is given on an "
                    "evaluation under the policy in force"
                ],
            )
        gate = evaluation_condition(version, policy, evaluations)
        if not gate.met:
            raise GateError(f"{version.ref} cannot be approved:", missing=[gate.detail])
    evidence = (None if latest is None else latest.id, None if policy is None else policy.digest)
    mine = latest_decisions(earlier).get(user.key)
    if (
        mine is not None
        and mine.decision == decision
        and mine.role == role.value
        and (mine.evaluation_id, mine.policy_digest) == evidence
    ):
        raise AlreadyExistsError(
            f"{mine.actor} already {_past(decision)} {version.ref} on "
            f"{mine.created_at:%Y-%m-%d %H:%M} UTC (approval {mine.id}); one person counts once"
        )
    return Approval(
        model=version.model,
        version=version.version,
        decision=decision,
        role=role.value,
        comment=comment,
        actor=user.name,
        created_at=now,
        evaluation_id=evidence[0],
        policy_digest=evidence[1],
    )


def _past(decision: str) -> str:
    return "approved" if decision == APPROVE else "rejected"
