"""The policy's reason_codes, oversight and retention sections."""

from __future__ import annotations

from textwrap import dedent

import pytest

from govml.policy import Policy, parse_policy
from govml.policy.diagnostics import InvalidPolicyError

HEAD = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: decisions}
tiers: [high]
performance:
  - {metric: accuracy, min: 0.5}
"""


def _parse(body: str) -> Policy:
    return parse_policy(HEAD + dedent(body), source="p.yaml").policy


def test_sections_read_as_written_and_absent_ones_keep_the_digest() -> None:
    bare = parse_policy(HEAD, source="p.yaml").policy
    policy = _parse(
        """
        reason_codes:
          adverse_outcome: 0
          codes:
            - {feature: x1, code: X1, text: Factor one, adverse: Factor one too low}
        oversight:
          refer: {score_between: [0.4, 0.6], out_of_range: true, drift: alert}
          reviewers: [reviewer]
          when_suspended: unavailable
        retention: {days: 400, subject_key: [customer], pseudonymise: [customer]}
        """
    )
    assert policy.reason_codes is not None
    assert policy.oversight is not None and policy.oversight.refer is not None
    assert policy.retention is not None
    assert policy.reason_codes.by_feature()["x1"].adverse == "Factor one too low"
    assert policy.oversight.refer.score_between == [0.4, 0.6]
    assert policy.oversight.reviewers == ["reviewer"]
    assert policy.retention.days == 400
    assert "oversight" not in bare.document()
    assert policy.digest() != bare.digest()
    default = _parse("oversight: {refer: {out_of_range: true}}")
    assert default.oversight is not None
    assert default.oversight.reviewers == ["approver", "risk_officer"]
    assert default.oversight.when_suspended == "refer"


@pytest.mark.parametrize(
    ("body", "where", "message"),
    [
        (
            "oversight: {refer: {score_between: [0.6, 0.4]}}",
            "oversight.refer.score_between",
            "lower bound must be below",
        ),
        ("oversight: {refer: {}}", "oversight.refer", "refers nothing"),
        ("oversight: {reviewers: [deployer]}", "oversight.reviewers[0]", "deployer"),
        ("retention: {days: 0}", "retention.days", "at least 1"),
        (
            "reason_codes: {codes: [{feature: a, code: C, text: t},"
            " {feature: a, code: D, text: u}]}",
            "reason_codes.codes[1].feature",
            "has a reason code already",
        ),
    ],
)
def test_bad_sections_name_the_field(body: str, where: str, message: str) -> None:
    with pytest.raises(InvalidPolicyError) as info:
        _parse(body)
    text = str(info.value) + " ".join(str(e) for e in getattr(info.value, "errors", []))
    assert where in text
    assert message in text
