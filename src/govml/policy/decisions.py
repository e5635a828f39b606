"""The policy's sections about individual decisions: reason codes, oversight, retention.

``reason_codes``
    Human text for each input feature that can explain a decision, with the wording an
    adverse-action notice uses when the feature counted against the person (ECOA /
    Regulation B, GDPR Art. 22, EU AI Act Art. 86). The features are checked against the
    served version's signature when the gateway loads it.
``oversight``
    When the gateway refers a record to a person instead of answering (EU AI Act Art. 14):
    a band of scores, inputs outside the training profile, a drift alert; who may decide a
    referred case; and what a suspended model answers.
``retention``
    How long the prediction log keeps records, which columns identify a data subject (for
    erasure) and which are pseudonymised (keyed HMAC) when written.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from govml.policy._base import Name, PolicyModel, Scalar, unique
from govml.policy.diagnostics import FieldProblems, Path

ReviewerRole = Literal["approver", "risk_officer", "reviewer"]
DriftState = Literal["warn", "alert"]
Suspension = Literal["refer", "unavailable"]

ERR_BAND = "the band's lower bound must be below its upper bound"
ERR_NO_TRIGGER = "oversight refers nothing: give score_between, out_of_range or drift"
ERR_DUPLICATE_FEATURE = "feature {name!r} has a reason code already"
ERR_DUPLICATE_CODE = "code {code!r} is given to two features"


class ReasonCode(PolicyModel):
    """What one feature means to the person a decision is about.

    ``text`` names the factor in plain words ("Length of credit history"); ``adverse`` is
    the principal-reason wording used when the feature pushed the decision toward the
    adverse outcome ("Credit history too short"); ``favourable`` the wording when it pushed
    the other way (defaults to ``text``).
    """

    feature: Name
    code: Name
    text: Name
    adverse: Name | None = None
    favourable: Name | None = None


class ReasonCodes(PolicyModel):
    """Reason codes per feature, and which decision is the adverse one.

    ``adverse_outcome`` is the class that refuses the person (the negative class); when not
    given it is the first of the model's classes (``0``, ``False`` or the first label).
    """

    adverse_outcome: Scalar | None = None
    codes: list[ReasonCode] = Field(min_length=1)

    @field_validator("codes")
    @classmethod
    def _distinct(cls, value: list[ReasonCode]) -> list[ReasonCode]:
        problems: list[tuple[Path, str]] = []
        features: set[str] = set()
        codes: set[str] = set()
        for index, item in enumerate(value):
            if item.feature in features:
                problems.append(
                    ((index, "feature"), ERR_DUPLICATE_FEATURE.format(name=item.feature))
                )
            if item.code in codes:
                problems.append(((index, "code"), ERR_DUPLICATE_CODE.format(code=item.code)))
            features.add(item.feature)
            codes.add(item.code)
        if problems:
            raise FieldProblems(problems)
        return value

    def by_feature(self) -> dict[str, ReasonCode]:
        """Return the codes keyed by feature."""
        return {item.feature: item for item in self.codes}


class Referral(PolicyModel):
    """What makes the gateway refer a record to a person.

    ``score_between`` is a closed band on the probability of the favourable class (the
    class that is not ``reason_codes.adverse_outcome``; for a binary model without reason
    codes, the second class); ``out_of_range`` refers a record with any input outside the
    training profile; ``drift`` refers every record while the model's latest monitoring run
    is at that state or worse.
    """

    score_between: list[float] | None = Field(default=None, min_length=2, max_length=2)
    out_of_range: bool = False
    drift: DriftState | None = None

    @field_validator("score_between")
    @classmethod
    def _band(cls, value: list[float] | None) -> list[float] | None:
        if value is not None:
            low, high = value
            if not 0 <= low < high <= 1:
                raise FieldProblems.at((), ERR_BAND)
        return value

    @model_validator(mode="after")
    def _something(self) -> Self:
        if self.score_between is None and not self.out_of_range and self.drift is None:
            raise FieldProblems.at((), ERR_NO_TRIGGER)
        return self


def _default_reviewers() -> list[ReviewerRole]:
    return ["approver", "risk_officer"]


class Oversight(PolicyModel):
    """Human oversight of the serving path.

    ``reviewers`` are the roles that may decide a referred case or override a decision
    (anyone holding one; an administrator is not a reviewer unless given the role);
    ``when_suspended`` is what a suspended model answers: ``refer`` (every record waits for
    a person) or ``unavailable`` (503 with the documented fallback).
    """

    refer: Referral | None = None
    reviewers: list[ReviewerRole] = Field(default_factory=_default_reviewers)
    when_suspended: Suspension = "refer"

    @field_validator("reviewers")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        unique(value)
        return value


class Retention(PolicyModel):
    """How the prediction log keeps personal data.

    ``days``: whole date partitions older than this are removed by ``govml log purge`` (and
    by ``govml monitor --every``). ``subject_key``: the input columns that identify a data
    subject, for ``govml log erase``. ``pseudonymise``: input columns written to the log as
    ``hmac-sha256:<hex>`` under the key in ``GOVML_LOG_PSEUDONYM_KEY`` (never stored in the
    log or the store).
    """

    days: int | None = Field(default=None, ge=1)
    subject_key: list[Name] = Field(default_factory=list)
    pseudonymise: list[Name] = Field(default_factory=list)

    @field_validator("subject_key", "pseudonymise")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        unique(value)
        return value
