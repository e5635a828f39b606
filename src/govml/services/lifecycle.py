"""Lifecycle use cases: approvals, promotion through the gates, rollback, alias history.

The rules are pure functions of `govml.domain.readiness` (the gates of ``staging`` and
``production``, which decisions count and why, what a decision is bound to); this service
gathers their facts inside one transaction, calls them, and writes the result with its ledger
entry. A rollback moves ``production`` back to the version that held it before the current
one (the promotions form a stack that rollbacks pop) and is always allowed to a deployer.

Each change writes the alias row, an ``alias_events`` row and a ledger entry in one
transaction; a refusal lists every unmet condition (`GateError`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from sqlalchemy.engine import Connection

from govml.domain.lifecycle import (
    LIFECYCLE_ALIASES,
    PRODUCTION,
    AliasChange,
    Approval,
    Permission,
    Readiness,
)
from govml.domain.readiness import (
    ApprovalRules,
    EvaluationFacts,
    PolicyFacts,
    decide,
    readiness,
)
from govml.domain.records import ModelVersion, VersionRef, check_name
from govml.errors import (
    AlreadyExistsError,
    GateError,
    IntegrityError,
    NotFoundError,
    ValidationError,
    did_you_mean,
)
from govml.policy.records import StoredPolicy
from govml.services.access import authorize, replay_people
from govml.services.context import ServiceContext
from govml.services.model_risk import RETIRED, check_ticket, promotion_refusal, ticket_entry
from govml.services.policy import policy_in_force
from govml.services.registry import model_subject, version_subject
from govml.services.serving import verify_serving_records
from govml.store import access_records, evaluation_records, lifecycle_records, records
from govml.store.evaluation_records import EvaluationRow
from govml.store.ledger import NewEntry, append, iter_entries

MAX_TEXT = 2000


class LifecycleService:
    """Approvals, promotions, rollbacks and the history of aliases."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # -- approvals -------------------------------------------------------------------------

    def approve(
        self, ref: str, *, comment: str, reject: bool = False, ticket: str | None = None
    ) -> Approval:
        """Record the acting user's approval (or rejection) of version ``ref``.

        The rules are `govml.domain.readiness.decide`: nobody decides on a version they
        registered, approving rights count for versions registered after they were granted,
        an approval needs a passing evaluation under the policy in force and is bound to it,
        and one person's latest decision counts.
        """
        comment = _text(comment, "comment", required=True)
        ticket = check_ticket(ticket)
        parsed = VersionRef.parse(ref)
        with self.ctx.store.write() as conn:
            user = authorize(conn, self.ctx, Permission.APPROVE)
            version = records.load_version(conn, parsed)
            mid = records.model_id(conn, version.model)
            policy = _policy(conn, records.load_model(conn, version.model).risk_tier.value)
            decision = decide(
                user=user,
                version=version,
                policy=policy,
                evaluations=_evaluations(conn, mid, version, policy),
                earlier=lifecycle_records.approvals_of(conn, mid, version.model, version.version),
                reject=reject,
                comment=comment,
                now=self.ctx.clock(),
            )
            approval = replace(decision, id=lifecycle_records.insert_approval(conn, mid, decision))
            action = "version.approved" if approval.decision == "approve" else "version.rejected"
            append(
                conn,
                actor=self.ctx.actor,
                now=approval.created_at,
                entries=[
                    NewEntry(
                        action=action,
                        subject=version_subject(version.model, version.version),
                        payload=approval.to_dict(),
                    ),
                    *_ticket(ticket, version_subject(version.model, version.version), approval),
                ],
            )
            return approval

    def approvals(self, ref: str) -> list[Approval]:
        """Return every decision on version ``ref``, oldest first."""
        parsed = VersionRef.parse(ref)
        with self.ctx.store.read() as conn:
            version = records.load_version(conn, parsed)
            mid = records.model_id(conn, version.model)
            return lifecycle_records.approvals_of(conn, mid, version.model, version.version)

    # -- promotion -------------------------------------------------------------------------

    def readiness(self, ref: str, *, to: str = PRODUCTION) -> Readiness:
        """Return each condition version ``ref`` must meet to take alias ``to``, and which hold.

        The readiness also says of every decision on the version whether it counts, and why
        not (`Readiness.verdicts`).
        """
        alias = _alias(to)
        parsed = VersionRef.parse(ref)
        with self.ctx.store.read() as conn:
            version = records.load_version(conn, parsed)
            return self._readiness(conn, version, alias)

    def promote(
        self, ref: str, *, to: str, reason: str = "", ticket: str | None = None
    ) -> AliasChange:
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
        ticket = check_ticket(ticket)
        parsed = VersionRef.parse(ref)
        with self.ctx.store.write() as conn:
            authorize(conn, self.ctx, Permission.DEPLOY)
            version = records.load_version(conn, parsed)
            mid = records.model_id(conn, version.model)
            current = lifecycle_records.holder(conn, mid, alias)
            if current == version.version:
                raise AlreadyExistsError(f"{version.ref} already holds {alias}")
            refused = promotion_refusal(
                conn,
                mid=mid,
                model=version.model,
                version=version.version,
                alias=alias,
                now=self.ctx.clock(),
            )
            if refused is not None:
                raise GateError(f"{version.ref} cannot be promoted to {alias}:", missing=[refused])
            ready = self._readiness(conn, version, alias)
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
                created_at=self.ctx.clock(),
                evaluation_id=ready.evaluation_id,
                policy_digest=ready.policy_digest,
                approvals=ready.approvals,
            )
            return self._move(conn, mid, change, ticket=ticket)

    def rollback(self, name: str, *, reason: str, ticket: str | None = None) -> AliasChange:
        """Move ``production`` back to the version that held it before the current one.

        Raises
        ------
        ValidationError
            Without a reason.
        NotFoundError
            When no earlier production version exists to go back to.
        """
        check_name(name)
        reason = _text(reason, "reason", required=True)
        ticket = check_ticket(ticket)
        with self.ctx.store.write() as conn:
            authorize(conn, self.ctx, Permission.DEPLOY)
            mid = records.model_id(conn, name)
            changes = lifecycle_records.alias_changes(conn, mid, name, PRODUCTION)
            stack = production_stack(changes)
            current = lifecycle_records.holder(conn, mid, PRODUCTION)
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
                created_at=self.ctx.clock(),
            )
            return self._move(conn, mid, change, ticket=ticket)

    def history(self, name: str, *, alias: str | None = None) -> list[AliasChange]:
        """Return every promotion and rollback of model ``name`` (one alias), oldest first."""
        check_name(name)
        wanted = None if alias is None else _alias(alias)
        with self.ctx.store.read() as conn:
            mid = records.model_id(conn, name)
            return lifecycle_records.alias_changes(conn, mid, name, wanted)

    def _readiness(self, conn: Connection, version: ModelVersion, alias: str) -> Readiness:
        """Gather the facts of the gates of ``alias`` for ``version`` and judge them."""
        model = records.load_model(conn, version.model)
        mid = records.model_id(conn, version.model)
        policy = _policy(conn, model.risk_tier.value)
        decisions = lifecycle_records.approvals_of(conn, mid, version.model, version.version)
        return readiness(
            model=model,
            version=version,
            alias=alias,
            policy=policy,
            evaluations=_evaluations(conn, mid, version, policy),
            approvals=decisions,
            people=access_records.users_named(conn, [a.actor for a in decisions]),
            history=lifecycle_records.alias_changes(conn, mid, version.model),
            now=self.ctx.clock(),
        )

    def _move(
        self, conn: Connection, mid: int, change: AliasChange, *, ticket: str | None = None
    ) -> AliasChange:
        stored = replace(change, id=lifecycle_records.move_alias(conn, mid, change))
        append(
            conn,
            actor=change.actor,
            now=change.created_at,
            entries=[
                NewEntry(
                    action="alias.promoted" if change.action == "promote" else "alias.rolled_back",
                    subject=model_subject(change.model),
                    payload=stored.to_dict(),
                ),
                *_ticket(ticket, model_subject(change.model), stored),
            ],
        )
        return stored


