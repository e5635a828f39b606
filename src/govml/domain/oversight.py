"""Records of human oversight: a record the gateway referred to a person."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Referral:
    """One record the gateway referred to a person, as it sends it to the review queue.

    ``inputs_digest`` is the SHA-256 of the record's inputs as the prediction log's
    ``inputs_json`` holds them: the queue binds the decision to the record without keeping
    the inputs.
    """

    version: int
    request_id: str
    record: int
    reasons: Sequence[str]
    score: float | None
    model_decision: Any
    inputs_digest: str | None
    referred_at: datetime
