"""Lifecycle use cases: approvals, promotion through the gates, rollback, alias history.

The gates (DESIGN "Lifecycle, people and permissions"):

- ``staging`` needs a passing evaluation of the version under the policy now in force for the
  model's risk tier (the latest evaluation under that policy decides; one under an older
  policy is stale);
- ``production`` needs that, plus the approvals that policy asks for: ``required`` distinct
  people, each holding one of its ``roles``, none of them the version's registrant under
  separation of duties, and nobody's latest decision a rejection; an ``unacceptable`` tier
  never reaches production;
- a rollback moves ``production`` back to the version that held it before the current one
  (the promotions form a stack that rollbacks pop) and is always allowed to a deployer.

Each change writes the alias row, an ``alias_events`` row and a ledger entry in one
transaction; a refusal lists every unmet condition (`GateError`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from govml.domain.lifecycle import (
    LIFECYCLE_ALIASES,
    PRODUCTION,
    AliasChange,
    Approval,
    Condition,
    Permission,
    Readiness,
    Role,
    User,
)
from govml.domain.records import ModelVersion, RiskTier, VersionRef
from govml.errors import (
    AlreadyExistsError,
    ForbiddenError,
    GateError,
    IntegrityError,
    NotFoundError,
    ValidationError,
    did_you_mean,
)
from govml.policy.records import StoredPolicy
from govml.services.access import authorize, replay_people
from govml.services.context import ServiceContext
from govml.services.policy import policy_in_force
from govml.services.registry import model_subject, version_subject
from govml.services.serving import verify_serving_records
from govml.store import evaluation_records, records
from govml.store.ledger import NewEntry, append, iter_entries
from govml.store.schema import alias_events, approvals, model_aliases, model_versions, models

APPROVING_ROLES = (Role.APPROVER, Role.RISK_OFFICER)
PASSING = ("pass", "warn")
MAX_TEXT = 2000


class LifecycleService:
    """Approvals, promotions, rollbacks and the history of aliases."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # -- approvals -------------------------------------------------------------------------

    def approve(self, ref: str, *, comment: str, reject: bool = False) -> Approval:
        """Record the acting user's approval (or rejection) of version ``ref``.

        One person's latest decision counts; deciding the same way twice is refused, changing
        one's mind is recorded. Nobody decides on a version they registered.
        """
        comment = _text(comment, "comment", required=True)
        decision = "reject" if reject else "approve"
        now = self.ctx.clock()
        with self.ctx.store.write() as conn:
            user = authorize(conn, self.ctx, Permission.APPROVE)
            version = records.load_version(conn, VersionRef.parse(ref))
            if version.registrant == user.name:
                raise ForbiddenError(
                    f"separation of duties: {user.name} registered {version.ref} and cannot "
                    f"{decision} it",
                    hint="another approver or risk officer must decide",
                )
            mid = records.model_id(conn, version.model)
            policy = _policy_for(conn, version.model)
            role = _approving_role(user, policy)
            earlier = _latest_decisions(conn, mid, version.version)
            mine = earlier.get(user.name)
            if mine is not None and mine.decision == decision:
                raise AlreadyExistsError(
                    f"{user.name} already {_past(decision)} {version.ref} on "
                    f"{mine.created_at:%Y-%m-%d %H:%M} UTC (approval {mine.id}); one person "
                    "counts once"
                )
            approval_id = conn.execute(
                sa.insert(approvals)
                .values(
                    model_id=mid,
                    version=version.version,
                    decision=decision,
                    role=role,
                    comment=comment,
                    actor=user.name,
                    created_at=now,
                )
                .returning(approvals.c.id)
            ).scalar_one()
            approval = Approval(
                id=int(approval_id),
                model=version.model,
                version=version.version,
                decision=decision,
                role=role,
                comment=comment,
                actor=user.name,
                created_at=now,
            )
            append(
                conn,
                actor=self.ctx.actor,
                now=now,
                entries=[
                    NewEntry(
                        action="version.approved" if decision == "approve" else "version.rejected",
                        subject=version_subject(version.model, version.version),
                        payload=approval.to_dict(),
                    )
                ],
            )
            return approval

    def approvals(self, ref: str) -> list[Approval]:
        """Return every decision on version ``ref``, oldest first."""
        with self.ctx.store.read() as conn:
            version = records.load_version(conn, VersionRef.parse(ref))
            mid = records.model_id(conn, version.model)
            return list(_approvals(conn, mid, version.version))

    # -- promotion -------------------------------------------------------------------------

    def readiness(self, ref: str, *, to: str = PRODUCTION) -> Readiness:
        """Return each condition version ``ref`` must meet to take alias ``to``, and which hold."""
        alias = _alias(to)
        with self.ctx.store.read() as conn:
            version = records.load_version(conn, VersionRef.parse(ref))
            return _readiness(conn, version, alias)

    def promote(self, ref: str, *, to: str, reason: str = "") -> AliasChange:
        """Move alias ``to`` to version ``ref`` when every condition of its gate holds.

        Raises
        ------
        GateError
            Listing every unmet condition; nothing is changed.
        ForbiddenError
            When the acting user may not deploy.
        """
        alias = _alias(to)
        reason = _text(reason, "reason")
        now = self.ctx.clock()
        with self.ctx.store.write() as conn:
            authorize(conn, self.ctx, Permission.DEPLOY)
            version = records.load_version(conn, VersionRef.parse(ref))
            mid = records.model_id(conn, version.model)
            current = _holder(conn, mid, alias)
            if current == version.version:
                raise AlreadyExistsError(f"{version.ref} already holds {alias}")
            ready = _readiness(conn, version, alias)
            if not ready.ready:
                raise GateError(
                    f"{version.ref} cannot be promoted to {alias}:", missing=ready.missing
                )
            change = AliasChange(
                model=version.model,
                alias=alias,
                action="promote",
                version=version.version,
                previous=current,
                reason=reason,
                actor=self.ctx.actor,
                created_at=now,
                evaluation_id=ready.evaluation_id,
                policy_digest=ready.policy_digest,
                approvals=ready.approvals,
            )
            return self._move(conn, mid, change)

    def rollback(self, name: str, *, reason: str) -> AliasChange:
        """Move ``production`` back to the version that held it before the current one.

        Raises
        ------
        ValidationError
            Without a reason.
        NotFoundError
            When no earlier production version exists to go back to.
        """
        reason = _text(reason, "reason", required=True)
        now = self.ctx.clock()
        with self.ctx.store.write() as conn:
            authorize(conn, self.ctx, Permission.DEPLOY)
            mid = records.model_id(conn, name)
            stack = production_stack(list(_changes(conn, mid, name, PRODUCTION)))
            current = _holder(conn, mid, PRODUCTION)
            if current is None:
                raise NotFoundError(f"no version of {name} holds production; nothing to roll back")
            if not stack or stack[-1] != current:
                raise IntegrityError(
                    f"{name}@production is version {current}, but its promotion history ends "
                    f"with {stack[-1] if stack else 'no version'}; run `govml audit verify`"
                )
            if len(stack) < 2:
                raise NotFoundError(
                    f"{name} has no previous production version to roll back to: version "
                    f"{current} is the first it has had",
                    hint="promote another version instead",
                )
            change = AliasChange(
                model=name,
                alias=PRODUCTION,
                action="rollback",
                version=stack[-2],
                previous=current,
                reason=reason,
                actor=self.ctx.actor,
                created_at=now,
            )
            return self._move(conn, mid, change)

    def history(self, name: str, *, alias: str | None = None) -> list[AliasChange]:
        """Return every promotion and rollback of model ``name`` (one alias), oldest first."""
        with self.ctx.store.read() as conn:
            mid = records.model_id(conn, name)
            return list(_changes(conn, mid, name, None if alias is None else _alias(alias)))

    def _move(self, conn: Connection, mid: int, change: AliasChange) -> AliasChange:
        version_id = conn.execute(
            sa.select(model_versions.c.id).where(
                model_versions.c.model_id == mid, model_versions.c.version == change.version
            )
        ).scalar_one()
        where = (model_aliases.c.model_id == mid) & (model_aliases.c.alias == change.alias)
        values = {
            "version_id": version_id,
            "updated_at": change.created_at,
            "updated_by": change.actor,
        }
        if change.previous is None:
            conn.execute(
                sa.insert(model_aliases).values(model_id=mid, alias=change.alias, **values)
            )
        else:
            conn.execute(sa.update(model_aliases).where(where).values(**values))
        event_id = conn.execute(
            sa.insert(alias_events)
            .values(
                model_id=mid,
                alias=change.alias,
                action=change.action,
                version=change.version,
                previous=change.previous,
                reason=change.reason,
                evaluation_id=change.evaluation_id,
                policy_digest=change.policy_digest,
                approvals=list(change.approvals),
                actor=change.actor,
                created_at=change.created_at,
            )
            .returning(alias_events.c.id)
        ).scalar_one()
        stored = replace(change, id=int(event_id))
        append(
            conn,
            actor=change.actor,
            now=change.created_at,
            entries=[
                NewEntry(
                    action="alias.promoted" if change.action == "promote" else "alias.rolled_back",
                    subject=model_subject(change.model),
                    payload=stored.to_dict(),
                )
            ],
        )
        return stored