# -- facts ----------------------------------------------------------------------------------


def policy_facts(stored: StoredPolicy) -> PolicyFacts:
    """Return what the gates read of a stored policy: name, version, digest, approval rules."""
    rules = stored.policy.approvals
    revalidation = stored.policy.revalidation
    blocks = revalidation is not None and revalidation.block_promotion
    return PolicyFacts(
        name=stored.name,
        version=stored.version,
        digest=stored.digest,
        revalidate_every=revalidation.period if blocks and revalidation else None,
        revalidation_text=revalidation.every if revalidation else "",
        approvals=ApprovalRules()
        if rules is None
        else ApprovalRules(
            required=rules.required,
            roles=tuple(rules.roles),
            separation_of_duties=rules.separation_of_duties,
            require_staging=rules.require_staging,
        ),
    )


def _policy(conn: Connection, tier: str) -> PolicyFacts | None:
    stored = policy_in_force(conn, tier)
    return None if stored is None else policy_facts(stored)


def _evaluations(
    conn: Connection, mid: int, version: ModelVersion, policy: PolicyFacts | None
) -> list[EvaluationFacts]:
    """Return the version's evaluations; the failed checks of the latest under ``policy``.

    The newest evaluation also carries the data and target it ran on, for the command that
    evaluates the version again.
    """
    rows = evaluation_records.select(conn, model_id=mid, version=version.version)
    latest = next((row for row in rows if policy and row.policy_digest == policy.digest), None)
    return [
        _evaluation(row, with_checks=row is latest, with_inputs=index == 0)
        for index, row in enumerate(rows)
    ]


