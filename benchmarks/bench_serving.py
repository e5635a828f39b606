"""`govml serve` against `mlflow models serve` on the same scikit-learn model, one worker each.

Usage::

    .venv/bin/python benchmarks/bench_serving.py [--duration 10] [--clients 4]
        [--model hgb|logreg] [--skip-mlflow] [--stall-duration 20] [--only-stall]

What is measured, in one run on this machine:

1. Both servers answer one Adult record per request; a load generator on loopback keeps
   ``--clients`` keep-alive HTTP/1.1 connections busy (each sends its next request when the
   previous answer is complete) for ``--duration`` seconds after a 2-second warm-up.
   Throughput is completed requests per second; latency is from the request's first byte
   written to the answer's last byte read, p50 and p99. The load generator is a small
   asyncio client on raw sockets (in this process; each server is its own process), so its
   own cost stays small and is the same for both servers. Every answer must be a 200.
2. The governance overhead: the gateway's ASGI application called in-process on one record
   at a time (parse, validate against the signature and the training profile, score,
   queue the prediction log record, metrics, JSON answer) against a bare
   ``model.predict`` on a one-row DataFrame of the same record; the difference of the
   medians over 2,000 calls. The gateway also calls ``predict_proba``; that bare time is
   shown too.

3. Small requests while a maximal one is in flight: the same ``--clients`` send one record per
   request for ``--stall-duration`` seconds, first alone, then while one more client sends,
   back to back, a columnar request as large as the gateway takes (``--max-body-bytes``, 8 MiB:
   about 60,000 Adult records). The small requests' p50, p99 and worst latency are compared;
   the target is a p99 under 50 ms while the large request is decoded, checked, scored and
   logged. Measured twice in the same run: with ``govml serve``'s default, where a niced
   second gateway process answers large requests (``govml.serving.large``; it is started by
   one large request and waited for before timing), and with ``--no-large-process``, where
   the gateway's worker threads do (``govml.serving.app``).

The model is the demo's pipeline (``--model hgb``: one-hot encoding and a
HistGradientBoosting classifier) or a logistic regression on the same encoding
(``--model logreg``), trained on the Adult training split. It is registered in a temporary
govml store, evaluated and promoted to production with an approval; the same fitted object is
pickled for mlflow, which runs in its own virtualenv (``benchmarks/.venv-mlflow``, created on
first use with mlflow |MLFLOW| and the scikit-learn version of this one) with
``--env-manager local``. Both servers run with ``OMP_NUM_THREADS=1`` (one core each).
Before timing, the two servers' predictions on 200 test records are compared.
Needs the shared datasets (``../shared/datasets`` or ``GOVML_DATASETS``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pickle
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import httpx
import orjson
import pandas as pd
from rich.console import Console
from rich.table import Table

import govml
from govml.demo.adult import CATEGORICAL, NUMERIC, TARGET, load_adult
from govml.demo.run import build_pipeline

MLFLOW = "3.17.2"
MAX_BODY_BYTES = 8 * 1024 * 1024  # govml serve's default --max-body-bytes
__doc__ = (__doc__ or "").replace("|MLFLOW|", MLFLOW)
HERE = Path(__file__).resolve().parent
MLFLOW_VENV = HERE / ".venv-mlflow"
FEATURES = CATEGORICAL + NUMERIC
MODEL = "adult-income"
POLICY = """\
apiVersion: govml/v1
kind: Policy
metadata: {name: bench, owner: bench@example.com}
tiers: [high]
performance:
  - {metric: accuracy, min: 0.5}
approvals: {required: 1, roles: [approver]}
"""
console = Console(highlight=False)


# -- the model and the store ---------------------------------------------------------------


def train(kind: str, train_frame: pd.DataFrame) -> Any:
    """Fit the benchmark's pipeline on the Adult training split."""
    pipeline = build_pipeline()
    if kind == "logreg":
        from sklearn.linear_model import LogisticRegression

        pipeline.steps[-1] = ("model", LogisticRegression(max_iter=1000))
    return pipeline.fit(train_frame[FEATURES], train_frame[TARGET])


