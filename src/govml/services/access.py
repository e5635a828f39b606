"""People and permissions: users, roles, hashed bearer tokens, and the permission check.

The check lives here, in the service layer, and every state-changing service calls
`authorize` inside its write transaction, so the CLI, the SDK and the REST API cannot differ.
Who the actor is depends on the mode (the threat model, README "Server and client mode"):

- local mode: the actor is ``GOVML_USER`` or the OS user. Anyone who can write the database
  file can claim any name, so local mode is tamper-evident (every change is in the ledger
  under the name that made it), not enforced. The first actor to change an empty store
  becomes its admin.
- server mode: the actor is the user a bearer token belongs to. Tokens are 256-bit random
  secrets shown once; the store keeps only their SHA-256 (a hash of a high-entropy secret
  needs no slow KDF), looked up by a public token id and compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from govml.domain.lifecycle import IssuedToken, Permission, Role, User, roles_with
from govml.domain.records import check_name
from govml.errors import (
    AlreadyExistsError,
    AuthenticationError,
    ForbiddenError,
    IntegrityError,
    NotFoundError,
    ValidationError,
    did_you_mean,
)
from govml.services.context import ServiceContext
from govml.store.ledger import NewEntry, append, iter_entries
from govml.store.schema import tokens, users

TOKEN_PREFIX = "govml"  # noqa: S105 - the public prefix of every token, not a secret
MAX_TOKEN_DAYS = 3650
_ADD_HINT = "an admin adds people with `govml users add NAME --role ROLE`"


def user_subject(name: str) -> str:
    """Return the ledger subject of a user."""
    return f"user/{name}"


def token_hash(token: str) -> str:
    """Return the hex SHA-256 of a token, the only form in which it is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _user(row: Row[Any]) -> User:
    return User(
        name=row.name,
        roles=tuple(Role(role) for role in row.roles),
        created_at=row.created_at,
        created_by=row.created_by,
        disabled_at=row.disabled_at,
    )


def load_user(conn: Connection, name: str) -> User | None:
    """Return user ``name``, or None when the store does not know them."""
    row = conn.execute(sa.select(users).where(users.c.name == name)).first()
    return None if row is None else _user(row)


def list_users(conn: Connection) -> list[User]:
    """Return every user, by name."""
    return [_user(row) for row in conn.execute(sa.select(users).order_by(users.c.name))]


def parse_roles(roles: Sequence[str]) -> tuple[Role, ...]:
    """Return the roles named, in the canonical order, without duplicates; at least one."""
    if not roles:
        raise ValidationError("give at least one role (--role ROLE)")
    parsed = {Role.parse(str(role)) for role in roles}
    return tuple(role for role in Role if role in parsed)


def precheck(ctx: ServiceContext, permission: Permission) -> None:
    """Refuse early (a read, before slow work) when the actor will not hold ``permission``.

    `authorize` still decides inside the write transaction; this only saves a refused person
    from waiting for an evaluation or a serialisation first.
    """
    with ctx.store.read() as conn:
        if ctx.local and _no_users(conn):
            return
        _check(load_user(conn, ctx.actor), ctx, permission)


def authorize(conn: Connection, ctx: ServiceContext, permission: Permission) -> User:
    """Return the acting user when they hold ``permission``, inside a write transaction.

    In local mode, a store with no users makes the actor its first user, an admin (recorded
    in the ledger as ``user.added`` with ``bootstrap: true``).

    Raises
    ------
    ForbiddenError
        When the actor is unknown, disabled, or holds no role that grants ``permission``.
    """
    user = load_user(conn, ctx.actor)
    if user is None and ctx.local and _no_users(conn):
        user = _insert_user(conn, ctx, ctx.actor, (Role.ADMIN,), bootstrap=True)
    return _check(user, ctx, permission)


def bootstrap(conn: Connection, ctx: ServiceContext) -> bool:
    """Make the local actor the first user (admin) of a store with no users; True if done."""
    if ctx.local and _no_users(conn):
        _insert_user(conn, ctx, ctx.actor, (Role.ADMIN,), bootstrap=True)
        return True
    return False


def _check(user: User | None, ctx: ServiceContext, permission: Permission) -> User:
    if user is None:
        raise ForbiddenError(f"user {ctx.actor!r} is not known to this store", hint=_ADD_HINT)
    if not user.active:
        raise ForbiddenError(f"user {ctx.actor!r} is disabled")
    if permission not in user.permissions():
        held = ", ".join(role.value for role in user.roles)
        raise ForbiddenError(
            f"{ctx.actor} ({held}) may not {_VERBS[permission]}: that needs the role "
            + " or ".join(roles_with(permission)),
            hint="an admin grants roles with `govml users roles NAME --role ROLE`",
        )
    return user