# -- the gates -----------------------------------------------------------------------------


def _readiness(conn: Connection, version: ModelVersion, alias: str) -> Readiness:
    model = records.load_model(conn, version.model)
    mid = records.model_id(conn, version.model)
    conditions: list[Condition] = []
    if alias == PRODUCTION:
        allowed = model.risk_tier is not RiskTier.UNACCEPTABLE
        conditions.append(
            Condition(
                name="risk_tier",
                met=allowed,
                detail=f"risk tier {model.risk_tier.value} may reach production"
                if allowed
                else f"{model.name} is in the unacceptable risk tier: it can never reach "
                "production",
            )
        )
    policy = policy_in_force(conn, model.risk_tier.value)
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
    evaluation, detail = _evaluation_condition(conn, mid, version, policy)
    conditions.append(Condition(name="evaluation", met=evaluation is not None, detail=detail))
    counted: tuple[str, ...] = ()
    if alias == PRODUCTION:
        approval, counted = _approval_condition(conn, mid, version, policy)
        conditions.append(approval)
    return Readiness(
        model=version.model,
        version=version.version,
        alias=alias,
        conditions=tuple(conditions),
        evaluation_id=evaluation,
        policy_digest=policy.digest,
        approvals=counted,
    )


def _evaluation_condition(
    conn: Connection, mid: int, version: ModelVersion, policy: StoredPolicy
) -> tuple[int | None, str]:
    named = f"policy {policy.name} v{policy.version}"
    rows = evaluation_records.select(conn, model_id=mid, version=version.version)
    current = [row for row in rows if row.policy_digest == policy.digest]
    if current:
        latest = current[0]
        if latest.status in PASSING:
            return (
                latest.id,
                f"evaluation {latest.id} of {version.ref} under {named}: {latest.status}",
            )
        failed = [
            check["check"]
            for check in json.loads(latest.document).get("checks", [])
            if check.get("outcome") == "fail"
        ]
        listed = ", ".join(failed[:6]) + (", ..." if len(failed) > 6 else "")
        return None, (
            f"the latest evaluation of {version.ref} under {named} (evaluation {latest.id}) "
            f"failed: {listed}"
        )
    if rows:
        stale = rows[0]
        return None, (
            f"evaluation {stale.id} of {version.ref} is stale: it was made under policy "
            f"{stale.policy_name} ({stale.policy_digest[:19]}…), but {named} "
            f"({policy.digest[:19]}…) is now in force; evaluate it again with `govml evaluate "
            f"{version.ref}`"
        )
    return None, (
        f"{version.ref} has no evaluation under {named}: run `govml evaluate {version.ref} "
        "--data FILE --target COLUMN`"
    )


