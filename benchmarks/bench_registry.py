"""Registry latency with 10,000 versions in the store, on SQLite and PostgreSQL.

Measures, in process:
- ``get_version("name@alias")``: resolve an alias and load the version record;
- ``get_version("name@N")``: load by number;
- ``register_version`` end to end (skops serialisation of a small model, artifact write, git
  and environment lineage, version row + ledger entry + tree head in one transaction);
- the metadata write alone (version row + ledger entry + tree head), which is what MLflow's
  ``create_model_version`` does.

Reference figures for MLflow on this machine class (from the project brief): get by alias
5.4 ms p50, create version 15.8 ms. Run: ``.venv/bin/python benchmarks/bench_registry.py``
(``--versions N`` to change the store size, ``--backends sqlite`` to skip PostgreSQL).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import sqlalchemy as sa
from rich.console import Console
from rich.progress import track
from rich.table import Table
from sklearn.linear_model import LogisticRegression

import govml
from govml.domain.records import ModelVersion
from govml.services.registry import record_digest, version_subject
from govml.store import records
from govml.store.ledger import NewEntry, append
from govml.store.schema import model_aliases

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MLFLOW = {"get by alias": 5.4, "create version": 15.8}
console = Console()


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.array(samples), q))


def measure(fn: Callable[[int], object], n: int) -> list[float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
    return times


def seed(client: govml.Client, n_versions: int, model_obj: LogisticRegression) -> None:
    """Insert ``n_versions`` versions of 'bench' through the store layer, 500 per transaction."""
    client.create_model("bench", risk_tier="high")
    first = client.register_version("bench", model=model_obj)
    template = first.record()
    now = datetime.now(UTC)
    remaining = n_versions - 1
    batch = 500
    for start in track(range(0, remaining, batch), description=f"seeding {n_versions} versions"):
        with client.ctx.store.write() as conn:
            mid = records.model_id(conn, "bench")
            entries = []
            for _ in range(min(batch, remaining - start)):
                number = records.next_version(conn, mid)
                version = ModelVersion(
                    **{
                        **{k: v for k, v in template.items() if k not in ("datasets",)},
                        "version": number,
                        "created_at": now,
                        "datasets": (),
                    }
                )
                records.insert_version(conn, mid=mid, version=version, dataset_digests={})
                entries.append(
                    NewEntry(
                        action="version.registered",
                        subject=version_subject("bench", number),
                        payload={"record_digest": record_digest(version.record())},
                    )
                )
            append(conn, actor="bench", entries=entries, now=now)
    with client.ctx.store.write() as conn:
        mid = records.model_id(conn, "bench")
        vid = conn.execute(
            sa.text("SELECT id FROM model_versions WHERE model_id = :m AND version = :v"),
            {"m": mid, "v": n_versions // 2},
        ).scalar_one()
        conn.execute(
            sa.insert(model_aliases).values(
                model_id=mid, alias="production", version_id=vid, updated_at=now, updated_by="b"
            )
        )


def metadata_write(client: govml.Client, template: dict[str, object]) -> Callable[[int], object]:
    def write(_: int) -> None:
        now = datetime.now(UTC)
        with client.ctx.store.write() as conn:
            mid = records.model_id(conn, "bench")
            number = records.next_version(conn, mid)
            version = ModelVersion(
                **{**template, "version": number, "created_at": now, "datasets": ()}  # type: ignore[arg-type]
            )
            records.insert_version(conn, mid=mid, version=version, dataset_digests={})
            append(
                conn,
                actor="bench",
                now=now,
                entries=[
                    NewEntry(
                        action="version.registered",
                        subject=version_subject("bench", number),
                        payload={"record_digest": record_digest(version.record())},
                    )
                ],
            )

    return write


def run_backend(backend: str, n_versions: int, repeats: int) -> list[tuple[str, list[float]]]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    model_obj = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
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
        client = govml.connect(home, database_url=url, user="bench", create=True)
        try:
            seed(client, n_versions, model_obj)
            template = {
                k: v for k, v in client.get_version("bench@1").record().items() if k != "datasets"
            }
            template.pop("created_at")
            rows = [
                (
                    "get by alias",
                    measure(lambda _: client.get_version("bench@production"), repeats),
                ),
                (
                    "get by number",
                    measure(
                        lambda i: client.get_version(f"bench@{1 + (i * 37) % n_versions}"), repeats
                    ),
                ),
                ("create version (metadata)", measure(metadata_write(client, template), repeats)),
                (
                    "register_version (full)",
                    measure(lambda _: client.register_version("bench", model=model_obj), repeats),
                ),
            ]
        finally:
            client.close()
            if admin is not None:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=300)
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    table = Table(title=f"registry latency, {args.versions:,} versions in the store (ms)")
    for column in ("backend", "operation", "p50", "p90", "p99", "mean", "MLflow p50", "speed-up"):
        table.add_column(column, justify="right")
    for backend in args.backends.split(","):
        for operation, samples in run_backend(backend, args.versions, args.repeats):
            reference = MLFLOW.get(
                "get by alias"
                if operation == "get by alias"
                else "create version"
                if operation.startswith("create")
                else ""
            )
            p50 = statistics.median(samples)
            table.add_row(
                backend,
                operation,
                f"{p50:.2f}",
                f"{percentile(samples, 90):.2f}",
                f"{percentile(samples, 99):.2f}",
                f"{statistics.fmean(samples):.2f}",
                f"{reference:.1f}" if reference else "",
                f"{reference / p50:.1f}×" if reference else "",
            )
    console.print(table)


if __name__ == "__main__":
    main()
