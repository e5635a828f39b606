"""Gateway keys: their format, scopes, and the gateway's in-memory check of a request's key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from govml.errors import ValidationError
from govml.serving.keys import (
    GatewayKey,
    IssuedGatewayKey,
    KeyRefused,
    KeyRing,
    key_hash,
    key_id_of,
    parse_scopes,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
SECRET = "gwk_0123456789abcdef_" + "s" * 43


def key(
    secret: str = SECRET,
    *,
    model: str = "credit",
    scopes: tuple[str, ...] = ("predict",),
    expires: datetime = NOW + timedelta(days=30),
    revoked: datetime | None = None,
) -> GatewayKey:
    return GatewayKey(
        key_id=secret.split("_")[1],
        model=model,
        scopes=scopes,
        hash=key_hash(secret),
        description="",
        created_at=NOW - timedelta(days=1),
        created_by="frank",
        expires_at=expires,
        revoked_at=revoked,
        revoked_by=None if revoked is None else "frank",
    )


def refusal(ring: KeyRing, header: bytes | None, *scopes: str) -> tuple[int, str]:
    with pytest.raises(KeyRefused) as info:
        ring.check(header, scopes or ("predict",), NOW.timestamp())
    return info.value.refusal.status, info.value.refusal.message


def test_scopes_are_canonical_and_checked() -> None:
    assert parse_scopes(["feedback,predict"]) == ("predict", "feedback")
    assert parse_scopes(["predict", "feedback", "correct_labels"]) == (
        "predict",
        "feedback",
        "correct_labels",
    )
    with pytest.raises(ValidationError, match="'predcit' is not one of") as info:
        parse_scopes(["predcit"])
    assert info.value.hint == "did you mean 'predict'?"
    with pytest.raises(ValidationError, match="give feedback too"):
        parse_scopes(["correct_labels"])
    with pytest.raises(ValidationError, match="at least one"):
        parse_scopes([" , "])


def test_key_ids_are_read_only_from_well_formed_keys() -> None:
    assert key_id_of(SECRET) == "0123456789abcdef"
    for bad in ("", "gwk", "gwk__x", "govml_0123456789abcdef_x", "gwk_0123456789ABCDEF_x"):
        assert key_id_of(bad) is None


def test_a_live_key_with_the_scope_is_accepted() -> None:
    ring = KeyRing("credit", [key(scopes=("predict", "feedback"))])
    caller = ring.check(b"Bearer " + SECRET.encode(), ("feedback",), NOW.timestamp())
    assert caller.key_id == "0123456789abcdef" and caller.may("predict")
    assert ring.live_count(NOW.timestamp()) == 1


def test_every_refusal_has_its_status_and_says_why() -> None:
    other = "gwk_fedcba9876543210_" + "t" * 43
    revoked = "gwk_1111111111111111_" + "r" * 43
    expired = "gwk_2222222222222222_" + "e" * 43
    ring = KeyRing(
        "credit",
        [
            key(),
            key(other, model="churn"),
            key(revoked, revoked=NOW - timedelta(hours=1)),
            key(expired, expires=NOW - timedelta(seconds=1)),
        ],
    )
    status, message = refusal(ring, None)
    assert status == 401 and "Authorization: Bearer KEY" in message
    assert refusal(ring, b"Basic abc")[0] == 401
    assert refusal(ring, b"Bearer not-a-key") == (
        401,
        "malformed gateway key: gateway keys look like gwk_<id>_<secret>",
    )
    wrong_secret = SECRET[:-1] + "x"
    assert refusal(ring, b"Bearer " + wrong_secret.encode())[1].startswith("invalid gateway key")
    unknown = "gwk_3333333333333333_" + "u" * 43
    assert refusal(ring, b"Bearer " + unknown.encode())[0] == 401
    assert refusal(ring, b"Bearer " + revoked.encode()) == (
        401,
        "gateway key 1111111111111111 was revoked on 2026-05-31 23:00 UTC",
    )
    assert refusal(ring, b"Bearer " + expired.encode())[1].startswith(
        "gateway key 2222222222222222 expired on 2026-05-31 23:59 UTC"
    )
    assert refusal(ring, b"Bearer " + other.encode()) == (
        403,
        "gateway key fedcba9876543210 is a key of model churn, not of credit",
    )
    assert refusal(ring, b"Bearer " + SECRET.encode(), "feedback") == (
        403,
        "gateway key 0123456789abcdef may not send labels (scope feedback): its scopes are predict",
    )


def test_issued_keys_round_trip_and_the_record_has_no_secret() -> None:
    issued = IssuedGatewayKey(key=key(), secret=SECRET)
    assert IssuedGatewayKey.from_dict(issued.to_dict()) == issued
    assert SECRET not in str(issued.key.to_dict())