def _approval_condition(
    conn: Connection, mid: int, version: ModelVersion, policy: StoredPolicy
) -> tuple[Condition, tuple[str, ...]]:
    rules = policy.policy.approvals
    required = 0 if rules is None else rules.required
    roles = set() if rules is None or not rules.roles else set(rules.roles)
    separation = True if rules is None else rules.separation_of_duties
    latest = _latest_decisions(conn, mid, version.version)
    rejected = [a for a in latest.values() if a.decision == "reject"]
    counted: list[str] = []
    ignored: list[str] = []
    for person, approval in sorted(latest.items()):
        if approval.decision != "approve":
            continue
        if separation and person == version.registrant:
            ignored.append(f"{person} (registered it)")
        elif roles and approval.role not in roles:
            ignored.append(f"{person} (approved as {approval.role})")
        else:
            counted.append(person)
    who = f" from {' or '.join(sorted(roles))}" if roles else ""
    if rejected:
        first = rejected[0]
        detail = (
            f"{first.actor} ({first.role}) rejected {version.ref} on "
            f"{first.created_at:%Y-%m-%d}: {first.comment}"
        )
        if len(rejected) > 1:
            detail += f" (and {len(rejected) - 1} more rejection(s))"
        return Condition(name="approvals", met=False, detail=detail), tuple(counted)
    met = len(counted) >= required
    have = ", ".join(counted) if counted else "none"
    detail = (
        f"{policy.name} v{policy.version} asks for {required} approval(s){who}; {version.ref} "
        f"has {len(counted)} ({have})"
    )
    if ignored:
        detail += "; not counted: " + ", ".join(ignored)
    if not met:
        detail += f"; an approver runs `govml approve {version.ref} --comment TEXT`"
    return Condition(name="approvals", met=met, detail=detail), tuple(counted)


