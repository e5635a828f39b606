"""Reliability: concurrent promoters, and processes killed in the middle of a change.

Each scenario runs real processes (``python -c``) against the same store, on SQLite and on
the PostgreSQL server, and then asks `govml audit verify` whether the tables and the ledger
still agree.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.test_lifecycle import Team

PROMOTERS = 8

_PROMOTE = textwrap.dedent(
    """
    import sys, govml
    from govml.errors import AlreadyExistsError
    home, url, version = sys.argv[1], sys.argv[2], sys.argv[3]
    with govml.connect(home, database_url=url, user="frank") as client:
        for _ in range(3):
            try:
                client.promote(f"credit@{version}", to="production", reason=f"worker {version}")
                print("promoted", flush=True)
            except AlreadyExistsError:
                print("holds it", flush=True)
    """
)

_CHURN = textwrap.dedent(
    """
    import sys, govml, itertools
    import numpy as np, pandas as pd
    from sklearn.linear_model import LogisticRegression
    home, url = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=200), "x2": rng.normal(size=200)})
    frame["y"] = (frame.x1 > 0).astype("int64")
    model = LogisticRegression().fit(frame[["x1", "x2"]], frame["y"])
    bob = govml.connect(home, database_url=url, user="bob")
    frank = govml.connect(home, database_url=url, user="frank")
    print("ready", flush=True)
    for i in itertools.count():
        bob.register_version("credit", model=model, train_data=frame, target="y")
        frank.promote(f"credit@{1 + i % 2}", to="staging", reason=f"round {i}")
        print("round", i, flush=True)
    """
)


def _env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.fixture
def ready(db_url: str, home: Path, tmp_path: Path) -> Iterator[Team]:
    """Two versions of credit, each evaluated and approved: both may take any alias."""
    team = Team(db_url, home, tmp_path)
    team["alice"].apply_policy(team.policy())
    yield team
    team.close()


def test_concurrent_promoters_leave_one_production_version(ready: Team) -> None:
    refs = [ready.register() for _ in range(PROMOTERS)]
    for ref in refs:
        ready.evaluate(ref)
        ready.approve_twice(ref)
        ready["frank"].promote(ref, to="staging")  # production needs staging first
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", _PROMOTE, str(ready.home), ready.db_url, str(n + 1)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for n in range(PROMOTERS)
    ]
    outputs = [worker.communicate(timeout=240) for worker in workers]
    for worker, (_out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    promoted = sum(out.count("promoted") for out, _ in outputs)
    frank = ready["frank"]
    history = frank.alias_history("credit", alias="production")
    assert len(history) == promoted >= PROMOTERS
    holder = frank.get_model("credit").aliases["production"]
    assert history[-1].version == holder
    # Each change names the holder before it: the history is one chain, nothing interleaved.
    for before, after in itertools.pairwise(history):
        assert after.previous == before.version
    result = frank.verify_ledger()
    assert result.alias_changes == promoted + PROMOTERS  # and one staging promotion each


@pytest.mark.parametrize("attempt", range(4))
def test_a_killed_process_leaves_no_partial_state(ready: Team, attempt: int) -> None:
    refs = [ready.register() for _ in range(2)]
    for ref in refs:
        ready.evaluate(ref)
    rng = random.Random(attempt)
    worker = subprocess.Popen(
        [sys.executable, "-c", _CHURN, str(ready.home), ready.db_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready", worker.stderr.read()  # type: ignore[union-attr]
        worker.stdout.readline()  # at least one round done: the loop is warm
        time.sleep(rng.uniform(0.05, 0.6))
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    frank = ready["frank"]
    result = frank.verify_ledger()  # raises, naming the first mismatch, on any partial state
    versions = frank.list_versions("credit")
    assert result.versions == len(versions) >= 3
    assert [v.version for v in versions] == list(range(1, len(versions) + 1))
    history = frank.alias_history("credit", alias="staging")
    assert frank.get_model("credit").aliases["staging"] == history[-1].version
    # The store is still writable: nothing is left locked by the killed process.
    ready.register()
