"""SQL for the model inventory: a few aggregate queries over every model, no query per model.

`read_inventory` runs each query once inside the caller's read transaction and returns plain
rows (named tuples, quick to build by the thousand) keyed by model id; the web UI joins them,
filters and sorts in memory. Each query is an aggregate (``GROUP BY model_id``) over an index
or a join on one, so the cost grows with the number of models, not with the number of
versions or evaluations behind them, and no row's documents or lineage JSON are read.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from govml.store.schema import (
    UTCDateTime,
    approvals,
    evaluations,
    ledger_checkpoints,
    ledger_entries,
    model_aliases,
    model_card_revisions,
    model_retirements,
    model_tags,
    model_versions,
    models,
    monitoring_runs,
    policies,
    policy_tiers,
)


class ModelRow(NamedTuple):
    """A model's own columns."""

    id: int
    name: str
    owner: str
    risk_tier: str
    description: str


class NewestVersion(NamedTuple):
    """A model's newest version and how many versions it has."""

    version: int
    registrant: str
    created_at: datetime
    versions: int


class EvaluationSummary(NamedTuple):
    """One evaluation without its document."""

    id: int
    version: int | None
    status: str
    policy_digest: str


class AliasRow(NamedTuple):
    """Which version holds an alias."""

    alias: str
    version: int


class Decision(NamedTuple):
    """One approval or rejection (no comment), in the order it was recorded."""

    id: int
    version: int
    actor: str
    decision: str
    role: str
    evaluation_id: int | None
    policy_digest: str | None


class RunSummary(NamedTuple):
    """A model's latest monitoring run."""

    id: int
    status: str
    window_end: datetime


@dataclass(frozen=True, kw_only=True, slots=True)
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
    changed: dict[int, datetime] = field(default_factory=dict)
    retired: dict[int, datetime] = field(default_factory=dict)
    policies: dict[str, TierPolicy] = field(default_factory=dict)


