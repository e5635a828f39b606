"""Policy sections for running models: serving thresholds, revalidation, environment check.

``monitoring.serving`` turns gateway latency and error-rate limits into monitoring rules
(rendered as Prometheus alerting rules per model). ``revalidation`` sets how often a model in
production must be evaluated and approved again, and ``environment`` whether a gateway or
``load_model`` refuses a version whose recorded package versions differ from the running ones.
Every field is left out of the policy document when the section is absent, so the digests of
earlier policies do not change.
"""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from typing import Final, Literal, Self

from pydantic import Field, field_validator, model_validator

from govml.policy._base import PolicyModel
from govml.policy.diagnostics import FieldProblems, Path

ERR_SERVING_EMPTY: Final = "give at least one of p50_ms, p95_ms, p99_ms, error_rate"
ERR_LATENCY_ORDER: Final = "{high} ({high_value} ms) is below {low} ({low_value} ms)"
ERR_DURATION: Final = "{value!r} is not a duration: write a number and a unit, such as 90d, 12w"
ERR_WARN_BEFORE: Final = "warn_before ({warn}) must be shorter than every ({every})"

_DURATION = re.compile(r"^([1-9][0-9]*)([hdw])$")
_UNIT_SECONDS = {"h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(value: str) -> timedelta:
    """Return the `timedelta` of a duration such as ``365d``, ``12w`` or ``36h``.

    Raises
    ------
    ValueError
        When ``value`` is not a positive whole number followed by ``h``, ``d`` or ``w``.
    """
    found = _DURATION.match(value)
    if found is None:
        raise ValueError(ERR_DURATION.format(value=value))
    return timedelta(seconds=int(found.group(1)) * _UNIT_SECONDS[found.group(2)])


class ServingThresholds(PolicyModel):
    """Latency percentiles (milliseconds) and the error rate a gateway must stay within.

    ``error_rate`` is the share of ``/predict`` requests answered 5xx; ``window`` is the
    Prometheus range each rule looks at and ``for`` how long a breach lasts before it fires.
    """

    p50_ms: float | None = Field(default=None, gt=0)
    p95_ms: float | None = Field(default=None, gt=0)
    p99_ms: float | None = Field(default=None, gt=0)
    error_rate: float | None = Field(default=None, gt=0, le=1)
    window: Literal["1m", "5m", "10m", "15m", "30m", "1h"] = "5m"
    for_: Literal["0m", "1m", "5m", "10m", "15m", "30m"] = Field(default="5m", alias="for")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        percentiles = [(name, getattr(self, name)) for name in ("p50_ms", "p95_ms", "p99_ms")]
        given = [(name, value) for name, value in percentiles if value is not None]
        if not given and self.error_rate is None:
            raise FieldProblems.at((), ERR_SERVING_EMPTY)
        problems: list[tuple[Path, str]] = []
        for (low, low_value), (high, high_value) in itertools.pairwise(given):
            if high_value < low_value:
                text = ERR_LATENCY_ORDER.format(
                    high=high, high_value=high_value, low=low, low_value=low_value
                )
                problems.append(((high,), text))
        if problems:
            raise FieldProblems(problems)
        return self

    def percentiles(self) -> list[tuple[float, float]]:
        """Return ``(quantile, seconds)`` for each latency threshold given."""
        pairs = ((0.5, self.p50_ms), (0.95, self.p95_ms), (0.99, self.p99_ms))
        return [(q, ms / 1000.0) for q, ms in pairs if ms is not None]


class Revalidation(PolicyModel):
    """How often a production version must pass a new evaluation and approval.

    Monitoring warns ``warn_before`` the due date; after it the version is overdue and, with
    ``block_promotion`` (the default), promoting it again is refused until it has an
    evaluation and approvals newer than the due date.
    """

    every: str
    warn_before: str = "30d"
    block_promotion: bool = True

    @field_validator("every", "warn_before")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    @model_validator(mode="after")
    def _warn_shorter(self) -> Self:
        if parse_duration(self.warn_before) >= parse_duration(self.every):
            text = ERR_WARN_BEFORE.format(warn=self.warn_before, every=self.every)
            raise FieldProblems.at(("warn_before",), text)
        return self

    @property
    def period(self) -> timedelta:
        """The revalidation period."""
        return parse_duration(self.every)

    @property
    def warning(self) -> timedelta:
        """How long before the due date monitoring starts warning."""
        return parse_duration(self.warn_before)


class EnvironmentCheck(PolicyModel):
    """What to do when running package versions differ from a version's recorded ones.

    A gateway or ``load_model`` answers a mismatch with ``warn`` (default) or ``refuse``.

    ``packages`` narrows the packages compared (default: those that matter to the flavor).
    ``match`` is how close versions must be: ``exact``, ``minor`` (same major.minor) or
    ``major``.
    """

    mismatch: Literal["warn", "refuse"] = "warn"
    match: Literal["exact", "minor", "major"] = "minor"
    packages: list[str] = Field(default_factory=list)
