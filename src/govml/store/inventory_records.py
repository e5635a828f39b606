"""SQL for the model inventory: a few aggregate queries over every model, no query per model.

`read_inventory` runs each query once inside the caller's read transaction and returns plain
rows keyed by model id; the web UI joins them, filters and sorts in memory. Each query is an
aggregate (``GROUP BY model_id``) or a join on one, so the cost grows with the number of
models, not with the number of versions or evaluations behind them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from govml.store.schema import (
    approvals,
    evaluations,
    model_aliases,
    model_card_revisions,
    model_tags,
    model_versions,
    models,
    monitoring_runs,
    policies,
    policy_tiers,
)


@dataclass(frozen=True, kw_only=True)
class ModelRow:
    """A model's own columns."""

    id: int
    name: str
    owner: str
    risk_tier: str
    description: str
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class NewestVersion:
    """A model's newest version and how many versions it has."""

    version: int
    registrant: str
    created_at: datetime
    count: int


@dataclass(frozen=True, kw_only=True)
class EvaluationSummary:
    """One evaluation without its document."""

    id: int
    version: int | None
    status: str
    policy_name: str
    policy_digest: str
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class AliasRow:
    """Which version holds an alias, since when and moved by whom."""

    alias: str
    version: int
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True, kw_only=True)
class Decision:
    """One approval or rejection (no comment), in the order it was recorded."""

    id: int
    version: int
    actor: str
    decision: str
    role: str
    evaluation_id: int | None
    policy_digest: str | None
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    """A model's latest monitoring run."""

    id: int
    status: str
    window_end: datetime
    created_at: datetime


@dataclass(frozen=True, kw_only=True)
class TierPolicy:
    """The policy in force for a risk tier, with its approval rules."""

    name: str
    version: int
    digest: str
    approvals_required: int
    approval_roles: tuple[str, ...]


@dataclass(kw_only=True)
class InventoryRows:
    """Every query's rows, keyed by model id (``decisions``: on each model's newest version)."""

    models: list[ModelRow] = field(default_factory=list)
    tags: dict[int, dict[str, str]] = field(default_factory=dict)
    newest: dict[int, NewestVersion] = field(default_factory=dict)
    latest_evaluation: dict[int, EvaluationSummary] = field(default_factory=dict)
    newest_evaluation: dict[int, EvaluationSummary] = field(default_factory=dict)
    aliases: dict[int, dict[str, AliasRow]] = field(default_factory=dict)
    decisions: dict[int, list[Decision]] = field(default_factory=dict)
    monitoring: dict[int, RunSummary] = field(default_factory=dict)
    last_decision: dict[int, datetime] = field(default_factory=dict)
    last_card: dict[int, datetime] = field(default_factory=dict)
    policies: dict[str, TierPolicy] = field(default_factory=dict)


def read_inventory(conn: Connection) -> InventoryRows:
    """Run the inventory's queries in the caller's transaction and return their rows."""
    found = InventoryRows()
    found.models = [
        ModelRow(
            id=row.id,
            name=row.name,
            owner=row.owner,
            risk_tier=row.risk_tier,
            description=row.description,
            created_at=row.created_at,
        )
        for row in conn.execute(
            sa.select(
                models.c.id,
                models.c.name,
                models.c.owner,
                models.c.risk_tier,
                models.c.description,
                models.c.created_at,
            ).order_by(models.c.name)
        )
    ]
    for mid, key, value in conn.execute(
        sa.select(model_tags.c.model_id, model_tags.c.key, model_tags.c.value)
    ):
        found.tags.setdefault(mid, {})[key] = value
    newest = _newest_versions()
    for row in conn.execute(
        sa.select(
            model_versions.c.model_id,
            model_versions.c.version,
            model_versions.c.registrant,
            model_versions.c.created_at,
            newest.c.versions,
        ).join(
            newest,
            sa.and_(
                model_versions.c.model_id == newest.c.model_id,
                model_versions.c.version == newest.c.top,
            ),
        )
    ):
        found.newest[row.model_id] = NewestVersion(
            version=row.version,
            registrant=row.registrant,
            created_at=row.created_at,
            count=row.versions,
        )
    found.latest_evaluation = _evaluations(conn, _latest_evaluation_ids())
    found.newest_evaluation = _evaluations(conn, _newest_version_evaluation_ids(newest))
    for row in conn.execute(
        sa.select(
            model_aliases.c.model_id,
            model_aliases.c.alias,
            model_versions.c.version,
            model_aliases.c.updated_at,
            model_aliases.c.updated_by,
        ).join(model_versions, model_versions.c.id == model_aliases.c.version_id)
    ):
        found.aliases.setdefault(row.model_id, {})[row.alias] = AliasRow(
            alias=row.alias,
            version=row.version,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
        )
    found.decisions = _decisions(conn, newest)
    found.monitoring = _latest_runs(conn)
    found.last_decision = _latest_times(conn, approvals.c.model_id, approvals.c.created_at)
    found.last_card = _latest_times(
        conn, model_card_revisions.c.model_id, model_card_revisions.c.created_at
    )
    found.policies = policies_in_force(conn)
    return found


