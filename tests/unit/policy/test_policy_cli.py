"""``govml policy validate``: no store needed, exit 0 or 2, every problem on its own line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from govml.cli.main import invoke

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "policies" / "credit-high-risk.yaml"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = invoke(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "apiVersion: govml/v1\nkind: Policy\nmetadata: {name: p}\ntiers: [hihg]\n"
        "performance:\n  - {metric: acuracy, min: 0.8}\n",
        encoding="utf-8",
    )
    return path


def test_a_valid_policy(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(
        capsys, "--store", str(tmp_path / "none"), "policy", "validate", str(EXAMPLE)
    )
    assert code == 0 and err == ""
    assert "policy credit-high-risk is valid (sha256:" in out
    assert not (tmp_path / "none").exists()  # validation never opens a store


def test_a_valid_policy_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "policy", "validate", str(EXAMPLE), "--json")
    data = json.loads(out)
    assert code == 0
    assert (
        data["valid"] is True and data["name"] == "credit-high-risk" and data["tiers"] == ["high"]
    )
    assert data["problems"] == [] and data["notes"] == []


def test_an_invalid_policy_prints_every_problem(
    capsys: pytest.CaptureFixture[str], bad: Path
) -> None:
    code, out, err = run(capsys, "policy", "validate", str(bad))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert lines == [
        f"error: {bad}:4:9: tiers[0]: 'hihg' is not one of minimal, limited, high, unacceptable "
        "— did you mean 'high'?",
        f"error: {bad}:6:14: performance[0].metric: unknown metric 'acuracy' — did you mean "
        "'accuracy'?",
        f"{bad} is not a valid policy (2 problems)",
    ]


def test_an_invalid_policy_as_json(capsys: pytest.CaptureFixture[str], bad: Path) -> None:
    code, out, _ = run(capsys, "policy", "validate", str(bad), "--json")
    data = json.loads(out)
    assert code == 2 and data["valid"] is False
    assert [(p["line"], p["column"], p["path"]) for p in data["problems"]] == [
        (4, 9, "tiers[0]"),
        (6, 14, "performance[0].metric"),
    ]


def test_notes_are_printed_after_a_valid_result(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "banned.yaml"
    path.write_text(
        "apiVersion: govml/v1\nkind: Policy\nmetadata: {name: banned}\ntiers: [unacceptable]\n",
        encoding="utf-8",
    )
    code, out, _ = run(capsys, "policy", "validate", str(path))
    assert code == 0
    assert f"{path}:4:8: note: tiers: models in tier 'unacceptable' can never reach" in out


def test_a_missing_file_is_an_input_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "policy", "validate", "nowhere.yaml")
    assert code == 2 and "policy file nowhere.yaml does not exist" in err
