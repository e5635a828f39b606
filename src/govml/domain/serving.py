"""How the gateway serves a model: the challenger's role (off, shadow or canary)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from govml.errors import ValidationError

SERVING_MODES = ("off", "shadow", "canary")
_NAME_MAX = 200


@dataclass(frozen=True, kw_only=True)
class ServingConfig:
    """The challenger set-up of one model; the challenger is the version holding ``staging``.

    ``shadow``: the challenger gets a copy of every request, its answer is logged and never
    returned. ``canary``: the challenger answers ``share`` of the traffic (0 < share < 1),
    chosen by hashing the request field ``key`` (sticky) or, without one, the request id.
    """

    model: str
    mode: str = "off"
    share: float | None = None
    key: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None

    def __post_init__(self) -> None:
        check_serving(self.mode, self.share, self.key)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary."""
        return {
            "model": self.model,
            "mode": self.mode,
            "share": self.share,
            "key": self.key,
            "updated_at": None if self.updated_at is None else self.updated_at.isoformat(),
            "updated_by": self.updated_by,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServingConfig:
        """Inverse of `to_dict`."""
        updated = data.get("updated_at")
        return cls(
            model=data["model"],
            mode=data.get("mode", "off"),
            share=data.get("share"),
            key=data.get("key"),
            updated_at=None if updated is None else datetime.fromisoformat(updated),
            updated_by=data.get("updated_by"),
        )


def check_serving(mode: str, share: float | None, key: str | None) -> None:
    """Raise `ValidationError` naming the field when a serving set-up is inconsistent."""
    if mode not in SERVING_MODES:
        raise ValidationError(f"mode: {mode!r} is not one of {', '.join(SERVING_MODES)}")
    if mode == "canary":
        if share is None or not 0 < share < 1:
            raise ValidationError(
                f"share: a canary needs a share of traffic between 0 and 1 (exclusive), got "
                f"{share!r}"
            )
    elif share is not None:
        raise ValidationError(f"share: only a canary takes a share of traffic (mode is {mode})")
    if key is not None and (mode != "canary" or not key.strip() or len(key) > _NAME_MAX):
        raise ValidationError(
            "key: a sticky key is the name of a request field (1-200 characters), for a canary"
        )