def governed_store(home: Path, model: Any, train_frame: pd.DataFrame, test: pd.DataFrame) -> str:
    """Register, evaluate, approve and promote ``model``; return a gateway key of it."""
    admin = govml.connect(home, user="admin", create=True)
    admin.init()
    admin.add_user("dana", roles=["deployer"])
    admin.add_user("sam", roles=["approver"])
    admin.create_model(MODEL, risk_tier="high", description="benchmark", intended_use="bench")
    policy = home / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    admin.apply_policy(policy)
    data = train_frame[[*FEATURES, TARGET]]
    ref = admin.register_version(MODEL, model=model, train_data=data, target=TARGET).ref
    admin.evaluate(ref, data=test[[*FEATURES, TARGET]].head(2000), target=TARGET, n_boot=0)
    admin.close()
    with govml.connect(home, user="sam") as approver:
        approver.approve(ref, comment="benchmark")
    with govml.connect(home, user="dana") as deployer:
        deployer.promote(ref, to="staging")
        deployer.promote(ref, to="production")
        return deployer.issue_gateway_key(MODEL, scopes=["predict"], expires_in_days=1).secret


def mlflow_python() -> Path:
    """Return the mlflow virtualenv's interpreter, creating the virtualenv if needed."""
    python = MLFLOW_VENV / "bin" / "python"
    if not (MLFLOW_VENV / "bin" / "mlflow").exists():
        console.print(f"creating {MLFLOW_VENV} with mlflow {MLFLOW} (once)…")
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
        pins = [f"mlflow=={MLFLOW}", f"scikit-learn=={package_version('scikit-learn')}"]
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *pins], check=True)
    return python


