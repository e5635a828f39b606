"""Sign-on: a person the identity provider vouched for becomes (or is matched to) a govml user.

`sign_on` runs in one write transaction, after `govml.server.oidc` verified the id_token:

- the user is matched by the identity key of the provider's user name (`name_key`: NFKC,
  case-folded), so ``Rita`` from the provider is the existing ``rita``; an unknown name is a
  new user, a disabled user is refused;
- a user is bound to the provider's issuer and subject at their first sign-on (the ledger
  holds that first entry): a later sign-on under the same name by another account (the
  provider renamed an account, or gave a departed person's name to someone else) is refused,
  so no account at the provider can take over a govml user another account signed on as;
- their roles are the ones ``GOVML_OIDC_ROLE_MAP`` gives their groups, and nothing else: a
  group nobody mapped grants nothing, and a person whose groups map to no role is refused.
  The provider is the authority for the roles of people who sign on through it: a change of
  groups changes their roles at their next sign-on (a role newly granted counts, as always,
  for versions registered after it);
- a token is issued for the session (1 day, never shown: the session holds it, so revoking a
  person's tokens or disabling them ends their sessions as for any token).

The ledger records each step under `SIGN_ON_ACTOR` with the issuer and the subject the
provider gave: ``user.added``, ``user.roles_set`` (only when the roles changed) and
``token.issued`` (the sign-on itself), exactly the actions `audit verify` replays.

`end_session_token` revokes a sign-on's token when its session is signed out (a
``token.revoked`` entry by the person), so no live token outlives the session.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from govml.domain.lifecycle import IssuedToken, Role, User, grant_times
from govml.domain.records import check_name, name_key
from govml.errors import AlreadyExistsError, ForbiddenError, ValidationError
from govml.services.access import TOKEN_PREFIX, AccessService, token_hash, user_subject
from govml.services.context import ServiceContext
from govml.store import access_records
from govml.store.ledger import NewEntry, append
from govml.store.sign_on_records import sign_on_entries

SIGN_ON_ACTOR = "govml-sign-on"
SESSION_TOKEN_DAYS = 1
ERR_BOUND = (
    "user {name!r} is bound to another account at {issuer} (the one that first signed on as "
    "{name!r}); this account's subject is {subject!r}, so this sign-on was refused"
)
HINT_BOUND = (
    "the provider may have renamed an account or given this name to someone else; ask your "
    "govml admin (a person with a new account is added under another user name)"
)


@dataclass(frozen=True, kw_only=True)
class Vouched:
    """Who the provider vouched for: issuer, subject, user name, groups and mapped roles."""

    issuer: str
    subject: str
    username: str
    groups: tuple[str, ...]
    roles: tuple[Role, ...]


def sign_on(ctx: ServiceContext, person: Vouched, *, username_claim: str) -> IssuedToken:
    """Match or add the user ``person`` names, set their roles, issue a session token.

    Raises
    ------
    ValidationError
        When the provider's user name is not a valid govml user name.
    ForbiddenError
        When the person's groups map to no role, the user is disabled, or the user is bound
        to another account at the provider (nothing written).
    """
    try:
        check_name(person.username, what=f"user name (the id_token's {username_claim!r} claim)")
    except ValidationError as error:
        raise ValidationError(error.message, hint="set GOVML_OIDC_USERNAME_CLAIM") from None
    if not person.roles:
        groups = ", ".join(person.groups) or "none"
        raise ForbiddenError(
            f"{person.username} signed on, but none of their groups ({groups}) is given a govml "
            "role by GOVML_OIDC_ROLE_MAP",
            hint="ask your govml admin to map one of your groups to a role",
        )
    source = {"issuer": person.issuer, "subject": person.subject}
    with ctx.store.write() as conn:
        now = ctx.clock()
        user = access_records.user_with_key(conn, name_key(person.username))
        if user is None:
            user = _add(conn, person, now, source)
        elif not user.active:
            raise ForbiddenError(f"user {user.name!r} is disabled")
        else:
            _check_binding(conn, user, person)
        if user.roles != person.roles:
            user = _set_roles(conn, user, person.roles, now, source)
        return _issue(conn, user, now, source)


def end_session_token(ctx: ServiceContext, token_id: str) -> bool:
    """Revoke token ``token_id`` of ``ctx.actor`` if sign-on issued it; return True if revoked.

    Called as the person signs out: the token was issued for their session only (nobody saw
    it), so it ends with the session. A token issued otherwise is left alone.
    """
    with ctx.store.read() as conn:
        issued_here = any(
            entry.action == "token.issued" and entry.payload.get("token_id") == token_id
            for entry in sign_on_entries(
                conn, actor=SIGN_ON_ACTOR, subject=user_subject(ctx.actor), newest_first=True
            )
        )
    if not issued_here:
        return False
    try:
        AccessService(ctx).revoke_token(ctx.actor, token_id)
    except AlreadyExistsError:  # revoked meanwhile (an admin, another tab)
        return False
    return True


def binding(ctx: ServiceContext, name: str) -> tuple[str, str] | None:
    """Return the (issuer, subject) user ``name`` is bound to (None: never signed on)."""
    with ctx.store.read() as conn:
        return bound_identity(conn, name)


def bound_identity(conn: Connection, name: str) -> tuple[str, str] | None:
    """Return the (issuer, subject) user ``name`` first signed on as (None: never signed on)."""
    for entry in sign_on_entries(conn, actor=SIGN_ON_ACTOR, subject=user_subject(name)):
        return entry.issuer, entry.subject
    return None


def _check_binding(conn: Connection, user: User, person: Vouched) -> None:
    bound = bound_identity(conn, user.name)
    if bound is None or bound == (person.issuer, person.subject):
        return
    raise ForbiddenError(
        ERR_BOUND.format(name=user.name, issuer=bound[0], subject=person.subject),
        hint=HINT_BOUND,
    )


def _add(conn: Connection, person: Vouched, now: datetime, source: dict[str, str]) -> User:
    granted = grant_times({}, person.roles, now)
    access_records.insert_user(
        conn,
        name=person.username,
        roles=person.roles,
        granted_at=granted,
        now=now,
        actor=SIGN_ON_ACTOR,
    )
    roles = [role.value for role in person.roles]
    payload = {"name": person.username, "roles": roles, "sign_on": source}
    _record(conn, now, "user.added", person.username, payload)
    user = access_records.load_user(conn, person.username)
    assert user is not None
    return user


def _set_roles(
    conn: Connection, user: User, roles: tuple[Role, ...], now: datetime, source: dict[str, str]
) -> User:
    granted = grant_times(user.granted_at, roles, now)
    access_records.set_roles(conn, user.name, roles, granted)
    payload = {"roles": [role.value for role in roles], "sign_on": source}
    _record(conn, now, "user.roles_set", user.name, payload)
    updated = access_records.load_user(conn, user.name)
    assert updated is not None
    return updated


def _issue(conn: Connection, user: User, now: datetime, source: dict[str, str]) -> IssuedToken:
    token_id = secrets.token_hex(8)
    secret = f"{TOKEN_PREFIX}_{token_id}_{secrets.token_urlsafe(32)}"
    expires = now + timedelta(days=SESSION_TOKEN_DAYS)
    digest = token_hash(secret)
    access_records.insert_token(
        conn, token_id=token_id, user=user.name, digest=digest, now=now, expires_at=expires
    )
    payload = {
        "token_id": token_id,
        "hash": digest,
        "expires_at": expires.isoformat(),
        "issued_by": SIGN_ON_ACTOR,
        "days": SESSION_TOKEN_DAYS,
        "over_cap": False,
        "sign_on": source,
    }
    _record(conn, now, "token.issued", user.name, payload)
    return IssuedToken(user=user.name, token_id=token_id, token=secret, expires_at=expires)


def _record(conn: Connection, now: datetime, action: str, name: str, payload: Any) -> None:
    append(
        conn,
        actor=SIGN_ON_ACTOR,
        now=now,
        entries=[NewEntry(action=action, subject=user_subject(name), payload=payload)],
    )
