"""The web UI's inventory with 2,000 models × 10 versions, beside MLflow's model search.

govml: a store (SQLite, or PostgreSQL with ``--backends``) seeded with N models of V versions
each, every version evaluated, a third of the newest versions approved, aliases on most
models, three monitoring runs on the production ones, tags and owners to filter on. It is
served by `govml server` (uvicorn, one worker, loopback); a signed-in client asks for

- ``/models``: the inventory page (every model's tier, owner, aliases, latest gate,
  approvals, monitoring state and last change joined, facets counted, 50 rows rendered);
- ``/models?tier=high&gate=pass&sort=-changed``: a filtered, sorted view;
- ``/models.json``: the same as JSON;

and reports the server's own time (its ``Server-Timing`` header: the queries, the joining,
filtering and counting in memory, the template) and the whole request seen by the client.

MLflow |MLFLOW| (in its own virtualenv, ``benchmarks/.venv-mlflow``, as
``bench_serving.py`` creates it), same run, same number of registered models and versions in
a SQLite tracking store: ``MlflowClient.search_registered_models`` for every model (pages of
1,000, what an inventory has to read) and for the first page of 50, in process.

Run: ``.venv/bin/python benchmarks/bench_ui.py [--models 2000] [--versions 10]
[--repeat 30] [--backends sqlite,postgres] [--skip-mlflow]``. Figures: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

import govml
from govml.store.db import Store
from govml.store.schema import (
    approvals,
    evaluations,
    model_aliases,
    model_tags,
    model_versions,
    models,
    monitoring_runs,
)

MLFLOW = "3.17.2"  # as bench_serving.py
__doc__ = (__doc__ or "").replace("|MLFLOW|", MLFLOW)
HERE = Path(__file__).resolve().parent
MLFLOW_VENV = HERE / ".venv-mlflow"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
TIERS = ("minimal", "limited", "high", "high", "limited", "minimal", "high", "unacceptable")
POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: bench, owner: bench@example.com}
tiers: [minimal, limited, high, unacceptable]
performance:
  - {metric: accuracy, min: 0.5}
approvals: {required: 2, roles: [approver, risk_officer]}
"""
VIEWS = {
    "/models": "inventory page",
    "/models?tier=high&gate=pass&sort=-changed": "filtered, sorted",
    "/models.json": "inventory as JSON",
    "/models ": "inventory page, right after a change",
}
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
console = Console(highlight=False, width=150)


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def seed(home: Path, url: str, n_models: int, n_versions: int) -> str:
    """Fill a store; return a viewer's token. Rows go in by bulk insert (reads are measured)."""
    with govml.connect(home, database_url=url, user="admin", create=True) as admin:
        admin.init()
        policy = home / "policy.yaml"
        policy.write_text(POLICY, encoding="utf-8")
        digest = admin.apply_policy(policy).policy.digest
        token = admin.add_user("viewer", roles=["viewer"]).token
    store = Store(url)
    start = datetime.now(UTC) - timedelta(days=365)
    batch = 200
    for first in range(0, n_models, batch):
        with store.write() as conn:
            _seed_models(
                conn, range(first, min(n_models, first + batch)), n_versions, start, digest
            )
    store.dispose()
    return token


