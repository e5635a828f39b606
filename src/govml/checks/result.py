"""The result every check returns: a status, the measured value, and the evidence behind it.

A :class:`CheckResult` is what an evaluation stores for one rule of a policy. It is plain
data: JSON-safe, comparable, and rebuilt exactly by :meth:`CheckResult.from_dict`, so an
auditor reads the same statistics the decision was made on.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, ParamSpec, TypeVar, cast, get_args

from govml.errors import InputError

Status = Literal["pass", "fail", "warn", "undefined"]
Category = Literal[
    "data",
    "training_data",
    "performance",
    "fairness",
    "robustness",
    "baseline",
    "explainability",
    "security",
    "documentation",
]

STATUSES: tuple[Status, ...] = get_args(Status)
"""Valid statuses, from best to worst except ``undefined``, whose meaning the policy sets."""

CATEGORIES: tuple[Category, ...] = get_args(Category)
"""Valid categories, one per section of a policy."""

ERR_STATUS = "invalid check status {status!r}; valid statuses: {valid}"
ERR_CATEGORY = "invalid check category {category!r}; valid categories: {valid}"
ERR_REASON = "check {check}: a reason is required exactly when the status is 'undefined'"
ERR_NOT_JSON = "check {check}: {what} is not JSON-safe ({error})"
ERR_MESSAGE = "check {check}: the message must be one non-empty line"

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, kw_only=True)
class CheckResult:
    """The outcome of one check.

    Attributes
    ----------
    check : str
        The check's identifier, e.g. ``no_nulls`` or ``vulnerabilities``.
    category : str
        One of :data:`CATEGORIES`.
    status : str
        ``pass``, ``fail``, ``warn`` or ``undefined``.
    message : str
        One line a person understands, e.g. ``"3 of 1,000 rows of 'age' are outside
        [18, 100]"``.
    value : JSON value, optional
        What was measured (a count, a share, a list of feature names, ...).
    threshold : JSON value, optional
        What it was compared with (a number, a ``[min, max]`` pair, a severity name, ...).
    interval : tuple of float, optional
        A confidence interval of ``value`` when one was computed.
    reason : str, optional
        Why the check could not decide; set exactly when the status is ``undefined``.
    evidence : dict
        The statistics the decision was made on, JSON-safe (no raw personal data).
    duration_s : float, optional
        Wall time the check took, in seconds.
    """

    check: str
    category: Category
    status: Status
    message: str
    value: Any = None
    threshold: Any = None
    interval: tuple[float, float] | None = None
    reason: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    duration_s: float | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise InputError(ERR_STATUS.format(status=self.status, valid=", ".join(STATUSES)))
        if self.category not in CATEGORIES:
            valid = ", ".join(CATEGORIES)
            raise InputError(ERR_CATEGORY.format(category=self.category, valid=valid))
        if (self.status == "undefined") != (self.reason is not None):
            raise InputError(ERR_REASON.format(check=self.check))
        if not self.message.strip() or "\n" in self.message:
            raise InputError(ERR_MESSAGE.format(check=self.check))
        # Private plain-JSON copies: tuples become lists, numpy floats become floats, so
        # the result equals what from_dict() rebuilds and cannot change afterwards.
        for name in ("value", "threshold", "evidence"):
            object.__setattr__(self, name, _plain_json(getattr(self, name), self.check, name))
        if self.interval is not None:
            low, high = (float(bound) for bound in self.interval)
            object.__setattr__(self, "interval", (low, high))

    @property
    def passed(self) -> bool:
        """Whether the status is ``pass``."""
        return self.status == "pass"

    def with_duration(self, seconds: float) -> CheckResult:
        """Return a copy with :attr:`duration_s` set."""
        return replace(self, duration_s=float(seconds))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dictionary; :meth:`from_dict` restores it exactly.

        Returns
        -------
        dict
            Every attribute; ``interval`` as a two-element list or None.
        """
        return {
            "check": self.check,
            "category": self.category,
            "status": self.status,
            "message": self.message,
            "value": self.value,
            "threshold": self.threshold,
            "interval": None if self.interval is None else list(self.interval),
            "reason": self.reason,
            "evidence": self.evidence,
            "duration_s": self.duration_s,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        """Rebuild a result from :meth:`to_dict` output.

        Raises
        ------
        InputError
            When a required key is missing or a value is invalid.
        """
        try:
            interval = data.get("interval")
            duration = data.get("duration_s")
            return cls(
                check=str(data["check"]),
                category=data["category"],
                status=data["status"],
                message=str(data["message"]),
                value=data.get("value"),
                threshold=data.get("threshold"),
                interval=None if interval is None else (interval[0], interval[1]),
                reason=data.get("reason"),
                evidence=dict(data.get("evidence") or {}),
                duration_s=None if duration is None else float(duration),
            )
        except (KeyError, TypeError, IndexError) as exc:
            raise InputError(f"invalid check result: {exc!r}") from exc


def timed(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a check so the results it returns carry their wall time.

    Works for checks returning one :class:`CheckResult` or a list of them (the time is
    then the whole call's, given to each).
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        started = time.perf_counter()
        out = func(*args, **kwargs)
        elapsed = time.perf_counter() - started
        if isinstance(out, CheckResult):
            return cast(R, out.with_duration(elapsed))
        if isinstance(out, list):
            return cast(R, [item.with_duration(elapsed) for item in out])
        return out

    return wrapper


def _plain_json(value: Any, check: str, what: str) -> Any:
    try:
        return json.loads(json.dumps(value, allow_nan=False, default=_numpy_scalar))
    except (TypeError, ValueError) as exc:
        raise InputError(ERR_NOT_JSON.format(check=check, what=what, error=exc)) from exc


def _numpy_scalar(value: Any) -> Any:
    # numpy integers and booleans are not int / bool subclasses; convert them instead of
    # making every check remember to.  Anything else is refused.
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0:
        plain = item()
        if isinstance(plain, float) and not math.isfinite(plain):
            raise ValueError(f"{plain!r} is not a finite number")
        return plain
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
