"""What every part of the policy schema shares: strict models, bounds, list and name checks.

Models are strict (a quoted ``"0.8"`` is not a number, ``yes`` in quotes is not a boolean),
forbid unknown fields, refuse NaN and infinities, and are frozen. Cross-field problems are
raised as `FieldProblems` so that each one points at the field it is about.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainValidator, field_validator

from govml.errors import closest
from govml.policy import messages as msg
from govml.policy.diagnostics import FieldProblems, Path
from govml.policy.vocabulary import MetricTraits, format_number


class PolicyModel(BaseModel):
    """Base of every policy model: strict, closed, immutable."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)


def describe_value(value: Any) -> str:
    """Return how a person would name the YAML value ``value`` ("a list", "the string 'x'")."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {format_number(float(value)) if isinstance(value, float) else value}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def _scalar(value: Any) -> str | int | float | bool:
    finite = not isinstance(value, float) or math.isfinite(value)
    if isinstance(value, str | int | float | bool) and finite:
        return value
    raise ValueError(msg.ERR_NOT_SCALAR.format(got=describe_value(value)))


Scalar = Annotated[str | int | float | bool, PlainValidator(_scalar)]
"""One data value: a string, a finite number or a boolean."""


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(msg.ERR_TYPE.format(expected="a string", got=describe_value(value)))
    if not value.strip():
        raise ValueError(msg.ERR_EMPTY_TEXT)
    return value


Name = Annotated[str, PlainValidator(_text)]
"""A non-empty string: a column, feature or file name."""


def unique(values: Sequence[Hashable]) -> None:
    """Raise `FieldProblems` naming every value listed a second time."""
    seen: set[tuple[type, Hashable]] = set()
    problems: list[tuple[Path, str]] = []
    for index, value in enumerate(values):
        key = (type(value), value)  # true and 1 are different values in a policy
        if key in seen:
            problems.append(((index,), msg.ERR_DUPLICATE_ITEM.format(value=value)))
        seen.add(key)
    if problems:
        raise FieldProblems(problems)


def suggestion(name: object, choices: Sequence[str]) -> str:
    """Return " — did you mean 'x'?" for the choice closest to ``name``, or ""."""
    match = closest(name, choices) if isinstance(name, str) else None
    return msg.SUGGESTION.format(match=match) if match else ""


def unknown_name(name: str, choices: Sequence[str], *, template: str, listing: str) -> str:
    """Return ``template`` for ``name`` with the closest valid name, else with ``listing``."""
    return template.format(name=name) + (suggestion(name, choices) or listing)


class Bounds(PolicyModel):
    """Bounds on a metric: ``min``, ``max`` or ``between: [low, high]``."""

    min: float | None = None
    max: float | None = None
    between: list[float] | None = None

    @field_validator("between")
    @classmethod
    def _two_ordered(cls, value: list[float] | None) -> list[float] | None:
        if value is None:
            return None
        if len(value) != 2:
            raise FieldProblems.at((), msg.ERR_BETWEEN_LENGTH.format(count=len(value)))
        if value[0] > value[1]:
            low, high = (format_number(v) for v in value)
            raise FieldProblems.at((1,), msg.ERR_BETWEEN_ORDER.format(low=low, high=high))
        return value

    @property
    def low(self) -> float | None:
        """The lower bound, from ``between`` or ``min``."""
        return self.between[0] if self.between else self.min

    @property
    def high(self) -> float | None:
        """The upper bound, from ``between`` or ``max``."""
        return self.between[1] if self.between else self.max

    def bound_fields(self) -> list[tuple[Path, str, float]]:
        """Return ``(path, "min" | "max", value)`` for each bound given."""
        if self.between is not None:
            return [
                (("between", 0), "min", self.between[0]),
                (("between", 1), "max", self.between[1]),
            ]
        found: list[tuple[Path, str, float]] = []
        if self.min is not None:
            found.append((("min",), "min", self.min))
        if self.max is not None:
            found.append((("max",), "max", self.max))
        return found

    def bound_problems(
        self, *, metric: str, traits: MetricTraits, alternatives: str | None = "min, max or between"
    ) -> list[tuple[Path, str]]:
        """Return the problems of these bounds for ``metric``.

        Parameters
        ----------
        metric
            The metric the bounds are about (for messages).
        traits
            Its range: a bound outside it that can never be met is a problem.
        alternatives
            What to ask for when no bound is given, or None when none is needed.
        """
        if self.between is not None and (self.min is not None or self.max is not None):
            return [(("between",), msg.ERR_BETWEEN_WITH_BOUNDS)]
        fields = self.bound_fields()
        if not fields:
            return [((), msg.ERR_NO_BOUND.format(choices=alternatives))] if alternatives else []
        if self.min is not None and self.max is not None and self.min > self.max:
            low, high = format_number(self.min), format_number(self.max)
            return [(("max",), msg.ERR_MIN_ABOVE_MAX.format(low=low, high=high))]
        problems: list[tuple[Path, str]] = []
        for path, kind, value in fields:
            if (kind == "min" and value > traits.high) or (kind == "max" and value < traits.low):
                problems.append(
                    (path, self._range_message(msg.ERR_NEVER_MET, metric, traits, kind, value))
                )
        return problems

    def never_binding(self, *, metric: str, traits: MetricTraits) -> list[tuple[Path, str]]:
        """Return notes for bounds outside the metric's range that can never fail."""
        notes: list[tuple[Path, str]] = []
        for path, kind, value in self.bound_fields():
            if (kind == "min" and value < traits.low) or (kind == "max" and value > traits.high):
                notes.append(
                    (path, self._range_message(msg.NOTE_NEVER_BINDS, metric, traits, kind, value))
                )
        return notes

    @staticmethod
    def _range_message(
        template: str, metric: str, traits: MetricTraits, kind: str, value: float
    ) -> str:
        return template.format(
            metric=metric,
            low=format_number(traits.low),
            high=format_number(traits.high),
            bound=kind,
            value=format_number(value),
        )