def _seed_models(conn: Any, numbers: range, n_versions: int, start: datetime, digest: str) -> None:
    model_rows, tag_rows = [], []
    for i in numbers:
        name = f"model-{i:05d}"
        model_rows.append(
            {
                "name": name,
                "name_key": name,
                "owner": f"team-{i % 40:02d}@example.com",
                "risk_tier": TIERS[i % len(TIERS)],
                "description": f"benchmark model {i} for the inventory",
                "created_at": start + timedelta(minutes=i),
                "created_by": "admin",
            }
        )
    ids = {
        row.name: row.id
        for row in conn.execute(sa.insert(models).returning(models.c.id, models.c.name), model_rows)
    }
    version_rows, eval_rows, alias_rows, approval_rows, run_rows = [], [], [], [], []
    for i in numbers:
        mid = ids[f"model-{i:05d}"]
        tag_rows += [
            {"model_id": mid, "key": "domain", "value": ("credit", "fraud", "churn")[i % 3]},
            {"model_id": mid, "key": "team", "value": f"team-{i % 12}"},
        ]
        for v in range(1, n_versions + 1):
            moment = start + timedelta(minutes=i, hours=v)
            version_rows.append(
                {
                    "model_id": mid,
                    "version": v,
                    "artifact_digest": _digest(f"{i}-{v}"),
                    "artifact_size": 1000,
                    "flavor": "sklearn",
                    "flavor_options": {},
                    "signature": None,
                    "code": {},
                    "environment": {},
                    "params": {},
                    "metrics": {},
                    "registrant": f"dev-{i % 7}",
                    "created_at": moment,
                }
            )
            eval_rows.append(
                {
                    "model_id": mid,
                    "version": v,
                    "status": "fail" if (i + v) % 11 == 0 else ("warn" if v % 5 == 0 else "pass"),
                    "policy_name": "bench",
                    "policy_digest": digest,
                    "data_digest": _digest(f"data-{i}"),
                    "document": "{}",
                    "document_digest": _digest(f"doc-{i}-{v}"),
                    "created_at": moment + timedelta(minutes=5),
                    "created_by": "ci",
                }
            )
        if i % 3 == 0:
            for actor in ("rita", "sam"):
                approval_rows.append(
                    {
                        "model_id": mid,
                        "version": n_versions,
                        "decision": "approve",
                        "role": "approver",
                        "comment": "benchmark",
                        "actor": actor,
                        "created_at": start + timedelta(days=2, minutes=i),
                    }
                )
    conn.execute(sa.insert(model_tags), tag_rows)
    conn.execute(sa.insert(model_versions), version_rows)
    conn.execute(sa.insert(evaluations), eval_rows)
    if approval_rows:
        conn.execute(sa.insert(approvals), approval_rows)
    version_ids = {
        (row.model_id, row.version): row.id
        for row in conn.execute(
            sa.select(
                model_versions.c.id, model_versions.c.model_id, model_versions.c.version
            ).where(model_versions.c.model_id.in_(list(ids.values())))
        )
    }
    for i in numbers:
        mid = ids[f"model-{i:05d}"]
        if i % 5 != 4:  # 80 % in production, on their next-to-last version
            alias_rows.append(_alias(mid, "production", version_ids[(mid, n_versions - 1)], start))
            for r in range(3):
                status = ("ok", "warn", "alert", "critical")[(i + r) % 4]
                end = start + timedelta(days=300 + r)
                run_rows.append(
                    {
                        "model_id": mid,
                        "window_start": end - timedelta(days=1),
                        "window_end": end,
                        "status": status,
                        "document": "{}",
                        "digest": _digest(f"run-{i}-{r}"),
                        "actor": "monitor",
                        "created_at": end + timedelta(minutes=3),
                    }
                )
        if i % 2 == 0:
            alias_rows.append(_alias(mid, "staging", version_ids[(mid, n_versions)], start))
    conn.execute(sa.insert(model_aliases), alias_rows)
    conn.execute(sa.insert(monitoring_runs), run_rows)


def _alias(mid: int, alias: str, version_id: int, start: datetime) -> dict[str, Any]:
    return {
        "model_id": mid,
        "alias": alias,
        "version_id": version_id,
        "updated_at": start + timedelta(days=3),
        "updated_by": "deployer",
    }


