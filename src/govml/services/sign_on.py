"""Sign-on: a person the identity provider vouched for becomes (or is matched to) a govml user.

`sign_on` runs in one write transaction, after `govml.server.oidc` verified the id_token:

- the user is matched by the identity key of the provider's user name (`name_key`: NFKC,
  case-folded), so ``Rita`` from the provider is the existing ``rita``; an unknown name is a
  new user, a disabled user is refused;
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
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from govml.domain.lifecycle import IssuedToken, Role, User, grant_times
from govml.domain.records import check_name, name_key
from govml.errors import ForbiddenError, ValidationError
from govml.services.access import TOKEN_PREFIX, token_hash, user_subject
from govml.services.context import ServiceContext
from govml.store import access_records
from govml.store.ledger import NewEntry, append

SIGN_ON_ACTOR = "govml-sign-on"
SESSION_TOKEN_DAYS = 1


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
        When the person's groups map to no role, or the user is disabled (nothing written).
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
        elif user.roles != person.roles:
            user = _set_roles(conn, user, person.roles, now, source)
        return _issue(conn, user, now, source)


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
