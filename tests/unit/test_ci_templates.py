"""The CI templates in examples/ci parse, call `govml evaluate` correctly, and keep reports."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from govml.settings import Settings

CI = Path(__file__).resolve().parents[2] / "examples" / "ci"
GITHUB = CI / "github-actions.yml"
GITLAB = CI / "gitlab-ci.yml"
EVALUATE_OPTIONS = frozenset(
    {
        "--policy",
        "--data",
        "--target",
        "--sensitive",
        "--prediction-column",
        "--score-column",
        "--pos-label",
        "--label",
        "--report",
        "--json",
        "--n-boot",
        "--seed",
    }
)
REPORT_FILES = {"govml-report.html", "govml-evaluation.json"}


def _load(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _github_jobs() -> dict[str, Any]:
    return _load(GITHUB)["jobs"]


def _gitlab_jobs() -> dict[str, Any]:
    return {
        name: job
        for name, job in _load(GITLAB).items()
        if isinstance(job, dict) and not name.startswith(".") and "script" in job
    }


def _shell_commands(text: str) -> list[str]:
    """Split a shell snippet into commands, joining backslash-continued lines."""
    return [line.strip() for line in text.replace("\\\n", " ").splitlines() if line.strip()]


def _evaluate_commands() -> dict[str, list[str]]:
    """Every `govml evaluate` command run by the templates, per file."""
    found: dict[str, list[str]] = {GITHUB.name: [], GITLAB.name: []}
    for job in _github_jobs().values():
        for step in job["steps"]:
            for command in _shell_commands(step.get("run", "")):
                if command.startswith("govml evaluate"):
                    found[GITHUB.name].append(command)
    for job in _gitlab_jobs().values():
        for line in job["script"]:
            for command in _shell_commands(line):
                if command.startswith("govml evaluate"):
                    found[GITLAB.name].append(command)
    return found


def _options(command: str) -> list[str]:
    words = shlex.split(command.split(" > ", 1)[0])
    return [word.split("=", 1)[0] for word in words if word.startswith("--")]


def test_both_templates_parse_as_yaml() -> None:
    github = _load(GITHUB)
    # PyYAML reads the bare key `on` as the boolean True (YAML 1.1).
    trigger = github.get("on", github.get(True))
    assert trigger is not None and "pull_request" in trigger
    gitlab = _load(GITLAB)
    assert gitlab["stages"] == ["governance"]


@pytest.mark.parametrize("name", [GITHUB.name, GITLAB.name])
def test_evaluate_uses_only_supported_options(name: str) -> None:
    commands = _evaluate_commands()[name]
    assert len(commands) == 2, commands  # the model gate and the vendor audit
    for command in commands:
        options = _options(command)
        assert set(options) <= EVALUATE_OPTIONS, set(options) - EVALUATE_OPTIONS
        assert {"--policy", "--data", "--target", "--report", "--json"} <= set(options)
        assert "|| true" not in command, "the gate's exit code must reach the job"


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=lambda path: path.name)
def test_commented_evaluate_lines_use_only_supported_options(path: Path) -> None:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#") and "govml evaluate" in line:
            assert set(re.findall(r"--[a-z][a-z-]*", line)) <= EVALUATE_OPTIONS, line


@pytest.mark.parametrize("name", [GITHUB.name, GITLAB.name])
def test_both_modes_are_shown(name: str) -> None:
    gate, vendor = _evaluate_commands()[name]
    assert shlex.split(gate)[2] == "$MODEL@$VERSION"
    assert "--sensitive sex,race" in gate
    assert "--label" not in gate
    assert shlex.split(vendor)[2] == "--label"
    assert {"--prediction-column", "--score-column"} <= set(_options(vendor))


def test_github_uploads_the_report_even_when_the_gate_fails() -> None:
    job = _github_jobs()["governance"]
    steps = job["steps"]
    names = [step.get("name", "") for step in steps]
    gate = next(i for i, step in enumerate(steps) if "govml evaluate" in step.get("run", ""))
    upload = next(
        i for i, step in enumerate(steps) if str(step.get("uses", "")).startswith("actions/upload")
    )
    assert upload > gate, names
    assert steps[upload]["if"] == "always()"
    assert set(steps[upload]["with"]["path"].split()) == REPORT_FILES
    assert not steps[gate].get("continue-on-error", False)
    assert not job.get("continue-on-error", False)


def test_gitlab_keeps_the_report_even_when_the_gate_fails() -> None:
    config = _load(GITLAB)
    base = config[".govml"]
    assert base["stage"] == "governance"
    assert any("merge_request_event" in rule["if"] for rule in base["rules"])
    job = _gitlab_jobs()["governance-gate"]
    assert job["extends"] == ".govml"
    assert job["artifacts"]["when"] == "always"
    assert set(job["artifacts"]["paths"]) == REPORT_FILES
    assert job["artifacts"]["expose_as"]
    assert not job.get("allow_failure", False)


@pytest.mark.parametrize("path", [GITHUB, GITLAB], ids=lambda path: path.name)
def test_exit_codes_and_registry_settings_are_documented(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert re.search(r"#\s+0\s+every rule passes", text)
    assert re.search(r"#\s+1\s+a rule fails", text)
    assert re.search(r"#\s+2\s+input or usage error", text)
    for setting in ("database_url", "artifacts"):
        assert setting in Settings.model_fields
        assert f"GOVML_{setting.upper()}" in text


def test_github_reads_the_registry_from_secrets() -> None:
    env = _load(GITHUB)["env"]
    assert env["GOVML_DATABASE_URL"] == "${{ secrets.GOVML_DATABASE_URL }}"
    assert env["GOVML_ARTIFACTS"] == "${{ secrets.GOVML_ARTIFACTS }}"
