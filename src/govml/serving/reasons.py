"""From contributions to what a person is told: top features and reason codes per record.

``POST /predict?explain=k`` answers, per record, the ``k`` largest contributions (by
magnitude) and, when the policy has a ``reason_codes`` section, the principal reasons for
the decision:

* for an *adverse* decision (the class ``reason_codes.adverse_outcome``, by default the
  first class), the features that pushed the score toward it, largest first, worded as the
  policy's ``adverse`` text: what an adverse-action notice lists;
* for any other decision, the features that pushed toward it, worded as ``favourable``
  (or ``text``);
* for a regressor, the largest contributions, each said to raise or lower the prediction.

A code naming a feature the served version does not read, or an adverse outcome that is
not one of its classes, is reported (:func:`reason_code_problems`) and left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import numpy as np
from numpy.typing import NDArray

from govml.errors import did_you_mean
from govml.policy.decisions import ReasonCode, ReasonCodes
from govml.serving.explain import Contributions, DecisionExplainer
from govml.serving.payload import FieldError, PayloadError

MAX_EXPLAINED_RECORDS = 1000
ERR_EXPLAIN = "explain must be a whole number of features from 1 to {width}, got {value!r}"
ERR_EXPLAIN_RECORDS = (
    "explain takes at most {limit} records per request, got {count}; split the request"
)
ERR_UNKNOWN_FEATURE = "reason_codes: feature {feature!r} is not an input of {ref}"
ERR_UNKNOWN_OUTCOME = (
    "reason_codes: adverse_outcome {outcome!r} is not a class of {ref} ({classes})"
)


def requested_k(query: bytes, width: int) -> int | None:
    """Return ``k`` from the query string's ``explain`` (None when not asked).

    Raises
    ------
    PayloadError
        422 naming the field ``explain`` for anything but one whole number from 1 to
        ``width`` (the model's inputs).
    """
    try:
        values = parse_qs(query.decode("latin-1"), keep_blank_values=True).get("explain")
    except ValueError:
        values = None
    if not values:
        return None
    value = values[-1]
    if len(values) > 1 or not value.isdigit() or len(value) > 6 or not 1 <= int(value) <= width:
        message = ERR_EXPLAIN.format(width=width, value=value[:40])
        raise PayloadError(422, [FieldError(message, field="explain")])
    return int(value)


def check_count(count: int) -> None:
    """Refuse to explain more than `MAX_EXPLAINED_RECORDS` records in one request."""
    if count > MAX_EXPLAINED_RECORDS:
        message = ERR_EXPLAIN_RECORDS.format(limit=MAX_EXPLAINED_RECORDS, count=count)
        raise PayloadError(422, [FieldError(message, field="explain")])


def reason_code_problems(
    section: ReasonCodes | None, features: list[str], classes: list[Any] | None, ref: str
) -> list[str]:
    """Return what in ``section`` does not fit the served version (empty when all does)."""
    if section is None:
        return []
    problems = []
    for item in section.codes:
        if item.feature not in features:
            text = ERR_UNKNOWN_FEATURE.format(feature=item.feature, ref=ref)
            hint = did_you_mean(item.feature, features)
            problems.append(text if hint is None else f"{text} ({hint})")
    outcome = section.adverse_outcome
    if outcome is not None and classes is not None and _index(classes, outcome) is None:
        shown = ", ".join(str(label) for label in classes)
        problems.append(ERR_UNKNOWN_OUTCOME.format(outcome=outcome, ref=ref, classes=shown))
    return problems


@dataclass(frozen=True)
class Reasons:
    """The reason-code set-up checked against one served version."""

    codes: dict[str, ReasonCode]
    adverse: int | None  # index of the adverse class, None for a regressor

    @classmethod
    def build(
        cls, section: ReasonCodes | None, features: list[str], classes: list[Any] | None
    ) -> Reasons:
        """Keep the codes of features the version reads; find the adverse class."""
        codes = {} if section is None else section.by_feature()
        kept = {name: code for name, code in codes.items() if name in features}
        adverse: int | None = None
        if classes is not None and len(classes) >= 2:
            wanted = None if section is None else section.adverse_outcome
            adverse = 0 if wanted is None else _index(classes, wanted)
        return cls(kept, adverse)

    @property
    def coded(self) -> bool:
        """Whether the policy gives reason codes."""
        return bool(self.codes)


def _index(classes: list[Any], outcome: Any) -> int | None:
    for index, label in enumerate(classes):
        if label == outcome or str(label) == str(outcome):
            return index
    return None


def describe(
    found: Contributions,
    *,
    k: int,
    features: list[str],
    values: dict[str, list[Any]],
    predicted: NDArray[np.intp] | None,
    classes: list[Any] | None,
    reasons: Reasons,
    note: str,
) -> list[dict[str, Any]]:
    """Return one JSON-safe explanation per record."""
    out = []
    binary = classes is not None and len(classes) == 2
    for row in range(found.values.shape[0]):
        contributions = found.values[row]
        order = np.argsort(-np.abs(contributions), kind="stable")[:k]
        item: dict[str, Any] = {
            "method": found.method,
            "note": note,
            "output": found.output,
            "base_value": float(found.base[row]),
            "contributions": [
                {
                    "feature": features[j],
                    "value": values[features[j]][row],
                    "contribution": float(contributions[j]),
                }
                for j in order
            ],
        }
        if predicted is not None and reasons.adverse is not None:
            decided = int(predicted[row])
            # Toward the decided class: the output is the second class's score when binary.
            toward = contributions if not binary or decided == 1 else -contributions
            adverse = decided == reasons.adverse
            item["adverse"] = adverse
            item["reasons"] = _reasons(toward, k, features, reasons, adverse)
        elif predicted is None:
            item["reasons"] = _reasons(contributions, k, features, reasons, None)
        out.append(item)
    return out


def _reasons(
    toward: NDArray[np.float64],
    k: int,
    features: list[str],
    reasons: Reasons,
    adverse: bool | None,
) -> list[dict[str, Any]]:
    if adverse is None:  # a regressor: the largest effects either way
        order = np.argsort(-np.abs(toward), kind="stable")[:k]
    else:  # the features that pushed toward the decision, largest first
        order = np.argsort(-toward, kind="stable")[:k]
        order = order[toward[order] > 0]
    listed = []
    for j in order:
        name = features[j]
        code = reasons.codes.get(name)
        if adverse is None:
            direction = "raises" if toward[j] > 0 else "lowers"
            text = name if code is None else code.text
        else:
            direction = "toward the decision"
            wording = None if code is None else (code.adverse if adverse else code.favourable)
            text = (wording or code.text) if code is not None else name
        listed.append(
            {
                "code": None if code is None else code.code,
                "feature": name,
                "text": text,
                "direction": direction,
            }
        )
    return listed


def explain_records(
    explainer: DecisionExplainer,
    frame: Any,
    values: dict[str, list[Any]],
    predictions: NDArray[Any],
    k: int,
    section: ReasonCodes | None,
    transformed: NDArray[np.float64] | None = None,
) -> list[dict[str, Any]]:
    """Explain scored records: contributions, then the top ``k`` and their reason codes.

    ``transformed`` is the pipeline's output for the records when scoring kept it
    (`govml.serving.deployment.Scores.features`): then they are not transformed again.
    """
    classes = explainer.classes if explainer.model.has_proba else None
    predicted = None
    if classes is not None:
        position = {label: index for index, label in enumerate(classes)}
        predicted = np.asarray(
            [position.get(label, 0) for label in np.asarray(predictions).tolist()], dtype=np.intp
        )
    found = explainer.explain(frame, predicted, transformed)
    return describe(
        found,
        k=k,
        features=explainer.features,
        values=values,
        predicted=predicted,
        classes=classes,
        reasons=Reasons.build(section, explainer.features, classes),
        note=explainer.note,
    )
