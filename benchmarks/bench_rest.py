"""REST API latency of get-version and promote through real uvicorn on loopback.

For each backend (SQLite, PostgreSQL) a store gets a model with two versions that pass a
policy's gates (evaluated) and a deployer with a token; `govml server`'s application then
runs in uvicorn on 127.0.0.1 (one worker, in a thread of this process) and is measured with:

- ``GET /api/v1/versions/bench@1``: raw HTTP with keep-alive (httpx), the JSON decoded;
- ``RemoteClient.get_version``: the same through the SDK in client mode (record rebuilt);
- ``POST /api/v1/versions/bench@N/promote`` to staging, alternating the two versions, so
  every request moves the alias through its gates (evaluation under the policy in force)
  and writes the alias change and its ledger entry in one transaction;

and, for the overhead of the REST layer, the same two calls on a local client in process.
Every request authenticates its bearer token (one indexed lookup). Run:
``.venv/bin/python benchmarks/bench_rest.py`` (``--repeats N``, ``--backends sqlite``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from sklearn.linear_model import LogisticRegression

import govml
from govml.remote import RemoteClient
from govml.server import create_app
from govml.server.background import serving
from govml.settings import load_settings

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: bench}
tiers: [high]
performance:
  - {metric: accuracy, min: 0.6}
"""
WARMUP = 20
console = Console()


def measure(fn: Callable[[int], object], n: int) -> list[float]:
    for i in range(WARMUP):
        fn(i)
    times = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
    return times


def prepare(home: Path, url: str) -> tuple[govml.Client, str]:
    """Two evaluated versions of 'bench', a policy in force; return the deployer's token."""
    local = govml.connect(home, database_url=url, user="admin", create=True)
    local.init()
    policy = home / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    local.apply_policy(policy)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(500, 4)), columns=["a", "b", "c", "d"])
    frame["y"] = (frame["a"] + rng.normal(scale=0.3, size=500) > 0).astype("int64")
    local.create_model("bench", risk_tier="high")
    for c in (1.0, 0.5):
        model = LogisticRegression(C=c).fit(frame[["a", "b", "c", "d"]], frame["y"])
        version = local.register_version("bench", model=model, train_data=frame, target="y")
        local.evaluate(version.ref, data=frame, target="y")
    token = local.add_user("deployer", roles=["deployer"]).token
    return local, token


def run_backend(backend: str, repeats: int) -> list[tuple[str, list[float]]]:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        admin = None
        if backend == "sqlite":
            url = f"sqlite:///{home / 'govml.db'}"
        else:
            name = f"govml_bench_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
        local, token = prepare(home, url)
        deployer = govml.connect(home, database_url=url, user="deployer")
        try:
            app = create_app(load_settings(home=home, database_url=url))
            with serving(app) as base:
                headers = {"Authorization": f"Bearer {token}"}
                remote = RemoteClient(load_settings(server=base, token=token))
                with httpx.Client(base_url=base + "/api/v1", headers=headers) as http:

                    def get_raw(_: int) -> object:
                        response = http.get("/versions/bench@1")
                        response.raise_for_status()
                        return response.json()

                    def promote_raw(i: int) -> object:
                        body = {"to": "staging", "reason": "benchmark"}
                        response = http.post(f"/versions/bench@{1 + i % 2}/promote", json=body)
                        response.raise_for_status()
                        return response.json()

                    rows = [
                        ("get-version: HTTP", measure(get_raw, repeats)),
                        (
                            "get-version: RemoteClient",
                            measure(lambda _: remote.get_version("bench@1"), repeats),
                        ),
                        (
                            "get-version: local client",
                            measure(lambda _: local.get_version("bench@1"), repeats),
                        ),
                        ("promote: HTTP", measure(promote_raw, repeats)),
                        (
                            "promote: local client",
                            measure(
                                lambda i: deployer.promote(f"bench@{1 + i % 2}", to="staging"),
                                repeats,
                            ),
                        ),
                    ]
                remote.close()
        finally:
            deployer.close()
            local.close()
            if admin is not None:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    table = Table(title=f"REST latency through uvicorn on loopback, {args.repeats} requests (ms)")
    for column in ("backend", "operation", "p50", "p90", "p99"):
        table.add_column(column, justify="right")
    for backend in args.backends.split(","):
        for operation, samples in run_backend(backend, args.repeats):
            values = np.array(samples)
            table.add_row(
                backend,
                operation,
                *(f"{np.percentile(values, q):.2f}" for q in (50, 90, 99)),
            )
    console.print(table)


if __name__ == "__main__":
    main()
