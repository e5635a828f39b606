"""monitoring.serving, revalidation and environment: validation, errors by field, digests."""

from __future__ import annotations

from datetime import timedelta

import pytest

from govml.policy import parse_policy
from govml.policy.diagnostics import InvalidPolicyError
from govml.policy.operations import parse_duration

BASE = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: ops}
tiers: [high]
performance:
  - {metric: accuracy, min: 0.5}
"""


def test_sections_absent_leave_the_document_and_digest_alone() -> None:
    loaded = parse_policy(BASE)
    document = loaded.policy.document()
    assert "revalidation" not in document and "environment" not in document
    with_monitoring = parse_policy(BASE + "monitoring: {window: 1d}\n").policy.document()
    assert "serving" not in with_monitoring["monitoring"]


def test_sections_parse() -> None:
    text = BASE + (
        "monitoring:\n  serving: {p99_ms: 200, error_rate: 0.01}\n"
        "revalidation: {every: 365d, warn_before: 30d}\n"
        "environment: {mismatch: refuse}\n"
    )
    policy = parse_policy(text).policy
    assert policy.monitoring is not None and policy.monitoring.serving is not None
    assert policy.monitoring.serving.percentiles() == [(0.99, 0.2)]
    assert policy.revalidation is not None
    assert policy.revalidation.period == timedelta(days=365)
    assert policy.revalidation.warning == timedelta(days=30)
    assert policy.environment is not None and policy.environment.mismatch == "refuse"
    assert policy.document()["revalidation"]["every"] == "365d"


@pytest.mark.parametrize(
    ("section", "line", "needle"),
    [
        ("monitoring:\n  serving: {}\n", 8, "at least one of p50_ms"),
        ("monitoring:\n  serving: {p50_ms: 300, p99_ms: 200}\n", 8, "p99_ms (200.0 ms) is below"),
        ("monitoring:\n  serving: {error_rate: 2}\n", 8, "must be at most 1, got 2"),
        ("revalidation: {every: 1year}\n", 7, "'1year' is not a duration"),
        ("revalidation: {every: 30d, warn_before: 60d}\n", 7, "must be shorter than every"),
        ("environment: {mismatch: explode}\n", 7, "warn"),
    ],
)
def test_bad_sections_name_line_and_field(section: str, line: int, needle: str) -> None:
    with pytest.raises(InvalidPolicyError) as caught:
        parse_policy(BASE + section, source="ops.yaml")
    text = caught.value.diagnostics()
    assert needle in text, text
    assert f"ops.yaml:{line}" in text, text


def test_parse_duration() -> None:
    assert parse_duration("36h") == timedelta(hours=36)
    assert parse_duration("2w") == timedelta(days=14)
    for bad in ("0d", "d", "1y", "-3d", "1.5d"):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(bad)