def _newest_versions() -> sa.Subquery:
    return (
        sa.select(
            model_versions.c.model_id,
            sa.func.max(model_versions.c.version).label("top"),
            sa.func.count().label("versions"),
        )
        .group_by(model_versions.c.model_id)
        .subquery("newest")
    )


def _latest_evaluation_ids() -> sa.Subquery:
    return (
        sa.select(sa.func.max(evaluations.c.id).label("id"))
        .where(evaluations.c.model_id.is_not(None))
        .group_by(evaluations.c.model_id)
        .subquery("latest")
    )


def _newest_version_evaluation_ids(newest: sa.Subquery) -> sa.Subquery:
    return (
        sa.select(sa.func.max(evaluations.c.id).label("id"))
        .join(
            newest,
            sa.and_(
                evaluations.c.model_id == newest.c.model_id,
                evaluations.c.version == newest.c.top,
            ),
        )
        .group_by(evaluations.c.model_id)
        .subquery("of_newest")
    )


def _evaluations(conn: Connection, ids: sa.Subquery) -> dict[int, EvaluationSummary]:
    query = sa.select(
        evaluations.c.id,
        evaluations.c.model_id,
        evaluations.c.version,
        evaluations.c.status,
        evaluations.c.policy_name,
        evaluations.c.policy_digest,
        evaluations.c.created_at,
    ).join(ids, ids.c.id == evaluations.c.id)
    return {
        row.model_id: EvaluationSummary(
            id=row.id,
            version=row.version,
            status=row.status,
            policy_name=row.policy_name,
            policy_digest=row.policy_digest,
            created_at=row.created_at,
        )
        for row in conn.execute(query)
    }


def _decisions(conn: Connection, newest: sa.Subquery) -> dict[int, list[Decision]]:
    query = (
        sa.select(
            approvals.c.id,
            approvals.c.model_id,
            approvals.c.version,
            approvals.c.actor,
            approvals.c.decision,
            approvals.c.role,
            approvals.c.evaluation_id,
            approvals.c.policy_digest,
            approvals.c.created_at,
        )
        .join(
            newest,
            sa.and_(approvals.c.model_id == newest.c.model_id, approvals.c.version == newest.c.top),
        )
        .order_by(approvals.c.id)
    )
    found: dict[int, list[Decision]] = {}
    for row in conn.execute(query):
        found.setdefault(row.model_id, []).append(
            Decision(
                id=row.id,
                version=row.version,
                actor=row.actor,
                decision=row.decision,
                role=row.role,
                evaluation_id=row.evaluation_id,
                policy_digest=row.policy_digest,
                created_at=row.created_at,
            )
        )
    return found


def _latest_runs(conn: Connection) -> dict[int, RunSummary]:
    ids = (
        sa.select(sa.func.max(monitoring_runs.c.id).label("id"))
        .group_by(monitoring_runs.c.model_id)
        .subquery("latest_run")
    )
    query = sa.select(
        monitoring_runs.c.id,
        monitoring_runs.c.model_id,
        monitoring_runs.c.status,
        monitoring_runs.c.window_end,
        monitoring_runs.c.created_at,
    ).join(ids, ids.c.id == monitoring_runs.c.id)
    return {
        row.model_id: RunSummary(
            id=row.id, status=row.status, window_end=row.window_end, created_at=row.created_at
        )
        for row in conn.execute(query)
    }


def _latest_times(
    conn: Connection, key: sa.Column[Any], moment: sa.Column[Any]
) -> dict[int, datetime]:
    # MAX keeps the column's type, so the UTC timestamps come back as aware datetimes.
    query = sa.select(key, sa.func.max(moment).label("latest")).group_by(key)
    return {row[0]: row[1] for row in conn.execute(query)}


def policies_in_force(conn: Connection) -> dict[str, TierPolicy]:
    """Return the policy in force for each governed risk tier, with its approval rules."""
    query = sa.select(
        policy_tiers.c.tier,
        policies.c.name,
        policies.c.version,
        policies.c.digest,
        policies.c.content,
    ).join(policies, policies.c.id == policy_tiers.c.policy_id)
    found: dict[str, TierPolicy] = {}
    for row in conn.execute(query):
        rules = json.loads(row.content).get("approvals") or {}
        found[row.tier] = TierPolicy(
            name=row.name,
            version=row.version,
            digest=row.digest,
            approvals_required=int(rules.get("required") or 0),
            approval_roles=tuple(rules.get("roles") or ()),
        )
    return found
