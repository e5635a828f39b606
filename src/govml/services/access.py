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

Identities: a user name must match the name rule in full (a trailing newline makes no second
``rita``); its identity key (NFKC, case-folded, `name_key`) is unique, so ``Rita`` is never a
second ``rita`` either. Names are shown and looked up exactly as stored.

Rights that move a version to production: nobody grants themself a role that approves or
deploys (another admin must), and each role's grant time is stored (and replayed from the
ledger by `audit verify`): approving rights count only for versions registered after them.

Tokens always expire: a token one issues for oneself lives at most ``GOVML_TOKEN_MAX_DAYS``
days (90 by default); only an admin issues longer ones (up to `MAX_TOKEN_DAYS`), for other
users, and the ledger entry says so. Tokens stored without an expiry by older versions expire
``GOVML_TOKEN_MAX_DAYS`` days after they were issued.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from govml.domain.lifecycle import (
    IssuedToken,
    Permission,
    Role,
    User,
    grant_times,
    roles_with,
    self_granted,
)
from govml.domain.records import check_name, name_key
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
from govml.store import access_records
from govml.store.access_records import TokenRow, list_users, load_user
from govml.store.ledger import NewEntry, append, iter_entries

TOKEN_PREFIX = "govml"  # noqa: S105 - the public prefix of every token, not a secret
MAX_TOKEN_DAYS = 3650
_ADD_HINT = "an admin adds people with `govml users add NAME --role ROLE`"
_RENEW_HINT = "ask an admin for a new one (govml users token NAME)"


def user_subject(name: str) -> str:
    """Return the ledger subject of a user."""
    return f"user/{name}"


