"""Gateway options through the environment, and canary buckets."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from govml.errors import ConfigurationError
from govml.serving.options import GatewayOptions
from govml.serving.routing import bucket


def test_options_survive_the_environment() -> None:
    options = GatewayOptions(
        model="credit",
        alias="staging",
        log_dir=Path("/tmp/x"),
        poll_seconds=0.5,
        log_wait_ms=0,
        large_restart_seconds=2.5,
    )
    assert GatewayOptions.from_environment(options.to_environment()) == options


def test_bad_options_name_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="GOVML_SERVE_MODEL is not set"):
        GatewayOptions.from_environment({})
    env = {"GOVML_SERVE_MODEL": "credit", "GOVML_SERVE_POLL_SECONDS": "soon"}
    with pytest.raises(ConfigurationError, match="GOVML_SERVE_POLL_SECONDS: 'soon'"):
        GatewayOptions.from_environment(env)
    with pytest.raises(ConfigurationError, match="max_body_bytes must be positive"):
        GatewayOptions(model="credit", max_body_bytes=0)
    with pytest.raises(ConfigurationError, match="large_restart_seconds must be positive"):
        GatewayOptions(model="credit", large_restart_seconds=-1)
    for odd in ("nan", "inf"):
        env = {"GOVML_SERVE_MODEL": "credit", "GOVML_SERVE_LARGE_RESTART_SECONDS": odd}
        with pytest.raises(ConfigurationError, match=f"large_restart_seconds .* got {odd}"):
            GatewayOptions.from_environment(env)


def test_canary_buckets_are_stable_and_uniform() -> None:
    # BLAKE2b-64 of the key, as a fraction of 2**64: the same in every process.
    assert (
        bucket("customer-1")
        == int.from_bytes(hashlib.blake2b(b"customer-1", digest_size=8).digest(), "big") / 2**64
    )
    values = [bucket(f"c{i}") for i in range(20_000)]
    assert all(0 <= v < 1 for v in values)
    share = sum(v < 0.1 for v in values) / len(values)
    assert 0.09 < share < 0.11