def mlflow_model(model: Any, folder: Path) -> Path:
    """Save the fitted object as an mlflow model (in mlflow's own environment)."""
    pickled = folder / "model.pkl"
    pickled.write_bytes(pickle.dumps(model))
    target = folder / "mlflow-model"
    # mlflow writes scikit-learn models with skops, as govml does; the types skops does not
    # trust by default (the gradient-boosting trees) are trusted here as govml trusts them.
    script = (
        "import pickle, sys, mlflow.sklearn, skops.io as sio; "
        "model = pickle.load(open(sys.argv[1], 'rb')); "
        "trusted = sio.get_untrusted_types(data=sio.dumps(model)); "
        "mlflow.sklearn.save_model(model, sys.argv[2], skops_trusted_types=trusted)"
    )
    done = subprocess.run(
        [str(mlflow_python()), "-c", script, str(pickled), str(target)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"saving the mlflow model failed:\n{done.stderr}")
    return target


# -- servers ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(
    command: Sequence[str], env: dict[str, str], probe: str, log: Path
) -> subprocess.Popen[bytes]:
    """Start a server and wait until ``probe`` answers 200."""
    import httpx

    with log.open("wb") as sink:
        process = subprocess.Popen(list(command), env=env, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{command[0]} exited:\n{log.read_text()}")
        try:
            if httpx.get(probe, timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{probe} did not answer:\n{log.read_text()}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- the load generator -------------------------------------------------------------------


def request_bytes(path: str, body: bytes, key: str | None = None) -> bytes:
    auth = "" if key is None else f"Authorization: Bearer {key}\r\n"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{auth}Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def _client(
    port: int, requests: list[bytes], start_at: int, until: float, warmup_end: float
) -> tuple[list[int], int]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    latencies: list[int] = []
    errors = 0
    i = start_at
    try:
        while True:
            sent = time.perf_counter_ns()
            if sent / 1e9 >= until:
                break
            writer.write(requests[i % len(requests)])
            i += 1
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            done = time.perf_counter_ns()
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
            if sent / 1e9 >= warmup_end:
                latencies.append(done - sent)
    finally:
        writer.close()
    return latencies, errors


async def _load(port: int, requests: list[bytes], clients: int, duration: float) -> dict[str, Any]:
    now = time.perf_counter()
    warmup_end = now + 2.0
    until = warmup_end + duration
    results = await asyncio.gather(
        *[
            _client(port, requests, k * len(requests) // clients, until, warmup_end)
            for k in range(clients)
        ]
    )
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = sum(e for _, e in results)
    if errors:
        raise SystemExit(f"{errors} answers were not 200")
    return {
        "requests": len(latencies),
        "rps": len(latencies) / duration,
        "p50_ms": latencies[len(latencies) // 2] / 1e6,
        "p99_ms": latencies[int(len(latencies) * 0.99)] / 1e6,
    }


def load(port: int, requests: list[bytes], clients: int, duration: float) -> dict[str, Any]:
    """Run the load generator against ``port``; return throughput and latency."""
    try:
        import uvloop

        return uvloop.run(_load(port, requests, clients, duration))
    except ImportError:
        return asyncio.run(_load(port, requests, clients, duration))


async def _large_client(
    port: int, request: bytes, until: float, warmup_end: float
) -> tuple[list[int], int]:
    """Send ``request`` back to back until ``until``; return latencies and non-200 answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 26)
    latencies: list[int] = []
    errors = 0
    try:
        while time.perf_counter() < until:
            sent = time.perf_counter_ns()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
            if sent / 1e9 >= warmup_end:
                latencies.append(time.perf_counter_ns() - sent)
    finally:
        writer.close()
    return latencies, errors


async def _stall(
    port: int, small: list[bytes], large: bytes | None, clients: int, duration: float
) -> dict[str, Any]:
    now = time.perf_counter()
    warmup_end = now + 2.0
    until = warmup_end + duration
    jobs = [
        _client(port, small, k * len(small) // clients, until, warmup_end) for k in range(clients)
    ]
    if large is not None:
        jobs.append(_large_client(port, large, until, warmup_end))
    results = await asyncio.gather(*jobs)
    small_latencies = sorted(x for lat, _ in results[:clients] for x in lat)
    if sum(e for _, e in results):
        raise SystemExit("answers were not 200 during the stall scenario")
    out = {
        "requests": len(small_latencies),
        "p50_ms": small_latencies[len(small_latencies) // 2] / 1e6,
        "p99_ms": small_latencies[int(len(small_latencies) * 0.99)] / 1e6,
        "max_ms": small_latencies[-1] / 1e6,
    }
    if large is not None:
        big = sorted(results[-1][0])
        out["large"] = len(big)
        out["large_s"] = big[len(big) // 2] / 1e9 if big else float("nan")
    return out


def stall(
    port: int, small: list[bytes], large: bytes | None, clients: int, duration: float
) -> dict[str, Any]:
    """Small-request latency alone (``large`` None) or with ``large`` sent back to back."""
    try:
        import uvloop

        return uvloop.run(_stall(port, small, large, clients, duration))
    except ImportError:
        return asyncio.run(_stall(port, small, large, clients, duration))


def large_process_ready(port: int, body: bytes, key: str, timeout: float = 180.0) -> None:
    """Send one large request and wait until the gateway says its large-request process is up."""
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    url = f"http://127.0.0.1:{port}"
    answer = httpx.post(f"{url}/predict", content=body, headers=headers, timeout=timeout)
    if answer.status_code != 200:
        raise SystemExit(f"the large request was not answered: {answer.status_code}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = httpx.get(f"{url}/version", headers=headers).json()["gateway"]["large_process"]
        if found and found["ready"]:
            return
        time.sleep(0.5)
    raise SystemExit("the large-request process did not start")


def maximal_body(records: list[dict[str, Any]], limit: int) -> tuple[bytes, int]:
    """Return the largest columnar body of repeated ``records`` within ``limit`` bytes."""

    def body(n: int) -> bytes:
        rows = [records[i % len(records)] for i in range(n)]
        return orjson.dumps({"columns": {name: [r[name] for r in rows] for name in FEATURES}})

    n = len(records)
    while len(body(n * 2)) <= limit:
        n *= 2
    low, high = n, n * 2
    while high - low > 100:
        middle = (low + high) // 2
        low, high = (middle, high) if len(body(middle)) <= limit else (low, middle)
    return body(low), low


def answers(
    port: int, path: str, bodies: list[bytes], field: str, key: str | None = None
) -> list[Any]:
    import httpx

    headers = {"content-type": "application/json"}
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    out = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        for body in bodies:
            response = client.post(path, content=body, headers=headers)
            response.raise_for_status()
            out.append(response.json()[field][0])
    return out


# -- the in-process overhead --------------------------------------------------------------


def overhead(
    home: Path, key: str, records: list[dict[str, Any]], calls: int = 2000
) -> dict[str, float]:
    """Median time of the gateway's ASGI app on one record vs a bare predict on it.

    The three are timed in turn on each record (bare predict, bare predict and
    predict_proba, the gateway), so that a busy machine slows them alike.
    """
    from govml.serving import ClientSource, Gateway, GatewayOptions

    with govml.connect(home) as client:
        loaded = client.load_model(f"{MODEL}@production").raw
    frames = [pd.DataFrame([record]) for record in records[:200]]
    bodies = [orjson.dumps(record) for record in records[:200]]
    options = GatewayOptions(model=MODEL, log_dir=home / "overhead-log", poll_seconds=3600)
    gateway = Gateway(options, ClientSource(govml.connect(home)))
    bare: list[int] = []
    both: list[int] = []
    served: list[int] = []

    async def receive_from(body: bytes) -> Any:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        return receive

    async def run() -> None:
        await gateway.startup()
        for i in range(calls):
            frame, body = frames[i % len(frames)], bodies[i % len(bodies)]
            started = time.perf_counter_ns()
            loaded.predict(frame)
            bare.append(time.perf_counter_ns() - started)
            started = time.perf_counter_ns()
            loaded.predict(frame)
            loaded.predict_proba(frame)
            both.append(time.perf_counter_ns() - started)
            scope = {
                "type": "http",
                "method": "POST",
                "path": "/predict",
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"authorization", f"Bearer {key}".encode()),
                ],
            }
            sent: list[Any] = []

            async def send(message: Any, sent: list[Any] = sent) -> None:
                sent.append(message)

            receive = await receive_from(body)
            started = time.perf_counter_ns()
            await gateway(scope, receive, send)
            served.append(time.perf_counter_ns() - started)
            assert sent[0]["status"] == 200, sent
        await gateway.shutdown()

    asyncio.run(run())
    return {
        "gateway_ms": statistics.median(served) / 1e6,
        "predict_ms": statistics.median(bare) / 1e6,
        "predict_proba_ms": statistics.median(both) / 1e6,
    }


# -- main -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--model", choices=["hgb", "logreg"], default="hgb")
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--stall-duration", type=float, default=20.0)
    parser.add_argument("--only-stall", action="store_true", help="only scenario 3")
    args = parser.parse_args(argv)
    if args.only_stall:
        args.skip_mlflow = True

    train_frame, test = load_adult("train"), load_adult("test")
    records = [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
        for row in test[FEATURES].head(1000).to_dict(orient="records")
    ]
    records = [{k: (None if v != v else v) for k, v in r.items()} for r in records]  # NaN
    model = train(args.model, train_frame)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GOVML_SERVER", None)
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="govml-bench-serving-") as tmp:
        folder = Path(tmp)
        home = folder / "home"
        home.mkdir()
        with console.status("registering, evaluating and promoting the model…"):
            key = governed_store(home, model, train_frame, test)
        govml_bodies = [orjson.dumps(r) for r in records]

        stalls: dict[str, dict[str, Any]] = {}
        if not args.skip_mlflow:
            with console.status("saving the model for mlflow…"):
                target = mlflow_model(model, folder)
            port = free_port()
            command = [
                str(MLFLOW_VENV / "bin" / "mlflow"),
                "models",
                "serve",
                "-m",
                str(target),
                "--env-manager",
                "local",
                "--port",
                str(port),
                "--workers",
                "1",
            ]
            # mlflow starts its server as `uvicorn ...`: its virtualenv must come first on PATH.
            path = f"{MLFLOW_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
            process = start(
                command,
                {**env, "PATH": path},
                f"http://127.0.0.1:{port}/ping",
                folder / "mlflow.out",
            )
            try:
                mlflow_bodies = [orjson.dumps({"dataframe_records": [r]}) for r in records]
                theirs = answers(port, "/invocations", mlflow_bodies[:200], "predictions")
                requests = [request_bytes("/invocations", body) for body in mlflow_bodies]
                with console.status(f"mlflow models serve: {args.duration:.0f} s of load…"):
                    results["mlflow models serve"] = load(
                        port, requests, args.clients, args.duration
                    )
            finally:
                stop(process)

        env_govml = {**env, "GOVML_HOME": str(home)}
        large, large_records = maximal_body(records, MAX_BODY_BYTES)
        for mode in ("--large-process", "--no-large-process"):
            port = free_port()
            command = [
                str(Path(sys.executable).with_name("govml")),
                "serve",
                MODEL,
                "--port",
                str(port),
                "--log-dir",
                str(folder / "predictions"),
                mode,
            ]
            ready = f"http://127.0.0.1:{port}/ready"
            process = start(command, env_govml, ready, folder / "govml.out")
            try:
                requests = [request_bytes("/predict", body, key) for body in govml_bodies]
                big = request_bytes("/predict", large, key)
                if mode == "--large-process":
                    ours = answers(port, "/predict", govml_bodies[:200], "predictions", key)
                    if not args.skip_mlflow and ours != theirs:
                        raise SystemExit("the two servers disagree: not the same model")
                    if not args.only_stall:
                        with console.status(f"govml serve: {args.duration:.0f} s of load…"):
                            results["govml serve"] = load(
                                port, requests, args.clients, args.duration
                            )
                    with console.status("starting the large-request process…"):
                        large_process_ready(port, large, key)
                name = "large process" if mode == "--large-process" else "in the gateway"
                with console.status(f"{name}: small requests alone…"):
                    stalls[f"{name}|alone"] = stall(
                        port, requests, None, args.clients, args.stall_duration
                    )
                    stalls[f"{name}|alone"]["load"] = os.getloadavg()[0]
                with console.status(
                    f"{name}: small requests with a {len(large) / 2**20:.1f} MiB request in "
                    f"flight: {args.stall_duration:.0f} s…"
                ):
                    stalls[f"{name}|large"] = stall(
                        port, requests, big, args.clients, args.stall_duration
                    )
                    stalls[f"{name}|large"]["load"] = os.getloadavg()[0]
            finally:
                stop(process)
        logged = sum(1 for _ in (folder / "predictions").rglob("*.parquet"))
        costs = None
        if not args.only_stall:
            from threadpoolctl import threadpool_limits

            with console.status("in-process overhead…"), threadpool_limits(1):  # as the servers
                costs = overhead(home, key, records)

    _print_stall(stalls, large_records, len(large), args)
    if costs is None:
        console.print(f"load average {os.getloadavg()}")
        return 0
    table = Table(
        title=f"one Adult record per request, {args.clients} keep-alive clients, "
        f"{args.duration:.0f} s, model {args.model}"
    )
    for column in ("server", "req/s", "p50 ms", "p99 ms", "requests"):
        table.add_column(column, justify="right" if column != "server" else "left")
    for name, result in results.items():
        table.add_row(
            name,
            f"{result['rps']:,.0f}",
            f"{result['p50_ms']:.2f}",
            f"{result['p99_ms']:.2f}",
            f"{result['requests']:,}",
        )
    console.print(table)
    if "mlflow models serve" in results:
        ratio = results["govml serve"]["rps"] / results["mlflow models serve"]["rps"]
        console.print(f"throughput ratio govml / mlflow: {ratio:.1f}×")
    console.print(
        f"in-process, one record: gateway {costs['gateway_ms']:.3f} ms median, bare "
        f"predict {costs['predict_ms']:.3f} ms, predict + predict_proba "
        f"{costs['predict_proba_ms']:.3f} ms; governance overhead over predict "
        f"{costs['gateway_ms'] - costs['predict_ms']:.3f} ms, over predict + predict_proba "
        f"{costs['gateway_ms'] - costs['predict_proba_ms']:.3f} ms"
    )
    console.print(f"prediction log: {logged} Parquet file(s); load average {os.getloadavg()}")
    return 0


def _print_stall(
    stalls: dict[str, dict[str, Any]], rows: int, size: int, args: argparse.Namespace
) -> None:
    table = Table(
        title=f"small requests ({args.clients} clients, one record each) while a "
        f"{size / 2**20:.1f} MiB columnar request ({rows:,} records) is sent back to back, "
        f"{args.stall_duration:.0f} s, model {args.model}"
    )
    for column in ("small requests", "count", "p50 ms", "p99 ms", "max ms", "large requests"):
        table.add_column(column, justify="right" if column != "small requests" else "left")
    table.add_column("load average", justify="right")
    for name, result in stalls.items():
        large = ""
        if "large" in result:
            large = f"{result['large']} (median {result['large_s']:.1f} s)"
        where, phase = name.split("|")
        table.add_row(
            f"{where}: " + ("alone" if phase == "alone" else "with the large one in flight"),
            f"{result['requests']:,}",
            f"{result['p50_ms']:.2f}",
            f"{result['p99_ms']:.2f}",
            f"{result['max_ms']:.1f}",
            large,
            f"{result['load']:.1f}" if "load" in result else "",
        )
    console.print(table)


if __name__ == "__main__":
    sys.exit(main())
