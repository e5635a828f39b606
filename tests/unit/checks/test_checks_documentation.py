"""Required model-card fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from govml.checks import DOCUMENTATION_FIELDS, documentation_check
from govml.domain.records import DatasetRef, Model, ModelVersion, RiskTier
from govml.errors import InputError

WHEN = datetime(2024, 5, 1, tzinfo=UTC)


def _model(**changes: object) -> Model:
    fields: dict[str, object] = {
        "name": "credit",
        "owner": "risk-team",
        "risk_tier": RiskTier.HIGH,
        "intended_use": "Pre-screening of credit applications with human review.",
        "out_of_scope_use": "",
        "description": "  ",
        "tags": {"limitations": "Trained on 1994 census data only."},
        "created_at": WHEN,
        "created_by": "alice",
    }
    fields.update(changes)
    return Model(**fields)


def _version(**changes: object) -> ModelVersion:
    fields: dict[str, object] = {
        "model": "credit",
        "version": 1,
        "artifact_digest": "sha256:" + "a" * 64,
        "artifact_size": 1,
        "flavor": "sklearn",
        "flavor_options": {},
        "signature": None,
        "datasets": (
            DatasetRef(role="train", digest="sha256:" + "b" * 64, row_count=9, columns=3),
        ),
        "code": {"git_commit": "abc123"},
        "environment": {"packages": {"numpy": "2.0"}},
        "params": {},
        "metrics": {"accuracy": 0.8},
        "registrant": "bob",
        "created_at": WHEN,
    }
    fields.update(changes)
    return ModelVersion(**fields)


def test_present_and_missing_fields_are_named_with_where_they_live() -> None:
    required = [
        "intended_use",
        "limitations",
        "owner",
        "training_data",
        "out_of_scope_use",
        "description",
        "validation_data",
    ]
    result = documentation_check(_model(), _version(), required)
    assert result.status == "fail" and result.value == 3
    assert result.evidence["present"] == ["intended_use", "limitations", "owner", "training_data"]
    assert result.evidence["missing"] == ["out_of_scope_use", "description", "validation_data"]
    assert (
        "description (model.description or version.description or model card field "
        "'overview')" in result.message
    )


def test_everything_documented_passes() -> None:
    model = _model(
        out_of_scope_use="Automated rejection.",
        tags={"limitations": "x", "ethical_considerations": "y"},
    )
    version = _version(
        description="v1",
        signature={"inputs": []},
        params={"max_iter": 100},
        datasets=(
            DatasetRef(role="train", digest="sha256:" + "b" * 64, row_count=9, columns=3),
            DatasetRef(role="validation", digest="sha256:" + "c" * 64, row_count=3, columns=3),
        ),
    )
    result = documentation_check(model, version, DOCUMENTATION_FIELDS)
    assert result.status == "pass", result.message


def test_version_fields_are_missing_without_a_version() -> None:
    result = documentation_check(_model(), None, ["owner", "training_data", "metrics"])
    assert result.evidence["missing"] == ["training_data", "metrics"]


def test_unknown_fields_list_the_valid_ones_and_suggest() -> None:
    with pytest.raises(InputError) as caught:
        documentation_check(_model(), _version(), ["intended_usage", "limitation", "color"])
    error = caught.value
    assert error.message.startswith(
        "unknown documentation field(s) 'intended_usage', 'limitation', 'color'"
    )
    assert "valid fields: intended_use, out_of_scope_use" in error.message
    assert (
        error.hint
        == "intended_usage: did you mean 'intended_use'?; limitation: did you mean 'limitations'?"
    )


def test_model_card_fields_count_for_the_narrative() -> None:
    required = ["limitations", "ethical_considerations", "out_of_scope_use", "description"]
    model = _model(tags={})
    assert documentation_check(model, _version(), required).value == 4
    card = {
        "limitations": ["Trained on 1994 census data only."],
        "ethical_considerations": [{"name": "proxy bias", "mitigation_strategy": "audit"}],
        "out_of_scope_use": "Automated rejection.",
        "overview": "Scores applications.",
    }
    assert documentation_check(model, _version(), required, card).status == "pass"
    blank = {"limitations": [], "ethical_considerations": [{"name": " "}], "overview": " "}
    result = documentation_check(model, _version(), required, blank)
    assert result.evidence["missing"] == required
