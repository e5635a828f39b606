"""The policy sections the gateway applies to each decision, as read at each poll.

`Governance` holds the served model's ``reason_codes``, ``oversight`` and ``retention``
sections (from the policy in force for its risk tier) and whether the model is suspended.
The alias follower replaces it whole at each poll, so a change of policy or a suspension
reaches every gateway within one poll interval.
"""

from __future__ import annotations

from dataclasses import dataclass

from govml.policy.decisions import Oversight, ReasonCodes, Retention


@dataclass(frozen=True)
class Suspended:
    """A suspension in force: who suspended the model, why, and since when (ISO time)."""

    by: str
    reason: str
    since: str


@dataclass(frozen=True)
class Governance:
    """What the policy and the operators ask of each decision of one model."""

    reason_codes: ReasonCodes | None = None
    oversight: Oversight | None = None
    retention: Retention | None = None
    suspended: Suspended | None = None
    monitor_status: str | None = None  # the latest monitoring run's, read when oversight asks
