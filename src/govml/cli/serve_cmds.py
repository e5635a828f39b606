"""``govml serve NAME``: the serving gateway for the version holding an alias, on uvicorn."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from govml.cli.listen import check_can_listen
from govml.cli.output import print_ok
from govml.client import connect, settings_for
from govml.serving.options import HEADER_TIMEOUT_SECONDS, MIB, GatewayOptions

LOG_DIR = typer.Option(
    None, "--log-dir", help="Prediction log folder (default: $GOVML_HOME/predictions)."
)


def serve(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Registered model to serve."),
    alias: str = typer.Option("production", "--alias", help="Serve the version holding it."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="Port to listen on."),
    workers: int = typer.Option(
        1, "--workers", min=1, help="Worker processes (each keeps its own metrics)."
    ),
    log_dir: Path | None = LOG_DIR,
    max_body_bytes: int = typer.Option(
        8 * MIB, "--max-body-bytes", min=1, help="Larger request bodies get 413."
    ),
    poll_seconds: float = typer.Option(
        2.0, "--poll-seconds", min=0.05, help="How often alias and serving set-up are re-read."
    ),
    log_queue_records: int = typer.Option(
        100_000, "--log-queue", min=1, help="Records the prediction log holds in memory."
    ),
    log_wait_ms: int = typer.Option(
        2_000, "--log-wait-ms", min=0, help="Wait for room in a full log before answering 503."
    ),
    flush_seconds: float = typer.Option(
        5.0, "--flush-seconds", min=0.01, help="Longest a record waits before being written."
    ),
    metrics_auth: bool = typer.Option(
        False, "--metrics-auth", help="GET /metrics needs a gateway key with scope metrics."
    ),
    body_timeout: float = typer.Option(
        30.0, "--body-timeout", min=0.1, help="Seconds to receive a request's body (else 408)."
    ),
    header_timeout: float = typer.Option(
        HEADER_TIMEOUT_SECONDS,
        "--header-timeout",
        min=0.1,
        help="Seconds to receive a request's headers (else 408 and closed).",
    ),
    work_threads: int = typer.Option(
        2, "--work-threads", min=1, help="Threads for large requests, off the event loop."
    ),
    feedback_days: int = typer.Option(
        30, "--feedback-days", min=1, help="Labels are taken for requests up to this old."
    ),
    feedback_index: int = typer.Option(
        10_000_000,
        "--feedback-index",
        min=1,
        help="Requests and labels of the log indexed in memory to check labels.",
    ),
    large_process: bool = typer.Option(
        True,
        "--large-process/--no-large-process",
        help="Answer large requests in a second, lower-priority process (started when needed).",
    ),
    large_nice: int = typer.Option(
        10, "--large-nice", min=0, max=19, help="Nice value of the large-request process."
    ),
    large_restart_seconds: float = typer.Option(
        30.0,
        "--large-restart-seconds",
        min=0.1,
        help="Least seconds between two starts of the large-request process.",
    ),
) -> None:
    """Serve NAME's version holding ALIAS: validated predictions, a log, live version changes."""
    store = getattr(ctx.find_root().obj, "store", None)
    settings = settings_for(store)
    with connect(store) as client:
        client.get_model(name)  # an unknown model is a usage error, before anything starts
    check_can_listen(host, port)
    options = GatewayOptions(
        model=name,
        alias=alias,
        log_dir=(log_dir or settings.home / "predictions").resolve(),
        max_body_bytes=max_body_bytes,
        poll_seconds=poll_seconds,
        log_queue_records=log_queue_records,
        log_wait_ms=log_wait_ms,
        flush_seconds=flush_seconds,
        metrics_auth=metrics_auth,
        body_timeout_seconds=body_timeout,
        header_timeout_seconds=header_timeout,
        work_threads=work_threads,
        feedback_days=feedback_days,
        feedback_index_entries=feedback_index,
        large_process=large_process,
        large_nice=large_nice,
        large_restart_seconds=large_restart_seconds,
    )
    # Worker processes build the gateway from the environment: pin it to this store.
    if not (settings.server and store is None):
        os.environ["GOVML_HOME"] = str(settings.home.resolve())
        os.environ["GOVML_DATABASE_URL"] = settings.resolved_database_url()
        os.environ["GOVML_ARTIFACTS"] = settings.artifacts_location()
    os.environ.update(options.to_environment())
    from govml.store.db import safe_url

    where = settings.server or safe_url(settings.resolved_database_url())

    from govml.serving.runner import run_gateway

    sent = f", sent to {settings.server}" if settings.server and store is None else ""
    print_ok(
        f"serving {name}@{alias} from {where} on http://{host}:{port} "
        f"(prediction log: {options.log_dir}{sent})"
    )
    run_gateway(host=host, port=port, workers=workers)
