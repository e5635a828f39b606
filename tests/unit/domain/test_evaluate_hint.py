"""What a reader is told to run: a command that runs, with what govml knows filled in."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime

from govml.domain.readiness import (
    EvaluationFacts,
    PolicyFacts,
    evaluate_command,
    evaluation_condition,
)
from govml.domain.records import ModelVersion

POLICY = PolicyFacts(name="gate", version=2, digest="sha256:" + "a" * 64)
VERSION = ModelVersion(
    model="credit",
    version=1,
    artifact_digest="sha256:" + "b" * 64,
    artifact_size=1,
    flavor="sklearn",
    flavor_options={},
    signature=None,
    datasets=(),
    code={},
    environment={"packages": {f"package-{i}": "1.0" for i in range(171)}},
    params={},
    metrics={},
    registrant="bob",
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
    aliases=("staging",),
)


def _stale(**inputs: str) -> EvaluationFacts:
    return EvaluationFacts(
        id=3, status="pass", policy_name="gate", policy_digest="sha256:" + "c" * 64, **inputs
    )


def _command(detail: str) -> list[str]:
    return shlex.split(detail.split("`")[1])


def test_a_stale_evaluation_says_how_to_run_it_again_with_its_data_and_target() -> None:
    condition = evaluation_condition(
        VERSION, POLICY, [_stale(data="data/eval set.csv", target="default")]
    )
    assert not condition.met and "is stale" in condition.detail
    assert _command(condition.detail) == [
        "govml",
        "evaluate",
        "credit@1",
        "--data",
        "data/eval set.csv",
        "--target",
        "default",
    ]


def test_what_is_not_known_stays_a_placeholder() -> None:
    assert _command(evaluation_condition(VERSION, POLICY, [_stale()]).detail)[-4:] == [
        "--data",
        "FILE",
        "--target",
        "COLUMN",
    ]
    never = evaluation_condition(VERSION, POLICY, [])
    assert f"`{evaluate_command('credit@1')}`" in never.detail
    assert evaluate_command("credit@1") == "govml evaluate credit@1 --data FILE --target COLUMN"


def test_a_version_prints_as_its_reference_not_its_lineage() -> None:
    shown = repr(VERSION)
    assert shown == (
        "ModelVersion('credit@1', flavor='sklearn', artifact='sha256:bbbbbbbbbbbb', "
        "aliases=('staging',))"
    )
    assert str(VERSION) == shown and "package-" not in shown
