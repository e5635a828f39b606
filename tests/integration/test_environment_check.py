"""The runtime environment check: load_model and a live gateway compare the running packages
with the version's recorded environment; a mismatch warns (shown in /ready and the metrics) or
refuses, per the policy's environment section."""

from __future__ import annotations

import os
import subprocess
import time
import warnings
from importlib import metadata
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sklearn.linear_model import LogisticRegression
from tests.integration.test_lifecycle import POLICY, Team
from tests.integration.test_serving_gateway import GOVML, free_port, serve

import govml
from govml.domain.environment import mismatches
from govml.services.environment_check import (
    EnvironmentMismatchError,
    EnvironmentMismatchWarning,
)

SKLEARN = metadata.version("scikit-learn")
NUMPY = metadata.version("numpy")


def test_comparison_precision_aliases_and_absent_packages() -> None:
    recorded = {"scikit-learn": "1.9.0", "numpy": "2.4.6", "xgboost-cpu": "3.2.0", "gone": "1.0"}
    running = {
        "scikit-learn": "1.9.1",
        "numpy": "2.4.6",
        "xgboost": None,
        "xgboost-cpu": "3.1.0",
        "gone": None,
    }
    packages = ["scikit-learn", "numpy", "xgboost", "gone", "never-recorded"]
    exact = mismatches(recorded=recorded, running=running, packages=packages, match="exact")
    assert [(m.package, m.running) for m in exact] == [
        ("scikit-learn", "1.9.1"),
        ("xgboost-cpu", "3.1.0"),
        ("gone", None),
    ]
    minor = mismatches(recorded=recorded, running=running, packages=packages, match="minor")
    assert [m.package for m in minor] == ["xgboost-cpu", "gone"]
    major = mismatches(recorded=recorded, running=running, packages=packages, match="major")
    assert [m.package for m in major] == ["gone"]
    assert str(major[0]) == "gone not installed (registered with 1.0)"


def _team(tmp_path: Path, environment: str = "") -> Team:
    home = tmp_path / "home"
    home.mkdir()
    url = f"sqlite:///{home / 'govml.db'}"
    govml.connect(home, database_url=url, user="alice", create=True).close()
    team = Team(url, home, tmp_path)
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(accuracy_min=0.0) + environment, encoding="utf-8")
    team["alice"].apply_policy(policy)
    team["bob"].create_model("credit", risk_tier="high", description="d", intended_use="u")
    return team


def _register(team: Team, sklearn_version: str) -> str:
    frame = pd.read_csv(team.data)
    model = LogisticRegression().fit(frame[["x1", "x2"]], frame["y"])
    environment = {
        "python": "3.11.7",
        "implementation": "CPython",
        "platform": "Linux",
        "packages": {"scikit-learn": sklearn_version, "numpy": NUMPY, "scipy": "1.17.1"},
    }
    version = team["bob"].register_version(
        "credit", model=model, train_data=frame, target="y", environment=environment
    )
    return version.ref


def _promote(team: Team, ref: str) -> None:
    team.evaluate(ref)
    team.approve_twice(ref)
    team["frank"].promote(ref, to="staging")
    team["frank"].promote(ref, to="production")


def test_load_model_warns_or_refuses_per_policy(tmp_path: Path) -> None:
    team = _team(tmp_path)
    try:
        same = _register(team, SKLEARN)
        old = _register(team, "0.24.2")
        with warnings.catch_warnings():
            warnings.simplefilter("error", EnvironmentMismatchWarning)
            team["bob"].load_model(same)
        with pytest.warns(EnvironmentMismatchWarning) as caught:
            loaded = team["bob"].load_model(old)
        assert f"scikit-learn {SKLEARN} (registered with 0.24.2)" in str(caught[0].message)
        assert loaded.predict(np.zeros((1, 2))).shape == (1,)
        refuse = tmp_path / "refuse.yaml"
        refuse.write_text(
            POLICY.format(accuracy_min=0.0) + "environment: {mismatch: refuse}\n", encoding="utf-8"
        )
        team["alice"].apply_policy(refuse, replace=True)
        with pytest.raises(EnvironmentMismatchError) as refused:
            team["bob"].load_model(old)
        assert "credit@2 runs in an environment that differs" in refused.value.diagnostics()
        assert "environment.mismatch: refuse" in refused.value.diagnostics()
        team["bob"].load_model(same)
        # Looser matching accepts a patch-level difference only.
        major = tmp_path / "major.yaml"
        major.write_text(
            POLICY.format(accuracy_min=0.0) + "environment: {mismatch: refuse, match: major}\n",
            encoding="utf-8",
        )
        team["alice"].apply_policy(major, replace=True)
        with pytest.raises(EnvironmentMismatchError):
            team["bob"].load_model(old)  # 0.24 against 1.9: another major version
    finally:
        team.close()


def _not_ready_reasons(team: Team, tmp_path: Path) -> str:
    """Start `govml serve credit`; return the reasons of its first 503 /ready answer."""
    port = free_port()
    env = {
        **os.environ,
        "GOVML_HOME": str(team.home),
        "GOVML_DATABASE_URL": team.db_url,
        "GOVML_USER": "gateway",
    }
    env.pop("GOVML_SERVER", None)
    command = [GOVML, "serve", "credit", "--port", str(port), "--log-dir", str(tmp_path / "log2")]
    with (tmp_path / "refusing.out").open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/ready", timeout=2)
                if answer.status_code == 503:
                    return " ".join(answer.json()["reasons"])
                pytest.fail(f"/ready answered {answer.status_code}: {answer.text}")
            except httpx.TransportError:
                time.sleep(0.2)
        pytest.fail("the gateway did not answer /ready")
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_gateway_shows_a_tolerated_mismatch_and_refuses_a_refused_one(tmp_path: Path) -> None:
    team = _team(tmp_path)
    try:
        ref = _register(team, "0.24.2")
        _promote(team, ref)
        with serve(team.db_url, team.home, tmp_path) as served:
            ready = httpx.get(f"{served.url}/ready", timeout=10).json()
            (section,) = ready["environment"]
            assert section["version"] == "credit@1" and section["action"] == "warn"
            assert {"package": "scikit-learn", "recorded": "0.24.2", "running": SKLEARN} in section[
                "mismatches"
            ]
            text = httpx.get(f"{served.url}/metrics", headers=served.headers, timeout=10).text
            samples = [
                s
                for family in text_string_to_metric_families(text)
                if family.name == "govml_gateway_environment_mismatch"
                for s in family.samples
            ]
            assert [(s.labels["package"], s.labels["recorded"], s.value) for s in samples] == [
                ("scikit-learn", "0.24.2", 1.0)
            ]
        refuse = tmp_path / "refuse.yaml"
        refuse.write_text(
            POLICY.format(accuracy_min=0.0) + "environment: {mismatch: refuse}\n", encoding="utf-8"
        )
        team["alice"].apply_policy(refuse, replace=True)
        reasons = _not_ready_reasons(team, tmp_path)
        assert "differs from its registration" in reasons, reasons
        assert "environment.mismatch: refuse" in reasons, reasons
    finally:
        team.close()