def _evaluation(row: EvaluationRow, *, with_checks: bool, with_inputs: bool) -> EvaluationFacts:
    failed: tuple[str, ...] = ()
    data: str | None = None
    target: str | None = None
    needs_checks = with_checks and row.status not in ("pass", "warn")
    if needs_checks or with_inputs:
        document = json.loads(row.document)
        if needs_checks:
            checks = document.get("checks", [])
            failed = tuple(c["check"] for c in checks if c.get("outcome") == "fail")
        if with_inputs:
            data = document.get("data", {}).get("source")
            target = document.get("inputs", {}).get("target")
    return EvaluationFacts(
        id=row.id,
        status=row.status,
        policy_name=row.policy_name,
        policy_digest=row.policy_digest,
        failed=failed,
        data=data,
        target=target,
        created_at=row.created_at,
    )


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
    expected_holders: dict[tuple[str, str], tuple[int, int]] = {}
    for entry in iter_entries(conn, actions=(*_LIFECYCLE_ACTIONS, RETIRED)):
        payload = entry.payload
        if entry.action == RETIRED:  # a retirement clears the model's aliases
            for key in [k for k in expected_holders if k[0] == payload["model"]]:
                del expected_holders[key]
            continue
        if entry.action in ("version.approved", "version.rejected"):
            expected_approvals[int(payload["id"])] = (entry.seq, payload)
        else:
            expected_changes[int(payload["id"])] = (entry.seq, payload)
            key = (payload["model"], payload["alias"])
            expected_holders[key] = (entry.seq, int(payload["version"]))

    names = lifecycle_records.model_names(conn)
    n_approvals = 0
    for approval in lifecycle_records.all_approvals(conn, names):
        n_approvals += 1
        assert approval.id is not None
        expected = expected_approvals.pop(approval.id, None)
        _compare(f"approval {approval.id}", approval.to_dict(), expected)
    if expected_approvals:
        missing = next(iter(expected_approvals))
        raise IntegrityError(f"approval {missing} is in the ledger but missing from the database")

    n_changes = 0
    for change in lifecycle_records.all_alias_changes(conn, names):
        n_changes += 1
        assert change.id is not None
        expected = expected_changes.pop(change.id, None)
        _compare(f"alias change {change.id}", change.to_dict(), expected)
    if expected_changes:
        missing = next(iter(expected_changes))
        raise IntegrityError(
            f"alias change {missing} is in the ledger but missing from the database"
        )

    stored = lifecycle_records.holders(conn, names)
    for key in sorted(set(stored) | set(expected_holders)):
        seq, version = expected_holders.get(key, (None, None))
        if stored.get(key) != version:
            model, alias = key
            said = (
                f"version {version} per ledger entry {seq}" if seq else "no version per the ledger"
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


def _ticket(ticket: str | None, subject: str, record: Approval | AliasChange) -> list[NewEntry]:
    if ticket is None:
        return []
    kind = "approval" if isinstance(record, Approval) else record.action
    return [ticket_entry(subject=subject, ticket=ticket, kind=kind, record_id=record.id)]


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