# -- queries -------------------------------------------------------------------------------


def production_stack(changes: list[AliasChange]) -> list[int]:
    """Return the versions a rollback would go back through, oldest first (top = current).

    A promotion pushes its version, a rollback pops the top.
    """
    stack: list[int] = []
    for change in changes:
        if change.alias != PRODUCTION:
            continue
        if change.action == "promote":
            stack.append(change.version)
        elif stack:
            stack.pop()
    return stack


def _holder(conn: Connection, mid: int, alias: str) -> int | None:
    found = conn.execute(
        sa.select(model_versions.c.version)
        .join(model_aliases, model_aliases.c.version_id == model_versions.c.id)
        .where(model_aliases.c.model_id == mid, model_aliases.c.alias == alias)
    ).scalar_one_or_none()
    return None if found is None else int(found)


def _policy_for(conn: Connection, model: str) -> StoredPolicy | None:
    return policy_in_force(conn, records.load_model(conn, model).risk_tier.value)


def _approving_role(user: User, policy: StoredPolicy | None) -> str:
    held = [role.value for role in user.roles if role in APPROVING_ROLES]
    wanted = (
        [] if policy is None or policy.policy.approvals is None else policy.policy.approvals.roles
    )
    for role in held:
        if not wanted or role in wanted:
            return role
    return held[0]


def _approvals(conn: Connection, mid: int, version: int) -> Iterator[Approval]:
    name = conn.execute(sa.select(models.c.name).where(models.c.id == mid)).scalar_one()
    for row in conn.execute(
        sa.select(approvals)
        .where(approvals.c.model_id == mid, approvals.c.version == version)
        .order_by(approvals.c.id)
    ):
        yield _approval(row, name)


def _approval(row: Row[Any], name: str) -> Approval:
    return Approval(
        id=row.id,
        model=name,
        version=row.version,
        decision=row.decision,
        role=row.role,
        comment=row.comment,
        actor=row.actor,
        created_at=row.created_at,
    )


def _latest_decisions(conn: Connection, mid: int, version: int) -> dict[str, Approval]:
    latest: dict[str, Approval] = {}
    for approval in _approvals(conn, mid, version):
        latest[approval.actor] = approval
    return latest


def _changes(conn: Connection, mid: int, name: str, alias: str | None) -> Iterator[AliasChange]:
    query = sa.select(alias_events).where(alias_events.c.model_id == mid)
    if alias is not None:
        query = query.where(alias_events.c.alias == alias)
    for row in conn.execute(query.order_by(alias_events.c.id)):
        yield _change(row, name)


def _change(row: Row[Any], name: str) -> AliasChange:
    return AliasChange(
        id=row.id,
        model=name,
        alias=row.alias,
        action=row.action,
        version=row.version,
        previous=row.previous,
        reason=row.reason,
        actor=row.actor,
        created_at=row.created_at,
        evaluation_id=row.evaluation_id,
        policy_digest=row.policy_digest,
        approvals=tuple(row.approvals),
    )


