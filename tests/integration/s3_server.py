"""An S3-compatible server on loopback for the tests: moto's standalone server, a real process.

The server speaks the S3 REST protocol over HTTP on 127.0.0.1; govml talks to it with boto3
exactly as it would to MinIO or AWS, configured by the standard variables
(``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``).
Nothing is mocked in the process under test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "govml-test",
    "AWS_SECRET_ACCESS_KEY": "govml-test-secret",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _program() -> list[str]:
    found = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("moto's server is not installed (pip install 'moto[server]')")
    return [found]


@contextmanager
def s3_server() -> Iterator[str]:
    """Start the server on a free loopback port; yield its endpoint URL; stop it."""
    port = _free_port()
    process = subprocess.Popen(
        [*_program(), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("moto's S3 server did not start")
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def aws_environment(endpoint: str) -> dict[str, str]:
    """Return the variables that point boto3 (and govml) at the test server."""
    return {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}


@contextmanager
def aws_env(endpoint: str) -> Iterator[None]:
    """Set the AWS variables for the duration, restoring what was there."""
    saved = {k: os.environ.get(k) for k in (*CREDENTIALS, "AWS_ENDPOINT_URL")}
    os.environ.update(aws_environment(endpoint))
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def make_bucket(name: str) -> None:
    """Create bucket ``name`` on the server the environment points to."""
    from govml.store.s3_client import s3_client

    s3_client().create_bucket(Bucket=name)
