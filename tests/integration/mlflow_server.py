"""A real MLflow tracking server (``mlflow server``, SQLite backend, proxied artifacts) on
loopback, for the MLflow bridge's tests: one per test module, started by a module-scoped
fixture (starting one costs about 30 s), and the CLI as those tests run it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from govml.cli.main import invoke


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def mlflow_server(folder: Path) -> Iterator[str]:
    """Run ``mlflow server`` with its store and artifacts in ``folder``; yield its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = folder / "server.log"
    mlflow_bin = shutil.which("mlflow", path=str(Path(sys.executable).parent))
    assert mlflow_bin is not None
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                mlflow_bin,
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--backend-store-uri",
                f"sqlite:///{folder / 'mlflow.db'}",
                "--artifacts-destination",
                str(folder / "artifacts"),
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=folder,
            # Without its job runner: eight more processes, each importing MLflow, for jobs
            # the bridge never asks for.
            env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            start_new_session=True,
        )
    try:
        _wait_healthy(url, process, log)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 240  # the server imports a lot on a busy machine
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail("mlflow server exited:\n" + log.read_text(errors="replace")[-3000:])
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail("mlflow server did not start:\n" + log.read_text(errors="replace")[-3000:])


def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, user: str, *args: str
) -> tuple[int, str, str]:
    """Run the govml CLI in-process as ``user``; return its exit code, stdout and stderr."""
    monkeypatch.setenv("GOVML_USER", user)
    capsys.readouterr()
    code = invoke(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def explicit_tracking_uri() -> str | None:
    """The tracking URI set by ``mlflow.set_tracking_uri`` in this process, or None.

    ``mlflow.get_tracking_uri()`` answers the resolved default instead; setting that back
    after a block would pin it (and export it as MLFLOW_TRACKING_URI to every process started
    later), where setting None back restores MLflow's own default.
    """
    from mlflow.tracking._tracking_service import utils

    explicit: str | None = utils._tracking_uri
    return explicit


def pinned(*distributions: str) -> list[str]:
    """Pip requirements pinned to the installed versions, for ``log_model``: given, MLflow does
    not infer them by loading the model in a subprocess (seconds a model, and it would run a
    custom model's code on the logging side)."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in distributions]