# -- replay for `audit verify` ---------------------------------------------------------------


def verify_lifecycle_records(conn: Connection) -> dict[str, int]:
    """Replay users, tokens, approvals, alias changes and serving set-ups; compare the tables.

    Raises
    ------
    IntegrityError
        Naming the first user, token, approval, alias change or alias holder that differs
        from what the ledger says.
    """
    n_users = replay_people(conn)
    expected_approvals: dict[int, tuple[int, dict[str, Any]]] = {}
    expected_changes: dict[int, tuple[int, dict[str, Any]]] = {}
    holders: dict[tuple[str, str], tuple[int, int]] = {}
    for entry in iter_entries(conn, actions=_LIFECYCLE_ACTIONS):
        payload = entry.payload
        if entry.action in ("version.approved", "version.rejected"):
            expected_approvals[int(payload["id"])] = (entry.seq, payload)
        else:
            expected_changes[int(payload["id"])] = (entry.seq, payload)
            holders[(payload["model"], payload["alias"])] = (entry.seq, int(payload["version"]))

    names = {row.id: row.name for row in conn.execute(sa.select(models.c.id, models.c.name))}
    n_approvals = 0
    for row in conn.execute(sa.select(approvals).order_by(approvals.c.id)):
        n_approvals += 1
        approval = _approval(row, names[row.model_id])
        _compare(
            f"approval {row.id}",
            approval.to_dict(),
            expected_approvals.pop(row.id, None),
        )
    if expected_approvals:
        missing = next(iter(expected_approvals))
        raise IntegrityError(f"approval {missing} is in the ledger but missing from the database")

    n_changes = 0
    for row in conn.execute(sa.select(alias_events).order_by(alias_events.c.id)):
        n_changes += 1
        change = _change(row, names[row.model_id])
        _compare(f"alias change {row.id}", change.to_dict(), expected_changes.pop(row.id, None))
    if expected_changes:
        missing = next(iter(expected_changes))
        raise IntegrityError(
            f"alias change {missing} is in the ledger but missing from the database"
        )

    stored = {
        (names[row.model_id], row.alias): int(row.version)
        for row in conn.execute(
            sa.select(
                model_aliases.c.model_id, model_aliases.c.alias, model_versions.c.version
            ).join(model_versions, model_versions.c.id == model_aliases.c.version_id)
        )
    }
    for key in sorted(set(stored) | set(holders)):
        seq, expected = holders.get(key, (None, None))
        if stored.get(key) != expected:
            model, alias = key
            said = (
                f"version {expected} per ledger entry {seq}" if seq else "no version per the ledger"
            )
            raise IntegrityError(
                f"{model}@{alias} is version {stored.get(key)} in the database but {said}"
            )
    verify_serving_records(conn)
    return {"users": n_users, "approvals": n_approvals, "alias_changes": n_changes}


_LIFECYCLE_ACTIONS = (
    "version.approved",
    "version.rejected",
    "alias.promoted",
    "alias.rolled_back",
)


def _compare(
    what: str, actual: dict[str, Any], expected: tuple[int, dict[str, Any]] | None
) -> None:
    if expected is None:
        raise IntegrityError(f"{what} has no ledger entry")
    seq, payload = expected
    for key, value in actual.items():
        if payload.get(key) != value:
            raise IntegrityError(
                f"{what} differs from its ledger entry {seq}: {key} is {json.dumps(value)} in "
                f"the database but {json.dumps(payload.get(key))} in the ledger"
            )


def _alias(value: str) -> str:
    if value not in LIFECYCLE_ALIASES:
        raise ValidationError(
            f"unknown stage {value!r}: promote to {' or '.join(LIFECYCLE_ALIASES)}",
            hint=did_you_mean(value, LIFECYCLE_ALIASES),
        )
    return value


def _text(value: str, field: str, *, required: bool = False) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError(f"{field} must not be empty: say why (--{field} TEXT)")
    if len(value) > MAX_TEXT:
        raise ValidationError(f"{field} is {len(value)} characters; at most {MAX_TEXT}")
    return value


def _past(decision: str) -> str:
    return "approved" if decision == "approve" else "rejected"
