"""Records of the lifecycle: people and roles, approvals, alias changes, promotion readiness.

Every record has ``to_dict`` (JSON-safe) and ``from_dict`` (its inverse), which is what the
REST API sends and what the remote client rebuilds.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from govml.domain.records import name_key
from govml.errors import ValidationError, did_you_mean

STAGING = "staging"
PRODUCTION = "production"
LIFECYCLE_ALIASES = (STAGING, PRODUCTION)


class Role(StrEnum):
    """What a person may do (DESIGN: "Lifecycle, people and permissions")."""

    VIEWER = "viewer"
    REVIEWER = "reviewer"  # decides referred cases (govml.services.oversight); approves nothing
    CONTRIBUTOR = "contributor"
    APPROVER = "approver"
    RISK_OFFICER = "risk_officer"
    DEPLOYER = "deployer"
    ADMIN = "admin"

    @classmethod
    def parse(cls, value: str) -> Role:
        """Return the role named ``value``; raise `ValidationError` with a suggestion."""
        try:
            return cls(value)
        except ValueError:
            names = [role.value for role in cls]
            raise ValidationError(
                f"unknown role {value!r}; roles are {', '.join(names)}",
                hint=did_you_mean(value, names),
            ) from None


class Permission(StrEnum):
    """An operation class the service layer checks before a change."""

    READ = "read"
    REGISTER = "register"  # create models, register versions, tag, evaluate
    APPROVE = "approve"  # approve or reject a version
    DEPLOY = "deploy"  # promote, roll back, serving configuration
    ADMINISTER = "administer"  # policies, users, checkpoints


# Admin holds every permission but approval: an approval is a named person's judgement,
# which the policy asks of approvers and risk officers, not of whoever runs the system.
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset({Permission.READ}),
    Role.REVIEWER: frozenset({Permission.READ}),
    Role.CONTRIBUTOR: frozenset({Permission.READ, Permission.REGISTER}),
    Role.APPROVER: frozenset({Permission.READ, Permission.APPROVE}),
    Role.RISK_OFFICER: frozenset({Permission.READ, Permission.APPROVE}),
    Role.DEPLOYER: frozenset({Permission.READ, Permission.DEPLOY}),
    Role.ADMIN: frozenset(
        {Permission.READ, Permission.REGISTER, Permission.DEPLOY, Permission.ADMINISTER}
    ),
}


def roles_with(permission: Permission) -> list[str]:
    """Return the names of the roles that grant ``permission``."""
    return [role.value for role, granted in ROLE_PERMISSIONS.items() if permission in granted]


def approving_role(
    roles: Iterable[Role],
    wanted: Collection[str] = (),
    *,
    permissions: Mapping[Role, frozenset[Permission]] = ROLE_PERMISSIONS,
) -> Role | None:
    """Return the role in which a person holding ``roles`` approves, None if none lets them.

    The approving roles are those whose ``permissions`` include `Permission.APPROVE`; the
    first of them the policy accepts (``wanted``; any when empty) is chosen, else the first
    held, so that the approval is recorded and readiness can say why it does not count.
    """
    held = [role for role in roles if Permission.APPROVE in permissions.get(role, frozenset())]
    accepted = [role for role in held if not wanted or role.value in wanted]
    return next(iter(accepted or held), None)


def moves_to_production(role: Role) -> bool:
    """Return True for the roles nobody grants themself: those that approve or deploy.

    Admin is not one of them: only an admin changes roles, so an admin already holds it.
    """
    return role is not Role.ADMIN and bool(
        ROLE_PERMISSIONS[role] & {Permission.APPROVE, Permission.DEPLOY}
    )


def self_granted(held: Iterable[Role], wanted: Iterable[Role]) -> list[Role]:
    """Return the roles in ``wanted`` that approve or deploy and are not in ``held`` already."""
    before = set(held)
    return [role for role in wanted if role not in before and moves_to_production(role)]


def grant_times(
    before: Mapping[Role, datetime], roles: Iterable[Role], now: datetime
) -> dict[Role, datetime]:
    """Return when each of ``roles`` was granted, after a change at ``now``.

    A role kept keeps its grant time, a new role is granted ``now``, a removed role is
    forgotten (granting it again later starts afresh).
    """
    return {role: before.get(role, now) for role in roles}


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@dataclass(frozen=True, kw_only=True)
class User:
    """A person (or service account) known to the store, with their roles."""

    name: str
    roles: tuple[Role, ...]
    created_at: datetime
    created_by: str
    disabled_at: datetime | None = None
    granted_at: Mapping[Role, datetime] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """True unless the user was disabled."""
        return self.disabled_at is None

    @property
    def key(self) -> str:
        """Return the identity compared for uniqueness and separation of duties."""
        return name_key(self.name)

    def permissions(self) -> frozenset[Permission]:
        """Return what the user's roles allow (nothing once disabled)."""
        if not self.active:
            return frozenset()
        granted: set[Permission] = set()
        for role in self.roles:
            granted |= ROLE_PERMISSIONS[role]
        return frozenset(granted)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "name": self.name,
            "roles": [role.value for role in self.roles],
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "disabled_at": _iso(self.disabled_at),
            "active": self.active,
            "roles_granted_at": {
                role.value: self.granted_at[role].isoformat()
                for role in self.roles
                if role in self.granted_at
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> User:
        """Inverse of `to_dict`."""
        return cls(
            name=data["name"],
            roles=tuple(Role(role) for role in data["roles"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            created_by=data["created_by"],
            disabled_at=_time(data.get("disabled_at")),
            granted_at={
                Role(role): datetime.fromisoformat(when)
                for role, when in (data.get("roles_granted_at") or {}).items()
            },
        )


@dataclass(frozen=True, kw_only=True)
class IssuedToken:
    """A new bearer token: ``token`` is shown once and never stored (only its hash is)."""

    user: str
    token_id: str
    token: str
    expires_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "user": self.user,
            "token_id": self.token_id,
            "token": self.token,
            "expires_at": _iso(self.expires_at),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IssuedToken:
        """Inverse of `to_dict`."""
        return cls(
            user=data["user"],
            token_id=data["token_id"],
            token=data["token"],
            expires_at=_time(data.get("expires_at")),
        )


@dataclass(frozen=True, kw_only=True)
class Approval:
    """One person's decision on one version: approve or reject, with a comment.

    ``evaluation_id`` and ``policy_digest`` are the evidence the decision was given on: the
    version's latest evaluation under the policy then in force. An approval counts only while
    that evaluation is still the latest under the policy in force (None for decisions
    recorded before approvals were bound to their evidence: they do not count).
    """

    model: str
    version: int
    decision: str  # "approve" or "reject"
    role: str  # the approving role the person held when deciding
    comment: str
    actor: str
    created_at: datetime
    evaluation_id: int | None = None
    policy_digest: str | None = None
    id: int | None = None

    @property
    def ref(self) -> str:
        """Return ``name@version``."""
        return f"{self.model}@{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "id": self.id,
            "model": self.model,
            "version": self.version,
            "decision": self.decision,
            "role": self.role,
            "comment": self.comment,
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
            "evaluation_id": self.evaluation_id,
            "policy_digest": self.policy_digest,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Approval:
        """Inverse of `to_dict`."""
        return cls(
            id=data.get("id"),
            model=data["model"],
            version=int(data["version"]),
            decision=data["decision"],
            role=data["role"],
            comment=data["comment"],
            actor=data["actor"],
            created_at=datetime.fromisoformat(data["created_at"]),
            evaluation_id=data.get("evaluation_id"),
            policy_digest=data.get("policy_digest"),
        )


@dataclass(frozen=True, kw_only=True)
class ApprovalVerdict:
    """Whether one decision on a version counts toward its promotion now, and why not.

    ``counts`` is True for an approval that counts and for a rejection in force (it blocks);
    ``superseded`` marks a decision its author has since replaced with a later one.
    ``reason`` says why a decision does not count (or what a rejection does); ``short`` is
    the few words shown in a condition's detail (``carol (approver disabled)``).
    """

    approval_id: int | None
    actor: str
    role: str
    decision: str
    counts: bool
    superseded: bool = False
    reason: str = ""
    short: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "approval_id": self.approval_id,
            "actor": self.actor,
            "role": self.role,
            "decision": self.decision,
            "counts": self.counts,
            "superseded": self.superseded,
            "reason": self.reason,
            "short": self.short,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ApprovalVerdict:
        """Inverse of `to_dict`."""
        return cls(
            approval_id=data.get("approval_id"),
            actor=data["actor"],
            role=data["role"],
            decision=data["decision"],
            counts=bool(data["counts"]),
            superseded=bool(data.get("superseded", False)),
            reason=data.get("reason", ""),
            short=data.get("short", ""),
        )


@dataclass(frozen=True, kw_only=True)
class AliasChange:
    """One move of an alias: a promotion or a rollback, with who, when, why and on what basis.

    ``version`` is the version that holds the alias after the change, ``previous`` the one that
    held it before (None when the alias was free). ``evaluation_id`` and ``approvals`` are the
    evidence a promotion relied on (empty for a rollback).
    """

    model: str
    alias: str
    action: str  # "promote" or "rollback"
    version: int
    previous: int | None
    reason: str
    actor: str
    created_at: datetime
    evaluation_id: int | None = None
    policy_digest: str | None = None
    approvals: tuple[str, ...] = ()
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "id": self.id,
            "model": self.model,
            "alias": self.alias,
            "action": self.action,
            "version": self.version,
            "previous": self.previous,
            "reason": self.reason,
            "actor": self.actor,
            "created_at": self.created_at.isoformat(),
            "evaluation_id": self.evaluation_id,
            "policy_digest": self.policy_digest,
            "approvals": list(self.approvals),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AliasChange:
        """Inverse of `to_dict`."""
        return cls(
            id=data.get("id"),
            model=data["model"],
            alias=data["alias"],
            action=data["action"],
            version=int(data["version"]),
            previous=data.get("previous"),
            reason=data.get("reason", ""),
            actor=data["actor"],
            created_at=datetime.fromisoformat(data["created_at"]),
            evaluation_id=data.get("evaluation_id"),
            policy_digest=data.get("policy_digest"),
            approvals=tuple(data.get("approvals", ())),
        )


@dataclass(frozen=True, kw_only=True)
class Condition:
    """One condition of a promotion gate and whether it holds."""

    name: str
    met: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {"name": self.name, "met": self.met, "detail": self.detail}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Condition:
        """Inverse of `to_dict`."""
        return cls(name=data["name"], met=bool(data["met"]), detail=data["detail"])


@dataclass(frozen=True, kw_only=True)
class Readiness:
    """Whether version ``model@version`` may take ``alias`` now, condition by condition."""

    model: str
    version: int
    alias: str
    conditions: tuple[Condition, ...] = field(default_factory=tuple)
    evaluation_id: int | None = None
    policy_digest: str | None = None
    approvals: tuple[str, ...] = ()
    verdicts: tuple[ApprovalVerdict, ...] = ()

    @property
    def ready(self) -> bool:
        """True when every condition holds."""
        return all(condition.met for condition in self.conditions)

    @property
    def missing(self) -> list[str]:
        """Return the detail of every unmet condition."""
        return [condition.detail for condition in self.conditions if not condition.met]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "model": self.model,
            "version": self.version,
            "alias": self.alias,
            "ready": self.ready,
            "conditions": [condition.to_dict() for condition in self.conditions],
            "evaluation_id": self.evaluation_id,
            "policy_digest": self.policy_digest,
            "approvals": list(self.approvals),
            "verdicts": [verdict.to_dict() for verdict in self.verdicts],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Readiness:
        """Inverse of `to_dict`."""
        return cls(
            model=data["model"],
            version=int(data["version"]),
            alias=data["alias"],
            conditions=tuple(Condition.from_dict(item) for item in data["conditions"]),
            evaluation_id=data.get("evaluation_id"),
            policy_digest=data.get("policy_digest"),
            approvals=tuple(data.get("approvals", ())),
            verdicts=tuple(ApprovalVerdict.from_dict(item) for item in data.get("verdicts", ())),
        )