_VERBS = {
    Permission.READ: "read this store",
    Permission.REGISTER: "register models, versions or evaluations",
    Permission.APPROVE: "approve or reject versions",
    Permission.DEPLOY: "promote or roll back versions",
    Permission.ADMINISTER: "administer policies, users or checkpoints",
}


def _no_users(conn: Connection) -> bool:
    return conn.execute(sa.select(users.c.id).limit(1)).first() is None


def _insert_user(
    conn: Connection,
    ctx: ServiceContext,
    name: str,
    roles: tuple[Role, ...],
    *,
    bootstrap: bool = False,
) -> User:
    now = ctx.clock()
    conn.execute(
        sa.insert(users).values(
            name=name,
            roles=[role.value for role in roles],
            created_at=now,
            created_by=ctx.actor,
            disabled_at=None,
        )
    )
    payload: dict[str, Any] = {"name": name, "roles": [role.value for role in roles]}
    if bootstrap:
        payload["bootstrap"] = True
    append(
        conn,
        actor=ctx.actor,
        now=now,
        entries=[NewEntry(action="user.added", subject=user_subject(name), payload=payload)],
    )
    return User(name=name, roles=roles, created_at=now, created_by=ctx.actor)


def replay_people(conn: Connection) -> int:
    """Replay users and tokens from the ledger and compare them with the tables.

    Returns the number of users. Raises `IntegrityError` naming the first user or token that
    differs from its ledger history (a role granted, a token inserted or un-revoked by SQL).
    """
    expected_users: dict[str, dict[str, Any]] = {}
    expected_tokens: dict[str, dict[str, Any]] = {}
    for entry in iter_entries(conn, actions=_PEOPLE_ACTIONS):
        name = entry.subject.removeprefix("user/")
        payload = entry.payload
        if entry.action == "user.added":
            expected_users[name] = {"roles": payload["roles"], "disabled": False, "seq": entry.seq}
            continue
        state = expected_users.get(name)
        if state is None:
            raise IntegrityError(f"ledger entry {entry.seq} is about user {name!r}, never added")
        state["seq"] = entry.seq
        if entry.action == "user.roles_set":
            state["roles"] = payload["roles"]
        elif entry.action == "user.disabled":
            state["disabled"] = True
        elif entry.action == "token.issued":
            expected_tokens[payload["token_id"]] = {
                "user": name,
                "hash": payload["hash"],
                "expires_at": payload["expires_at"],
                "revoked": False,
                "seq": entry.seq,
            }
        else:
            token = expected_tokens.get(payload["token_id"])
            if token is None:
                raise IntegrityError(f"ledger entry {entry.seq} revokes an unknown token")
            token.update(revoked=True, seq=entry.seq)
    stored_users = {user.name: user for user in list_users(conn)}
    for name in sorted(set(stored_users) | set(expected_users)):
        user, expected = stored_users.get(name), expected_users.get(name)
        if expected is None:
            raise IntegrityError(f"user {name!r} has no user.added ledger entry")
        if user is None:
            raise IntegrityError(f"user {name!r} is in the ledger but missing from the database")
        actual = {"roles": [role.value for role in user.roles], "disabled": not user.active}
        _same(f"user {name!r}", actual, expected)
    rows = conn.execute(
        sa.select(tokens, users.c.name).join(users, users.c.id == tokens.c.user_id)
    ).all()
    for row in sorted(rows, key=lambda r: str(r.id)):
        expected = expected_tokens.pop(row.id, None)
        if expected is None:
            raise IntegrityError(f"token {row.id} of {row.name!r} has no token.issued entry")
        actual = {
            "user": row.name,
            "hash": row.hash,
            "expires_at": _iso(row.expires_at),
            "revoked": row.revoked_at is not None,
        }
        _same(f"token {row.id}", actual, expected)
    if expected_tokens:
        raise IntegrityError(
            f"token {next(iter(expected_tokens))} is in the ledger but missing from the database"
        )
    return len(stored_users)


_PEOPLE_ACTIONS = ("user.added", "user.roles_set", "user.disabled", "token.issued", "token.revoked")


def _same(what: str, actual: dict[str, Any], expected: dict[str, Any]) -> None:
    for key, value in actual.items():
        if expected.get(key) != value:
            raise IntegrityError(
                f"{what} differs from its ledger history: {key} is {json.dumps(value)} in the "
                f"database but {json.dumps(expected.get(key))} per ledger entry {expected['seq']}"
            )