def token_hash(token: str) -> str:
    """Return the hex SHA-256 of a token, the only form in which it is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


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
        if ctx.local and access_records.no_users(conn):
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
    if user is None and ctx.local and access_records.no_users(conn):
        user = _insert_user(conn, ctx, ctx.actor, (Role.ADMIN,), ctx.clock(), bootstrap=True)
    return _check(user, ctx, permission)


def bootstrap(conn: Connection, ctx: ServiceContext) -> bool:
    """Make the local actor the first user (admin) of a store with no users; True if done."""
    if ctx.local and access_records.no_users(conn):
        _insert_user(conn, ctx, ctx.actor, (Role.ADMIN,), ctx.clock(), bootstrap=True)
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
            hint="an admin sets roles with `govml users roles NAME --set ROLE,...` (the full list)",
        )
    return user


_VERBS = {
    Permission.READ: "read this store",
    Permission.REGISTER: "register models, versions or evaluations",
    Permission.APPROVE: "approve or reject versions",
    Permission.DEPLOY: "promote or roll back versions",
    Permission.ADMINISTER: "administer policies, users or checkpoints",
}


def _user_name(value: str) -> str:
    return check_name(value, what="user name")


def _insert_user(
    conn: Connection,
    ctx: ServiceContext,
    name: str,
    roles: tuple[Role, ...],
    now: datetime,
    *,
    bootstrap: bool = False,
) -> User:
    try:
        _user_name(name)
    except ValidationError as error:
        if not bootstrap:
            raise
        raise ValidationError(
            f"{error.message} (the first user of a store is whoever acts first)",
            hint="set GOVML_USER to a valid name",
        ) from None
    same = access_records.user_with_key(conn, name_key(name))
    if same is not None:
        raise AlreadyExistsError(
            f"user {name!r} is the same person as existing user {same.name!r}: user names are "
            "compared ignoring case and Unicode compatibility forms",
            hint=f"give {same.name} a new token with `govml users token {same.name}`",
        )
    granted = grant_times({}, roles, now)
    access_records.insert_user(
        conn, name=name, roles=roles, granted_at=granted, now=now, actor=ctx.actor
    )
    payload: dict[str, Any] = {"name": name, "roles": [role.value for role in roles]}
    if bootstrap:
        payload["bootstrap"] = True
    _record(conn, ctx.actor, now, "user.added", name, payload)
    return User(name=name, roles=roles, created_at=now, created_by=ctx.actor, granted_at=granted)


def _record(
    conn: Connection, actor: str, now: datetime, action: str, name: str, payload: dict[str, Any]
) -> None:
    append(
        conn,
        actor=actor,
        now=now,
        entries=[NewEntry(action=action, subject=user_subject(name), payload=payload)],
    )


# -- replay for `audit verify` ---------------------------------------------------------------


def replay_people(conn: Connection) -> int:
    """Replay users and tokens from the ledger and compare them with the tables.

    Roles are granted at the time of the entry that grants them (a role kept keeps its
    time), which is what the stored grant times must say. Returns the number of users.
    Raises `IntegrityError` naming the first user or token that differs from its ledger
    history (a role granted or back-dated, a token inserted or un-revoked by SQL).
    """
    expected_users: dict[str, dict[str, Any]] = {}
    expected_tokens: dict[str, dict[str, Any]] = {}
    for entry in iter_entries(conn, actions=_PEOPLE_ACTIONS):
        name = entry.subject.removeprefix("user/")
        payload = entry.payload
        when = _iso(datetime.fromisoformat(entry.time))
        if entry.action == "user.added":
            roles = list(payload["roles"])
            expected_users[name] = {
                "roles": roles,
                "disabled": False,
                "granted_at": {role: when for role in roles},
                "seq": entry.seq,
            }
            continue
        state = expected_users.get(name)
        if state is None:
            raise IntegrityError(f"ledger entry {entry.seq} is about user {name!r}, never added")
        state["seq"] = entry.seq
        if entry.action == "user.roles_set":
            before = state["granted_at"]
            state["roles"] = list(payload["roles"])
            state["granted_at"] = {role: before.get(role, when) for role in payload["roles"]}
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
    keys = access_records.name_keys(conn)
    for name in sorted(set(stored_users) | set(expected_users)):
        user, expected = stored_users.get(name), expected_users.get(name)
        if expected is None:
            raise IntegrityError(f"user {name!r} has no user.added ledger entry")
        if user is None:
            raise IntegrityError(f"user {name!r} is in the ledger but missing from the database")
        actual = {
            "roles": [role.value for role in user.roles],
            "disabled": not user.active,
            "granted_at": {role.value: _iso(when) for role, when in user.granted_at.items()},
        }
        _same(f"user {name!r}", actual, expected)
        if keys.get(name) != name_key(name):
            raise IntegrityError(
                f"user {name!r} has the identity key {keys.get(name)!r} in the database, but "
                f"its name's key is {name_key(name)!r}"
            )
    for row in access_records.all_tokens(conn):
        expected = expected_tokens.pop(row.id, None)
        if expected is None:
            raise IntegrityError(f"token {row.id} of {row.user!r} has no token.issued entry")
        actual = {
            "user": row.user,
            "hash": row.hash,
            "expires_at": None if row.expires_at is None else row.expires_at.isoformat(),
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


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


# -- the service -----------------------------------------------------------------------------


class AccessService:
    """Users, their roles and tokens, and who is acting."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def add_user(
        self, name: str, *, roles: Sequence[str], expires_in_days: int | None = None
    ) -> IssuedToken:
        """Add user ``name`` with ``roles`` and return their first token (shown once).

        Only an admin may add users; in local mode the first person to act on an empty store
        is its admin, so the first `govml users add` makes its caller admin first (with the
        other roles asked for, except those that approve or deploy: another admin grants
        those). ``expires_in_days`` defaults to ``GOVML_TOKEN_MAX_DAYS``.
        """
        _user_name(name)
        parsed = parse_roles(roles)
        with self.ctx.store.write() as conn:
            first = self.ctx.local and access_records.no_users(conn) and name == self.ctx.actor
            admin = authorize(conn, self.ctx, Permission.ADMINISTER)
            now = self.ctx.clock()
            if first:  # the first user adds themself: admin, plus the roles they asked for
                self._refuse_self_grant(admin, parsed)
                roles_now = tuple(r for r in Role if r in {*parsed, Role.ADMIN})
                if roles_now != admin.roles:
                    admin = self._set_roles(conn, admin, roles_now, now)
                return self._issue(conn, admin, admin, expires_in_days, now)
            if load_user(conn, name) is not None:
                raise AlreadyExistsError(
                    f"user {name!r} already exists",
                    hint="give them a new token with `govml users token NAME`",
                )
            user = _insert_user(conn, self.ctx, name, parsed, now)
            return self._issue(conn, admin, user, expires_in_days, now)

    def list_users(self) -> list[User]:
        """Return every user, by name."""
        with self.ctx.store.read() as conn:
            return list_users(conn)

    def get_user(self, name: str) -> User:
        """Return user ``name``."""
        _user_name(name)
        with self.ctx.store.read() as conn:
            return self._existing(conn, name)

    def set_roles(self, name: str, *, roles: Sequence[str]) -> User:
        """Replace the roles of user ``name`` (admin only).

        An admin cannot remove their own admin role, nor grant themself a role that approves
        or deploys: another admin does either. A role newly granted counts for approvals of
        versions registered after this change only.
        """
        _user_name(name)
        parsed = parse_roles(roles)
        with self.ctx.store.write() as conn:
            admin = authorize(conn, self.ctx, Permission.ADMINISTER)
            user = self._existing(conn, name)
            if user.key == admin.key:
                if Role.ADMIN not in parsed:
                    raise ForbiddenError(
                        "an admin cannot remove their own admin role",
                        hint="another admin can do it, so the store never loses its last admin",
                    )
                self._refuse_self_grant(user, parsed)
            return self._set_roles(conn, user, parsed, self.ctx.clock())

    def issue_token(self, name: str, *, expires_in_days: int | None = None) -> IssuedToken:
        """Issue a new token for user ``name`` (an admin, or the user for themself).

        ``expires_in_days`` defaults to ``GOVML_TOKEN_MAX_DAYS``, the most a token issued for
        oneself may live; an admin may issue a longer one (up to `MAX_TOKEN_DAYS`) for
        another user.
        """
        _user_name(name)
        with self.ctx.store.write() as conn:
            admin = None
            if name != self.ctx.actor:
                admin = authorize(conn, self.ctx, Permission.ADMINISTER)
            user = self._existing(conn, name)
            if not user.active:
                raise ForbiddenError(f"user {name!r} is disabled; no token is issued")
            return self._issue(conn, admin or user, user, expires_in_days, self.ctx.clock())

    def list_tokens(self, name: str) -> list[TokenRow]:
        """Return the tokens of user ``name`` (ids, times; never a secret), by id.

        An admin may list anyone's tokens, a user their own.
        """
        _user_name(name)
        with self.ctx.store.read() as conn:
            if name != self.ctx.actor:
                _check(load_user(conn, self.ctx.actor), self.ctx, Permission.ADMINISTER)
            self._existing(conn, name)
            return [row for row in access_records.all_tokens(conn) if row.user == name]

    def revoke_tokens(self, name: str) -> int:
        """Revoke every live token of user ``name`` (an admin, or the user); return how many."""
        _user_name(name)
        with self.ctx.store.write() as conn:
            if name != self.ctx.actor:
                authorize(conn, self.ctx, Permission.ADMINISTER)
            self._existing(conn, name)
            return self._revoke_all(conn, name, self.ctx.clock())

    def revoke_token(self, name: str, token_id: str) -> TokenRow:
        """Revoke one token of user ``name`` (an admin, or the user); return it, revoked.

        Raises
        ------
        NotFoundError
            When ``name`` has no token ``token_id``.
        AlreadyExistsError
            When that token was revoked already (nothing is written).
        """
        _user_name(name)
        with self.ctx.store.write() as conn:
            if name != self.ctx.actor:
                authorize(conn, self.ctx, Permission.ADMINISTER)
            self._existing(conn, name)
            row = access_records.load_token(conn, token_id)
            if row is None or row.user != name:
                raise NotFoundError(
                    f"user {name!r} has no token {token_id!r}",
                    hint=f"the People page of the web UI lists the token ids of {name}",
                )
            if row.revoked_at is not None:
                raise AlreadyExistsError(
                    f"token {token_id} of {name!r} was already revoked on "
                    f"{row.revoked_at:%Y-%m-%d %H:%M} UTC"
                )
            now = self.ctx.clock()
            access_records.revoke_token(conn, token_id, now)
            _record(conn, self.ctx.actor, now, "token.revoked", name, {"token_id": token_id})
            return replace(row, revoked_at=now)

    def disable_user(self, name: str) -> User:
        """Disable user ``name`` and revoke their tokens (admin only, not oneself).

        Their approvals stop counting toward promotions from then on.
        """
        _user_name(name)
        with self.ctx.store.write() as conn:
            admin = authorize(conn, self.ctx, Permission.ADMINISTER)
            user = self._existing(conn, name)
            if user.key == admin.key:
                raise ForbiddenError("an admin cannot disable themself")
            if not user.active:
                raise AlreadyExistsError(f"user {name!r} is already disabled")
            now = self.ctx.clock()
            self._revoke_all(conn, name, now)
            access_records.disable_user(conn, name, now)
            _record(conn, self.ctx.actor, now, "user.disabled", name, {})
            return replace(user, disabled_at=now)

    def whoami(self) -> User:
        """Return the acting user (in local mode, an empty store says who would be admin)."""
        with self.ctx.store.read() as conn:
            user = load_user(conn, self.ctx.actor)
            if user is None and self.ctx.local and access_records.no_users(conn):
                now = self.ctx.clock()
                return User(
                    name=self.ctx.actor,
                    roles=(Role.ADMIN,),
                    created_at=now,
                    created_by=self.ctx.actor,
                    granted_at={Role.ADMIN: now},
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
            row = access_records.load_token(conn, token_id)
            if row is None or not hmac.compare_digest(row.hash, token_hash(token)):
                raise AuthenticationError("invalid token: it is not a token of this server")
            if row.revoked_at is not None:
                raise AuthenticationError(
                    f"token {token_id} was revoked on {row.revoked_at:%Y-%m-%d %H:%M} UTC",
                    hint=_RENEW_HINT,
                )
            self._check_expiry(row)
            if row.user_disabled_at is not None:
                raise AuthenticationError(f"user {row.user!r} is disabled")
            user = load_user(conn, row.user)
        if user is None:
            raise AuthenticationError("invalid token: it is not a token of this server")
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

    def _refuse_self_grant(self, user: User, wanted: Sequence[Role]) -> None:
        refused = self_granted(user.roles, wanted)
        if refused:
            named = ", ".join(role.value for role in refused)
            raise ForbiddenError(
                f"{user.name} cannot grant themself {named}: roles that approve or deploy are "
                "granted by another admin",
                hint=(
                    f"another admin runs `govml users roles {user.name} --set ROLE,...` "
                    "(the full list)"
                ),
            )

    def _set_roles(
        self, conn: Connection, user: User, roles: tuple[Role, ...], now: datetime
    ) -> User:
        granted = grant_times(user.granted_at, roles, now)
        access_records.set_roles(conn, user.name, roles, granted)
        payload = {"roles": [role.value for role in roles]}
        _record(conn, self.ctx.actor, now, "user.roles_set", user.name, payload)
        return replace(user, roles=roles, granted_at=granted)

    def _lifetime(self, issuer: User, user: User, days: int | None) -> tuple[int, bool]:
        """Return the token's lifetime in days and whether it is over the cap."""
        cap = self.ctx.token_max_days
        if days is None:
            return cap, False
        if not 1 <= days <= MAX_TOKEN_DAYS:
            raise ValidationError(
                f"expires_in_days: a token lives 1 to {MAX_TOKEN_DAYS} days, got {days!r}; "
                "every token expires"
            )
        if days <= cap:
            return days, False
        if issuer.key == user.key or Permission.ADMINISTER not in issuer.permissions():
            raise ForbiddenError(
                f"expires_in_days: {days} days is over the {cap}-day limit of a token issued "
                "for oneself (GOVML_TOKEN_MAX_DAYS)",
                hint=f"give at most {cap} days; an admin may issue a longer token for another "
                "user, which the ledger records",
            )
        return days, True

    def _issue(
        self, conn: Connection, issuer: User, user: User, days: int | None, now: datetime
    ) -> IssuedToken:
        lifetime, over_cap = self._lifetime(issuer, user, days)
        token_id = secrets.token_hex(8)
        secret = f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
        expires = now + timedelta(days=lifetime)
        digest = token_hash(secret)
        access_records.insert_token(
            conn, token_id=token_id, user=user.name, digest=digest, now=now, expires_at=expires
        )
        payload = {
            "token_id": token_id,
            "hash": digest,
            "expires_at": expires.isoformat(),
            "issued_by": issuer.name,
            "days": lifetime,
            "over_cap": over_cap,
        }
        _record(conn, self.ctx.actor, now, "token.issued", user.name, payload)
        return IssuedToken(user=user.name, token_id=token_id, token=secret, expires_at=expires)

    def _check_expiry(self, row: TokenRow) -> None:
        now = self.ctx.clock()
        if row.expires_at is not None:
            if row.expires_at <= now:
                raise AuthenticationError(
                    f"token {row.id} expired on {row.expires_at:%Y-%m-%d %H:%M} UTC",
                    hint=_RENEW_HINT,
                )
            return
        cap = self.ctx.token_max_days
        ends = row.created_at + timedelta(days=cap)
        if ends <= now:
            raise AuthenticationError(
                f"token {row.id} was issued without an expiry on {row.created_at:%Y-%m-%d} UTC; "
                f"such tokens expire GOVML_TOKEN_MAX_DAYS ({cap}) days after issue, on "
                f"{ends:%Y-%m-%d %H:%M} UTC",
                hint=_RENEW_HINT,
            )

    def _revoke_all(self, conn: Connection, name: str, now: datetime) -> int:
        live = access_records.live_token_ids(conn, name)
        for token_id in live:
            access_records.revoke_token(conn, token_id, now)
            _record(conn, self.ctx.actor, now, "token.revoked", name, {"token_id": token_id})
        return len(live)


def _token_id(token: str) -> str:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or len(parts[1]) != 16:
        raise AuthenticationError(
            "malformed token: govml tokens look like govml_<id>_<secret>",
            hint="copy the whole token printed by `govml users add` or `govml users token`",
        )
    return parts[1]
