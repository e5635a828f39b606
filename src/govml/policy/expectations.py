"""Data expectations: what the evaluation data must look like, one kind per ``expect``."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, Self, get_args

from pydantic import Field, PlainValidator, field_validator, model_validator

from govml.policy import messages as msg
from govml.policy._base import Name, PolicyModel, Scalar, describe_value, unique
from govml.policy.diagnostics import FieldProblems
from govml.policy.vocabulary import PersonalDataKind, format_number

PERSONAL_DATA_KINDS: tuple[PersonalDataKind, ...] = get_args(PersonalDataKind)


class NoNulls(PolicyModel):
    """The columns hold no missing values."""

    expect: Literal["no_nulls"]
    columns: list[Name] = Field(min_length=1)

    @field_validator("columns")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        unique(value)
        return value


def _bound(value: Any) -> float | str | None:
    """Return a bound: a number, or a date or time (YAML timestamp or ISO string) as text."""
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(msg.ERR_BOUND.format(got=describe_value(value))) from None
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise ValueError(msg.ERR_BOUND.format(got=describe_value(value)))


Bound = Annotated[float | str | None, PlainValidator(_bound)]
"""A bound of `Between`: a number, or an ISO date or time."""


class Between(PolicyModel):
    """Every non-missing value of a numeric or temporal column lies in ``[min, max]``.

    Bounds are numbers, or dates and times for temporal columns; ``strict`` excludes the
    bounds themselves.
    """

    expect: Literal["between"]
    column: Name
    min: Bound = None
    max: Bound = None
    strict: bool = False

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        low, high = self.min, self.max
        if low is None and high is None:
            raise FieldProblems.at((), msg.ERR_NO_BOUND.format(choices="min, max or both"))
        if low is None or high is None:
            return self
        if isinstance(low, str) and isinstance(high, str):
            above = _moment(low) > _moment(high)
        elif isinstance(low, float) and isinstance(high, float):
            above = low > high
        else:
            raise FieldProblems.at(("max",), msg.ERR_BOUND_KINDS)
        if above:
            text = msg.ERR_MIN_ABOVE_MAX.format(low=_shown(low), high=_shown(high))
            raise FieldProblems.at(("max",), text)
        return self


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _shown(value: float | str) -> str:
    return value if isinstance(value, str) else format_number(value)


class InSet(PolicyModel):
    """Every non-missing value of the column is one of ``values``."""

    expect: Literal["in_set"]
    column: Name
    values: list[Scalar] = Field(min_length=1)

    @field_validator("values")
    @classmethod
    def _unique(cls, value: list[str | int | float | bool]) -> list[str | int | float | bool]:
        unique(value)
        return value


class Unique(PolicyModel):
    """No two rows share the values of ``columns`` (a key)."""

    expect: Literal["unique"]
    columns: list[Name] = Field(min_length=1)

    @field_validator("columns")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        unique(value)
        return value


class Regex(PolicyModel):
    """Every non-missing value of a text column matches ``pattern`` (Python syntax).

    With ``full_match`` (the default) the whole value must match, else a match anywhere.
    """

    expect: Literal["regex"]
    column: Name
    pattern: str
    full_match: bool = True

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(msg.ERR_BAD_REGEX.format(problem=exc)) from None
        return value


class RowCount(PolicyModel):
    """The data has at least ``min`` and at most ``max`` rows."""

    expect: Literal["row_count"]
    min: int | None = Field(default=None, ge=0)
    max: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min is None and self.max is None:
            raise FieldProblems.at((), msg.ERR_ROW_COUNT_NO_BOUND)
        if self.min is not None and self.max is not None and self.min > self.max:
            message = msg.ERR_MIN_ABOVE_MAX.format(low=self.min, high=self.max)
            raise FieldProblems.at(("max",), message)
        return self


class SchemaMatchesTraining(PolicyModel):
    """The columns and their types equal those of the version's training data fingerprint.

    ``allow_extra_columns`` tolerates columns the training data did not have (the target,
    sensitive features, an id).
    """

    expect: Literal["schema_matches_training"]
    allow_extra_columns: bool = False


class NoPersonalData(PolicyModel):
    """No column looks like personal data (emails, phone numbers, national ids, ...).

    ``sample_rows`` rows are sampled; a column is flagged when at least ``threshold`` of its
    sampled non-missing values match one of ``kinds``. ``columns`` limits the scan (default:
    every column). A flagged column makes the check ``status`` (``warn`` by default: the
    recognition is by pattern).
    """

    expect: Literal["no_personal_data"]
    columns: list[Name] = Field(default_factory=list)
    kinds: list[PersonalDataKind] = Field(
        default_factory=lambda: list(PERSONAL_DATA_KINDS), min_length=1
    )
    threshold: float = Field(default=0.5, gt=0, le=1)
    sample_rows: int = Field(default=1000, ge=1)
    status: Literal["warn", "fail"] = "warn"

    @field_validator("columns", "kinds")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        unique(value)
        return value


DataExpectation = Annotated[
    NoNulls | Between | InSet | Unique | Regex | RowCount | SchemaMatchesTraining | NoPersonalData,
    Field(discriminator="expect"),
]
"""One data expectation; ``expect`` names its kind."""
