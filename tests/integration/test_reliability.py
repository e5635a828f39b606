"""Reliability: concurrent promoters, and processes killed in the middle of a change.

Each scenario runs real processes against the same store, on SQLite and on the PostgreSQL
server, and then asks `govml audit verify` whether the tables and the ledger still agree.
The processes are forked from a multiprocessing fork server that has imported govml,
scikit-learn and pandas once: each is a process of its own, with its own connections, killed
with SIGKILL like any other, without paying those imports again (a second or more each).
"""

from __future__ import annotations

import itertools
import multiprocessing
import random
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest
from tests.integration.test_lifecycle import Team

PROMOTERS = 8

# What the processes import to connect, promote and register a scikit-learn model.
_PRELOAD = [
    "govml.client",
    "govml.services.lifecycle",
    "govml.services.registry",
    "govml.store.db",
    "govml.flavors.sklearn",
    "pandas",
    "sklearn.linear_model",
]


def _processes() -> Any:
    """The fork server's context (started once per pytest process, with `_PRELOAD`)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    return context


def _promote(home: str, url: str, version: int, said: Connection) -> None:
    """Promote ``credit@version`` to production three times, saying what happened each time."""
    import govml
    from govml.errors import AlreadyExistsError

    with govml.connect(home, database_url=url, user="frank") as client:
        for _ in range(3):
            try:
                client.promote(f"credit@{version}", to="production", reason=f"worker {version}")
                said.send("promoted")
            except AlreadyExistsError:
                said.send("holds it")


def _churn(home: str, url: str, said: Connection) -> None:
    """Register versions and move staging between them until killed."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    import govml

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=200), "x2": rng.normal(size=200)})
    frame["y"] = (frame.x1 > 0).astype("int64")
    model = LogisticRegression().fit(frame[["x1", "x2"]], frame["y"])
    bob = govml.connect(home, database_url=url, user="bob")
    frank = govml.connect(home, database_url=url, user="frank")
    said.send("ready")
    for i in itertools.count():
        bob.register_version("credit", model=model, train_data=frame, target="y")
        frank.promote(f"credit@{1 + i % 2}", to="staging", reason=f"round {i}")
        said.send(f"round {i}")


def _start(target: Any, *args: Any) -> tuple[Any, Connection]:
    """Start ``target(*args, said)`` in a forked process; return it and what it says."""
    context = _processes()
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(*args, sending))
    process.start()
    sending.close()
    return process, receiving


def _heard(receiving: Connection, process: Any) -> str:
    """The next message of ``process``; fails if it ends or says nothing for four minutes."""
    if not receiving.poll(240):
        pytest.fail(f"the process said nothing (exit code {process.exitcode})")
    return str(receiving.recv())


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
    workers = [_start(_promote, str(ready.home), ready.db_url, n + 1) for n in range(PROMOTERS)]
    outputs = [[_heard(receiving, worker) for _ in range(3)] for worker, receiving in workers]
    for worker, _ in workers:
        worker.join(timeout=240)
        assert worker.exitcode == 0, worker.exitcode
    promoted = sum(said.count("promoted") for said in outputs)
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
    worker, receiving = _start(_churn, str(ready.home), ready.db_url)
    try:
        assert _heard(receiving, worker) == "ready"
        _heard(receiving, worker)  # at least one round done: the loop is warm
        time.sleep(rng.uniform(0.05, 0.6))
    finally:
        worker.kill()  # SIGKILL
        worker.join(timeout=30)
    frank = ready["frank"]
    result = frank.verify_ledger()  # raises, naming the first mismatch, on any partial state
    versions = frank.list_versions("credit")
    assert result.versions == len(versions) >= 3
    assert [v.version for v in versions] == list(range(1, len(versions) + 1))
    history = frank.alias_history("credit", alias="staging")
    assert frank.get_model("credit").aliases["staging"] == history[-1].version
    # The store is still writable: nothing is left locked by the killed process.
    ready.register()