def read_inventory(conn: Connection, model_ids: Collection[int] | None = None) -> InventoryRows:
    """Run the inventory's queries in the caller's transaction and return their rows.

    Each query returns at most a few rows per model, read from indexes or from the leading
    columns of a row (never a row's documents or lineage JSON): the models, their newest
    versions, latest evaluations, newest versions' latest evaluations, latest monitoring
    runs, last changes, tags, aliases, the decisions on the newest versions, when retired
    models were retired, and the policies in force. ``model_ids``: only the rows of these
    models (every query restricted to them inside its aggregates), for refreshing a few
    models of an inventory already read.
    """
    found = InventoryRows()
    only = _Only(model_ids)
    for mid, name, owner, tier, description in conn.execute(
        sa.select(
            models.c.id, models.c.name, models.c.owner, models.c.risk_tier, models.c.description
        )
        .where(only(models.c.id))
        .order_by(models.c.name)
    ):
        found.models.append(
            ModelRow(id=mid, name=name, owner=owner, risk_tier=tier, description=description)
        )
    newest = _newest_versions(only)
    for mid, number, registrant, registered, count in conn.execute(
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
        found.newest[mid] = NewestVersion(
            version=number, registrant=registrant, created_at=registered, versions=count
        )
    _read_evaluations(conn, found, newest, only)
    runs = _latest_ids(monitoring_runs.c.id, monitoring_runs.c.model_id, "latest_run", only)
    for rid, mid, status, end in conn.execute(
        sa.select(
            monitoring_runs.c.id,
            monitoring_runs.c.model_id,
            monitoring_runs.c.status,
            monitoring_runs.c.window_end,
        ).join(runs, runs.c.id == monitoring_runs.c.id)
    ):
        found.monitoring[mid] = RunSummary(id=rid, status=status, window_end=end)
    changed = _last_changes(only)
    for mid, at in conn.execute(sa.select(changed.c.mid, changed.c.at)):
        newest_at = found.newest[mid].created_at if mid in found.newest else at
        found.changed[mid] = max(at, newest_at)  # a model's newest version is its latest
    for mid, key, value in conn.execute(
        sa.select(model_tags.c.model_id, model_tags.c.key, model_tags.c.value).where(
            only(model_tags.c.model_id)
        )
    ):
        found.tags.setdefault(mid, {})[key] = value
    for mid, alias, version in conn.execute(
        sa.select(model_aliases.c.model_id, model_aliases.c.alias, model_versions.c.version)
        .join(model_versions, model_versions.c.id == model_aliases.c.version_id)
        .where(only(model_aliases.c.model_id))
    ):
        found.aliases.setdefault(mid, {})[alias] = AliasRow(alias=alias, version=version)
    for mid, at in conn.execute(
        sa.select(model_retirements.c.model_id, model_retirements.c.retired_at).where(
            only(model_retirements.c.model_id)
        )
    ):
        found.retired[mid] = at
    found.decisions = _decisions(conn, newest)
    found.policies = policies_in_force(conn)
    return found


class _Only:
    """A WHERE clause keeping the rows of some models (of every model when none are given)."""

    def __init__(self, model_ids: Collection[int] | None) -> None:
        self.ids = None if model_ids is None else sorted(set(model_ids))

    def __call__(self, column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        if self.ids is None:
            return sa.true()
        return column.in_(self.ids)


def _read_evaluations(
    conn: Connection, found: InventoryRows, newest: sa.Subquery, only: _Only
) -> None:
    """Fill each model's latest evaluation and its newest version's latest one, in one query.

    The two are the same row unless the newest version was not the last one evaluated.
    """
    latest = _latest_ids(evaluations.c.id, evaluations.c.model_id, "latest_eval", only)
    of_newest = _newest_version_evaluation_ids(newest)
    ids = sa.union(sa.select(latest.c.id), sa.select(of_newest.c.id))
    query = sa.select(
        evaluations.c.id,
        evaluations.c.model_id,
        evaluations.c.version,
        evaluations.c.status,
        evaluations.c.policy_digest,
    ).where(evaluations.c.id.in_(ids))
    for eid, mid, version, status, digest in conn.execute(query.order_by(evaluations.c.id)):
        summary = EvaluationSummary(id=eid, version=version, status=status, policy_digest=digest)
        found.latest_evaluation[mid] = summary  # in order of id: the last one wins
        top = found.newest.get(mid)
        if top is not None and version == top.version:
            found.newest_evaluation[mid] = summary


def _newest_versions(only: _Only) -> sa.Subquery:
    return (
        sa.select(
            model_versions.c.model_id,
            sa.func.max(model_versions.c.version).label("top"),
            sa.func.count().label("versions"),
        )
        .where(only(model_versions.c.model_id))
        .group_by(model_versions.c.model_id)
        .subquery("newest")
    )


def _latest_ids(key: sa.Column[Any], owner: sa.Column[Any], name: str, only: _Only) -> sa.Subquery:
    """Return ``(model_id, id)`` of each model's newest row of a table (by id)."""
    return (
        sa.select(owner.label("model_id"), sa.func.max(key).label("id"))
        .where(owner.is_not(None), only(owner))
        .group_by(owner)
        .subquery(name)
    )


def _newest_version_evaluation_ids(newest: sa.Subquery) -> sa.Subquery:
    return (
        sa.select(evaluations.c.model_id, sa.func.max(evaluations.c.id).label("id"))
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
            )
        )
    return found


def _last_changes(only: _Only) -> sa.Subquery:
    """Return each model's last change: the newest of the times of its records.

    Its creation, and per model the newest evaluation, decision, alias move, card revision
    and monitoring window, each a ``GROUP BY`` over an index or a narrow table; the database
    compares the times (ISO text on SQLite, timestamps on PostgreSQL), so only one per model
    is converted here. The caller adds its newest version's registration, which it has.
    """
    parts = [
        sa.select(models.c.id.label("mid"), models.c.created_at.label("at")).where(
            only(models.c.id)
        )
    ]
    for key, moment in (
        (evaluations.c.model_id, evaluations.c.created_at),
        (approvals.c.model_id, approvals.c.created_at),
        (model_aliases.c.model_id, model_aliases.c.updated_at),
        (model_card_revisions.c.model_id, model_card_revisions.c.created_at),
        (monitoring_runs.c.model_id, monitoring_runs.c.window_end),
    ):
        parts.append(
            sa.select(key, sa.func.max(moment)).where(key.is_not(None), only(key)).group_by(key)
        )
    times = sa.union_all(*parts).subquery("times")
    latest = sa.type_coerce(sa.func.max(times.c.at), UTCDateTime).label("at")
    return sa.select(times.c.mid, latest).group_by(times.c.mid).subquery("changed")


def ledger_state(conn: Connection) -> tuple[int, str] | None:
    """Return the size and root hash of the ledger's latest tree head (None: empty ledger).

    Every change govml makes is written with a ledger entry in the same transaction, so the
    inventory's rows can only differ when this does.
    """
    row = conn.execute(
        sa.select(ledger_checkpoints.c.tree_size, ledger_checkpoints.c.root_hash)
        .order_by(ledger_checkpoints.c.tree_size.desc())
        .limit(1)
    ).first()
    return None if row is None else (int(row[0]), str(row[1]))


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


def ledger_root_at(conn: Connection, tree_size: int) -> str | None:
    """Return the root hash of the tree head of size ``tree_size`` (None: no such head)."""
    row = conn.execute(
        sa.select(ledger_checkpoints.c.root_hash).where(ledger_checkpoints.c.tree_size == tree_size)
    ).first()
    return None if row is None else str(row[0])


def subjects_since(conn: Connection, tree_size: int, *, limit: int) -> list[str] | None:
    """Return the subjects of the entries a tree of ``tree_size`` leaves out (None: > ``limit``).

    Entries are numbered from 0, so those are the entries numbered ``tree_size`` and on.
    """
    rows = conn.execute(
        sa.select(ledger_entries.c.subject)
        .where(ledger_entries.c.seq >= tree_size)
        .order_by(ledger_entries.c.seq)
        .limit(limit + 1)
    ).all()
    if len(rows) > limit:
        return None
    return [str(row[0]) for row in rows]


def model_ids_named(conn: Connection, names: Iterable[str]) -> dict[str, int]:
    """Return the ids of the models named (names of no model are left out)."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    query = sa.select(models.c.name, models.c.id).where(models.c.name.in_(wanted))
    return {str(name): int(mid) for name, mid in conn.execute(query)}


def model_order(conn: Connection) -> list[int]:
    """Return every model's id in the inventory's order (by name, as the database sorts)."""
    return [int(row[0]) for row in conn.execute(sa.select(models.c.id).order_by(models.c.name))]