def measure_govml(home: Path, url: str, token: str, repeat: int) -> dict[str, dict[str, float]]:
    """Time each view through `govml server` (its own process) on loopback.

    Reports the server's own time (``Server-Timing``), the CPU time the server process spent
    on the request (less sensitive than wall time to other work on the machine), and the
    whole request seen by the client. The server reads the inventory again only when the
    ledger has grown since it last did; the last view is measured right after a change (a tag
    set on one model, which is a ledger entry), so that every request reads and joins all.
    """
    results: dict[str, dict[str, float]] = {}
    writer = govml.connect(home, database_url=url, user="admin")
    port = _free_port()
    env = {**os.environ, "GOVML_DATABASE_URL": url}
    govml_cli = Path(sys.executable).with_name("govml")
    server = subprocess.Popen(
        [str(govml_cli), "--store", str(home), "server", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base, server)
        process = psutil.Process(server.pid)
        with httpx.Client(base_url=base, timeout=60, follow_redirects=True) as http:
            form = http.get("/sign-in")
            found = CSRF.search(form.text)
            assert found is not None
            signed = http.post("/sign-in", data={"csrf_token": found.group(1), "token": token})
            assert signed.status_code == 200 and signed.url.path == "/models", signed.text[:300]
            for path in VIEWS:
                results[path] = _measure_view(http, process, writer, path, repeat)
    finally:
        server.terminate()
        server.wait(timeout=30)
        writer.close()
    return results


def _measure_view(
    http: httpx.Client, process: Any, writer: govml.Client, path: str, repeat: int
) -> dict[str, float]:
    changing = path.endswith(" ")
    for _ in range(3):  # warm up (templates compiled, connections opened)
        http.get(path.strip()).raise_for_status()
    server, cpu, client = [], [], []
    for number in range(repeat):
        if changing:
            writer.set_tag("model-00000", "bench", str(number))
        before = sum(process.cpu_times()[:2])
        started = time.perf_counter()
        answer = http.get(path.strip())
        client.append(1000 * (time.perf_counter() - started))
        cpu.append(1000 * (sum(process.cpu_times()[:2]) - before))
        answer.raise_for_status()
        server.append(float(answer.headers["server-timing"].split("dur=")[1]))
    return {
        "server_p50": statistics.median(server),
        "server_p90": _p90(server),
        "cpu_p50": statistics.median(cpu),
        "client_p50": statistics.median(client),
        "bytes": len(answer.content),
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"govml server stopped: {server.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("govml server did not start within 60 s")


def _p90(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


MLFLOW_SCRIPT = r"""
import json, statistics, sys, time
import mlflow
from mlflow import MlflowClient
folder = sys.argv[1]
n_models, n_versions, repeat = (int(arg) for arg in sys.argv[2:5])
mlflow.set_tracking_uri(f"sqlite:///{folder}/mlflow.db")
mlflow.set_registry_uri(f"sqlite:///{folder}/mlflow.db")
client = MlflowClient()
started = time.perf_counter()
for i in range(n_models):
    name = f"model-{i:05d}"
    client.create_registered_model(name, tags={"domain": "credit", "team": f"team-{i % 12}"})
    for v in range(n_versions):
        client.create_model_version(name, source=f"file:///models/{name}/{v}")
seeded = time.perf_counter() - started

def every():
    token, found = None, 0
    while True:
        page = client.search_registered_models(max_results=1000, page_token=token)
        found += len(page)
        token = page.token
        if not token:
            return found

def first_page():
    return len(client.search_registered_models(max_results=50))

out = {"seed_s": seeded}
for label, fn in (("all", every), ("page", first_page)):
    for _ in range(2):
        fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter(); n = fn(); times.append(1000 * (time.perf_counter() - t))
    out[label] = {"p50": statistics.median(times), "models": n}
print(json.dumps(out))
"""


def mlflow_python() -> Path:
    """Return the mlflow virtualenv's interpreter, creating it as bench_serving.py does."""
    python = MLFLOW_VENV / "bin" / "python"
    if not (MLFLOW_VENV / "bin" / "mlflow").exists():
        console.print(f"creating {MLFLOW_VENV} with mlflow {MLFLOW} (once)…")
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", f"mlflow=={MLFLOW}"], check=True
        )
    return python


def measure_mlflow(folder: Path, n_models: int, n_versions: int, repeat: int) -> dict[str, Any]:
    """Seed MLflow's registry with the same numbers and time its search, in its own process."""
    done = subprocess.run(
        [
            str(mlflow_python()),
            "-c",
            MLFLOW_SCRIPT,
            str(folder),
            str(n_models),
            str(n_versions),
            str(repeat),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the mlflow run failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _pg_database() -> str:
    name = f"govml_bench_ui_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def _drop_pg(url: str) -> None:
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=2000)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--backends", default="sqlite")
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()
    table = Table(title=f"inventory: {args.models:,} models × {args.versions} versions")
    columns = (
        "system",
        "view",
        "server p50 ms",
        "server p90 ms",
        "server CPU p50 ms",
        "client p50 ms",
        "size",
    )
    for column in columns:
        table.add_column(column, justify="left" if column in ("system", "view") else "right")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            home = Path(tmp) / backend
            home.mkdir()
            url = f"sqlite:///{home / 'govml.db'}" if backend == "sqlite" else _pg_database()
            try:
                with console.status(f"seeding govml ({backend})…"):
                    started = time.perf_counter()
                    token = seed(home, url, args.models, args.versions)
                console.print(f"seeded govml on {backend} in {time.perf_counter() - started:.1f} s")
                with console.status(f"measuring govml ({backend})…"):
                    found = measure_govml(home, url, token, args.repeat)
            finally:
                if backend != "sqlite":
                    _drop_pg(url)
            for path, figures in found.items():
                table.add_row(
                    f"govml ({backend})",
                    f"{VIEWS[path]} {path.strip()}",
                    f"{figures['server_p50']:.1f}",
                    f"{figures['server_p90']:.1f}",
                    f"{figures['cpu_p50']:.0f}",
                    f"{figures['client_p50']:.1f}",
                    f"{figures['bytes'] / 1024:.0f} KiB",
                )
        if not args.skip_mlflow:
            folder = Path(tmp) / "mlflow"
            folder.mkdir()
            with console.status("seeding and measuring MLflow (sqlite)…"):
                theirs = measure_mlflow(folder, args.models, args.versions, args.repeat)
            console.print(f"seeded MLflow in {theirs['seed_s']:.1f} s")
            table.add_row(
                f"MLflow {MLFLOW} (sqlite)",
                f"search_registered_models, all {theirs['all']['models']:,} (pages of 1,000)",
                "",
                "",
                "",
                f"{theirs['all']['p50']:.1f}",
                "",
            )
            table.add_row(
                f"MLflow {MLFLOW} (sqlite)",
                "search_registered_models, first page of 50",
                "",
                "",
                "",
                f"{theirs['page']['p50']:.1f}",
                "",
            )
    console.print(table)


if __name__ == "__main__":
    main()