class AccessService:
    """Users, their roles and tokens, and who is acting."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def add_user(
        self, name: str, *, roles: Sequence[str], expires_in_days: int | None = 90
    ) -> IssuedToken:
        """Add user ``name`` with ``roles`` and return their first token (shown once).

        Only an admin may add users; in local mode the first person to act on an empty store
        is its admin, so the first `govml users add` makes its caller admin first.
        """
        check_name(name, what="user name")
        parsed = parse_roles(roles)
        days = _days(expires_in_days)
        with self.ctx.store.write() as conn:
            first = self.ctx.local and _no_users(conn) and name == self.ctx.actor
            authorize(conn, self.ctx, Permission.ADMINISTER)
            if first:  # the first user adds themself: admin, plus the roles they asked for
                roles_now = tuple(r for r in Role if r in {*parsed, Role.ADMIN})
                if roles_now != (Role.ADMIN,):
                    conn.execute(
                        sa.update(users)
                        .where(users.c.name == name)
                        .values(roles=[role.value for role in roles_now])
                    )
                    self._record(
                        conn, "user.roles_set", name, {"roles": [r.value for r in roles_now]}
                    )
                return self._issue(conn, name, days)
            if load_user(conn, name) is not None:
                raise AlreadyExistsError(
                    f"user {name!r} already exists",
                    hint="give them a new token with `govml users token NAME`",
                )
            _insert_user(conn, self.ctx, name, parsed)
            return self._issue(conn, name, days)

    def list_users(self) -> list[User]:
        """Return every user, by name."""
        with self.ctx.store.read() as conn:
            return list_users(conn)

    def get_user(self, name: str) -> User:
        """Return user ``name``."""
        with self.ctx.store.read() as conn:
            return self._existing(conn, name)

    def set_roles(self, name: str, *, roles: Sequence[str]) -> User:
        """Replace the roles of user ``name`` (admin only; an admin cannot demote themself)."""
        parsed = parse_roles(roles)
        with self.ctx.store.write() as conn:
            authorize(conn, self.ctx, Permission.ADMINISTER)
            user = self._existing(conn, name)
            if name == self.ctx.actor and Role.ADMIN not in parsed:
                raise ForbiddenError(
                    "an admin cannot remove their own admin role",
                    hint="another admin can do it, so the store never loses its last admin",
                )
            conn.execute(
                sa.update(users)
                .where(users.c.name == name)
                .values(roles=[role.value for role in parsed])
            )
            self._record(conn, "user.roles_set", name, {"roles": [r.value for r in parsed]})
            return User(
                name=name,
                roles=parsed,
                created_at=user.created_at,
                created_by=user.created_by,
                disabled_at=user.disabled_at,
            )

    def issue_token(self, name: str, *, expires_in_days: int | None = 90) -> IssuedToken:
        """Issue a new token for user ``name`` (an admin, or the user for themself)."""
        days = _days(expires_in_days)
        with self.ctx.store.write() as conn:
            if name != self.ctx.actor:
                authorize(conn, self.ctx, Permission.ADMINISTER)
            user = self._existing(conn, name)
            if not user.active:
                raise ForbiddenError(f"user {name!r} is disabled; no token is issued")
            return self._issue(conn, name, days)

    def revoke_tokens(self, name: str) -> int:
        """Revoke every live token of user ``name`` (an admin, or the user); return how many."""
        now = self.ctx.clock()
        with self.ctx.store.write() as conn:
            if name != self.ctx.actor:
                authorize(conn, self.ctx, Permission.ADMINISTER)
            self._existing(conn, name)
            return self._revoke_all(conn, name, now)

    def disable_user(self, name: str) -> User:
        """Disable user ``name`` and revoke their tokens (admin only, not oneself)."""
        now = self.ctx.clock()
        with self.ctx.store.write() as conn:
            authorize(conn, self.ctx, Permission.ADMINISTER)
            user = self._existing(conn, name)
            if name == self.ctx.actor:
                raise ForbiddenError("an admin cannot disable themself")
            if not user.active:
                raise AlreadyExistsError(f"user {name!r} is already disabled")
            self._revoke_all(conn, name, now)
            conn.execute(sa.update(users).where(users.c.name == name).values(disabled_at=now))
            self._record(conn, "user.disabled", name, {})
            return User(
                name=name,
                roles=user.roles,
                created_at=user.created_at,
                created_by=user.created_by,
                disabled_at=now,
            )

    def whoami(self) -> User:
        """Return the acting user (in local mode, an empty store says who would be admin)."""
        with self.ctx.store.read() as conn:
            user = load_user(conn, self.ctx.actor)
            if user is None and self.ctx.local and _no_users(conn):
                return User(
                    name=self.ctx.actor,
                    roles=(Role.ADMIN,),
                    created_at=self.ctx.clock(),
                    created_by=self.ctx.actor,
                )
        if user is None:
            raise NotFoundError(
                f"user {self.ctx.actor!r} is not known to this store", hint=_ADD_HINT
            )
        return user

    def authenticate(self, token: str) -> User:
        """Return the active user a bearer token belongs to.

        Raises
        ------
        AuthenticationError
            When the token is malformed, unknown, revoked or expired, or its user disabled.
        """
        token_id = _token_id(token)
        with self.ctx.store.read() as conn:
            row = conn.execute(
                sa.select(tokens, users.c.name, users.c.disabled_at.label("user_disabled_at"))
                .join(users, users.c.id == tokens.c.user_id)
                .where(tokens.c.id == token_id)
            ).first()
            if row is None or not hmac.compare_digest(row.hash, token_hash(token)):
                raise AuthenticationError("invalid token: it is not a token of this server")
            if row.revoked_at is not None:
                raise AuthenticationError(
                    f"token {token_id} was revoked on {row.revoked_at:%Y-%m-%d %H:%M} UTC",
                    hint="ask an admin for a new one (govml users token NAME)",
                )
            if row.expires_at is not None and row.expires_at <= self.ctx.clock():
                raise AuthenticationError(
                    f"token {token_id} expired on {row.expires_at:%Y-%m-%d %H:%M} UTC",
                    hint="ask an admin for a new one (govml users token NAME)",
                )
            if row.user_disabled_at is not None:
                raise AuthenticationError(f"user {row.name!r} is disabled")
            user = load_user(conn, row.name)
        assert user is not None
        return user

    def require(self, permission: Permission) -> User:
        """Return the acting user if they hold ``permission`` (a write transaction of its own)."""
        with self.ctx.store.write() as conn:
            return authorize(conn, self.ctx, permission)

    # -- helpers ---------------------------------------------------------------------------

    def _existing(self, conn: Connection, name: str) -> User:
        user = load_user(conn, name)
        if user is None:
            names = [u.name for u in list_users(conn)]
            raise NotFoundError(f"user {name!r} does not exist", hint=did_you_mean(name, names))
        return user

    def _issue(self, conn: Connection, name: str, days: int | None) -> IssuedToken:
        now = self.ctx.clock()
        token_id = secrets.token_hex(8)
        secret = f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
        expires = None if days is None else now + timedelta(days=days)
        user_id = conn.execute(sa.select(users.c.id).where(users.c.name == name)).scalar_one()
        digest = token_hash(secret)
        conn.execute(
            sa.insert(tokens).values(
                id=token_id,
                user_id=user_id,
                hash=digest,
                created_at=now,
                expires_at=expires,
                revoked_at=None,
            )
        )
        self._record(
            conn,
            "token.issued",
            name,
            {"token_id": token_id, "hash": digest, "expires_at": _iso(expires)},
        )
        return IssuedToken(user=name, token_id=token_id, token=secret, expires_at=expires)

    def _revoke_all(self, conn: Connection, name: str, now: datetime) -> int:
        user_id = conn.execute(sa.select(users.c.id).where(users.c.name == name)).scalar_one()
        live = (
            conn.execute(
                sa.select(tokens.c.id)
                .where(tokens.c.user_id == user_id, tokens.c.revoked_at.is_(None))
                .order_by(tokens.c.id)
            )
            .scalars()
            .all()
        )
        for token_id in live:
            conn.execute(sa.update(tokens).where(tokens.c.id == token_id).values(revoked_at=now))
            self._record(conn, "token.revoked", name, {"token_id": token_id})
        return len(live)

    def _record(self, conn: Connection, action: str, name: str, payload: dict[str, Any]) -> None:
        append(
            conn,
            actor=self.ctx.actor,
            now=self.ctx.clock(),
            entries=[NewEntry(action=action, subject=user_subject(name), payload=payload)],
        )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _days(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= MAX_TOKEN_DAYS:
        raise ValidationError(
            f"token lifetime {value} days: give 1 to {MAX_TOKEN_DAYS} days (or none)"
        )
    return value


def _token_id(token: str) -> str:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(parts[1]) != 16:
        raise AuthenticationError(
            "malformed token: govml tokens look like govml_<id>_<secret>",
            hint="copy the whole token printed by `govml users add` or `govml users token`",
        )
    return parts[1]
