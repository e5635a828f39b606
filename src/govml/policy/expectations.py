"""Data expectations: what the evaluation data must look like, one kind per ``expect``."""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self, get_args

from pydantic import Field, field_validator, model_validator

from govml.policy import messages as msg
from govml.policy._base import Name, PolicyModel, Scalar, unique
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


class Between(PolicyModel):
    """Every non-missing value of a numeric column lies in ``[min, max]``."""

    expect: Literal["between"]
    column: Name
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min is None and self.max is None:
            raise FieldProblems.at((), msg.ERR_NO_BOUND.format(choices="min, max or both"))
        if self.min is not None and self.max is not None and self.min > self.max:
            low, high = format_number(self.min), format_number(self.max)
            raise FieldProblems.at(("max",), msg.ERR_MIN_ABOVE_MAX.format(low=low, high=high))
        return self


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
    """The columns and types equal those of the version's training data fingerprint.

    ``allow_extra_columns`` tolerates columns the training data did not have (an id, the
    prediction); ``check_types`` compares the column types as well as the names.
    """

    expect: Literal["schema_matches_training"]
    allow_extra_columns: bool = False
    check_types: bool = True


class NoPersonalData(PolicyModel):
    """No column looks like personal data (emails, phone numbers, national ids, ...).

    A column counts as personal data when at least ``min_match_share`` of its non-missing
    values match the pattern of one of ``kinds``. ``columns`` limits the scan (default:
    every text column).
    """

    expect: Literal["no_personal_data"]
    columns: list[Name] = Field(default_factory=list)
    kinds: list[PersonalDataKind] = Field(
        default_factory=lambda: list(PERSONAL_DATA_KINDS), min_length=1
    )
    min_match_share: float = Field(default=0.1, gt=0, le=1)

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
