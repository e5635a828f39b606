"""Which version answers a request: the champion, or the challenger on its canary share.

A request goes to the canary when the hash of its sticky value falls below the share. The
sticky value is the first record's value of the serving set-up's ``key`` field when the
set-up names one and the record has it, else the request id. The hash (BLAKE2b) does not
depend on the process, so the same key reaches the same version from every worker and
after a restart, for as long as the share stays the same.
"""

from __future__ import annotations

import hashlib

from govml.serving.deployment import Deployment
from govml.serving.follower import ServingState
from govml.serving.payload import MISSING, Records

CHAMPION = "champion"
CANARY = "canary"
SHADOW = "shadow"
_SCALE = float(2**64)


def bucket(value: str) -> float:
    """Map a sticky value to a number in [0, 1), the same in every process."""
    digest = hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def sticky_value(state: ServingState, records: Records, request_id: str) -> str:
    """Return what a canary assignment hashes for this request."""
    if state.key is not None:
        column = records.columns.get(state.key)
        if column:
            value = column[0]
            if value is not None and value is not MISSING:
                return str(value)
    return request_id


def route(state: ServingState, records: Records, request_id: str) -> tuple[Deployment, str]:
    """Return the deployment that answers the request and its variant name."""
    champion = state.champion
    assert champion is not None, "route() needs a loaded champion"
    challenger = state.challenger
    if state.mode != CANARY or challenger is None or state.share is None:
        return champion, CHAMPION
    if bucket(sticky_value(state, records, request_id)) < state.share:
        return challenger, CANARY
    return champion, CHAMPION
