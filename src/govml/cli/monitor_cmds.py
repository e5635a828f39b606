"""``govml monitor``: judge a window of the prediction log, its history, labelling tasks.

``govml monitor NAME`` is ``govml monitor run NAME``. Exit codes of a run: 0 when the worst
status is ok, warn or insufficient, 1 at alert or critical (so cron and Airflow see it),
2 for usage or input errors. ``--every 1h`` loops until SIGTERM or SIGINT, which end it
cleanly after the run in progress (exit 0).
"""

from __future__ import annotations

import json
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.markup import escape

from govml.cli.common import JSON_OPTION, client
from govml.cli.output import console, print_json, print_ok, print_table
from govml.client_protocol import GovmlClient
from govml.errors import GovmlError, InputError
from govml.monitoring import DEFAULT_MIN_LABELS, DEFAULT_MIN_ROWS, MonitorRun, write_textfile
from govml.monitoring.records import RANK
from govml.monitoring.window import parse_length

STYLE = {
    "insufficient": "dim",
    "ok": "green",
    "warn": "yellow",
    "alert": "red",
    "critical": "bold red",
    "done": "green",
    "failed": "red",
    "skipped": "dim",
    "refused": "red",
}


class _RunByDefault(typer.core.TyperGroup):
    """A group whose first argument, when it is not a sub-command, goes to ``run``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


# Named and described in govml.cli.main.
app = typer.Typer(cls=_RunByDefault, no_args_is_help=True)

LOG_DIR = typer.Option(
    None,
    "--log-dir",
    help="Prediction log folder or s3://BUCKET/PREFIX (default: GOVML_PREDICTION_LOG, "
    "else $GOVML_HOME/predictions).",
    metavar="FOLDER",
)
WINDOW = typer.Option(
    None,
    "--window",
    help="Window length ending now or at --until: 30m, 6h, 1d, 1w.",
    metavar="LENGTH",
)
SINCE = typer.Option(
    None, "--since", help="Window start: 2026-11-24 or 2026-11-24T06:00Z.", metavar="TIME"
)
UNTIL = typer.Option(None, "--until", help="Window end (default: now).", metavar="TIME")
TEXTFILE = typer.Option(
    None,
    "--textfile",
    help="Write Prometheus gauges here (node_exporter textfile collector).",
    metavar="FILE",
)
OUT = typer.Option(
    ..., "--out", "-o", help="Label Studio tasks JSON file to write.", metavar="FILE"
)
TASKS_FILE = typer.Argument(
    ..., help="Label Studio JSON export of the annotated tasks.", metavar="FILE"
)
NAME = typer.Argument(..., help="Model name.", metavar="NAME")
VERSION = typer.Option(None, "--version", help="Only this version.", metavar="N")
ERR_EVERY = "--every runs on windows ending now: give --window, not --since/--until"


@app.command("run")
def run(
    ctx: typer.Context,
    name: str = NAME,
    window: str | None = WINDOW,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    log_dir: str | None = LOG_DIR,
    version: int | None = typer.Option(
        None, "--version", help="Judge only this version.", metavar="N"
    ),
    engine: str = typer.Option(
        "numpy",
        "--engine",
        help="What counts the window's drift statistics: numpy, or spark (pip install "
        "'govml[spark]', Java 17) for windows one machine should not hold.",
        metavar="ENGINE",
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Judge and print; store nothing, take no action."
    ),
    min_rows: int = typer.Option(
        DEFAULT_MIN_ROWS,
        "--min-rows",
        min=1,
        help="Served rows needed to judge drift.",
        metavar="N",
    ),
    min_labels: int = typer.Option(
        DEFAULT_MIN_LABELS,
        "--min-labels",
        min=1,
        help="Labelled rows needed to judge performance and fairness.",
        metavar="N",
    ),
    shap_rows: int | None = typer.Option(
        None, "--shap-rows", min=10, help="Rows explained for attribution drift.", metavar="N"
    ),
    every: str | None = typer.Option(
        None,
        "--every",
        help="Run again every 30m, 1h, 1d... until SIGTERM (for a container).",
        metavar="LENGTH",
    ),
    textfile: Path | None = TEXTFILE,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every check, ok ones too."),
    json_out: bool = JSON_OPTION,
) -> None:
    """Judge a window of NAME's prediction log against its references and the policy."""
    kwargs: dict[str, Any] = {
        "window": window,
        "since": since,
        "until": until,
        "log_dir": log_dir,
        "version": version,
        "dry_run": dry_run,
        "min_rows": min_rows,
        "min_labels": min_labels,
        "shap_rows": shap_rows,
        **({} if engine == "numpy" else {"engine": engine}),
    }
    with client(ctx) as opened:
        if every is None:
            result = _once(
                opened, name, kwargs, textfile=textfile, json_out=json_out, verbose=verbose
            )
            raise typer.Exit(1 if RANK[result.status] >= RANK["alert"] else 0)
        if since is not None or until is not None:
            raise InputError(ERR_EVERY)
        _loop(
            opened, name, kwargs, parse_length(every).total_seconds(), textfile, json_out, verbose
        )


def _once(
    opened: GovmlClient,
    name: str,
    kwargs: dict[str, Any],
    *,
    textfile: Path | None,
    json_out: bool,
    verbose: bool,
) -> MonitorRun:
    if json_out:
        result = opened.monitor(name, **kwargs)
    else:
        with console.status(f"monitoring {escape(name)}…"):
            result = opened.monitor(name, **kwargs)
    if textfile is not None and result.id is not None:
        write_textfile(textfile, [result])
    figures = _oversight(opened, name, kwargs.get("log_dir"), result)
    if json_out:
        out = result.to_dict()
        if figures is not None:
            out["oversight"] = figures
        print_json(out)
    else:
        show_run(result, verbose=verbose)
        if figures is not None and (figures["referred"] or figures["decided"]):
            _show_oversight(figures)
    return result


def _oversight(
    opened: GovmlClient, name: str, log_dir: str | None, result: MonitorRun
) -> dict[str, Any] | None:
    """Referral, override and agreement figures of the run's window (local store only)."""
    from govml.services.monitoring.run import log_root
    from govml.services.oversight_figures import oversight_figures

    ctx = getattr(opened, "ctx", None)
    if ctx is None:
        return None
    root = log_root(log_dir, ctx)
    local = None if isinstance(root, str) else root
    return oversight_figures(ctx, name, local, result.window.start, result.window.end)


def _show_oversight(figures: dict[str, Any]) -> None:
    def share(value: float | None) -> str:
        return "-" if value is None else f"{value:.1%}"

    print_table(
        f"human oversight: {figures['referred']} of {figures['records']} records referred, "
        f"{figures['decided']} decided, {figures['pending']} pending",
        ["group", "records", "referral rate", "decided", "override rate", "agreement"],
        [
            (
                row["group"],
                row["records"],
                share(row["referral_rate"]),
                row["decided"],
                share(row["override_rate"]),
                share(row["agreement"]),
            )
            for row in figures["by_group"]
        ],
    )


def _loop(
    opened: GovmlClient,
    name: str,
    kwargs: dict[str, Any],
    period: float,
    textfile: Path | None,
    json_out: bool,
    verbose: bool,
) -> None:
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        console.print(f"{_now()} received {signal.Signals(signum).name}: stopping after this run")
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    runs = 0
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                _once(opened, name, kwargs, textfile=textfile, json_out=json_out, verbose=verbose)
            except GovmlError as exc:
                if runs == 0:
                    raise
                console.print(f"{_now()} [red]run failed:[/] {escape(exc.diagnostics())}")
            _purge(opened, name, kwargs.get("log_dir"), json_out)
            runs += 1
            wait = max(period - (time.monotonic() - started), 0.0)
            if not json_out:
                console.print(f"{_now()} next run in {wait:.0f} s")
            stop.wait(wait)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    console.print(f"{_now()} stopped after {runs} run(s)")


def _purge(opened: GovmlClient, name: str, log_dir: str | None, quiet: bool) -> None:
    """Purge the log past the policy's retention.days after a run (local log, when set)."""
    from govml.services.monitoring.run import log_root
    from govml.services.retention import RetentionService

    ctx = getattr(opened, "ctx", None)
    if ctx is None:
        return
    root = log_root(log_dir, ctx)
    if isinstance(root, str) or not root.is_dir():
        return
    service = RetentionService(ctx)
    if getattr(service.retention(name), "days", None) is None:
        return
    try:
        removal = service.purge(name, root)
    except GovmlError as exc:
        console.print(f"{_now()} [yellow]log not purged:[/] {escape(exc.diagnostics())}")
        return
    if removal.files and not quiet:
        console.print(f"{_now()} purged {removal.rows} rows in {len(removal.files)} log files")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def show_run(result: MonitorRun, *, verbose: bool = False) -> None:
    """Print a run for a person: status per version, flagged checks, actions, notes."""
    style = STYLE[result.status]
    stored = "dry run, nothing stored" if result.id is None else f"run {result.id}"
    console.print(
        f"{_now()} {escape(result.model)}: [{style}]{result.status}[/] over {result.window} "
        f"({stored}, {result.duration_s:.1f} s)"
    )
    for report in result.versions:
        console.print(
            f"  version {report.version}: [{STYLE[report.status]}]{report.status}[/], "
            f"{report.rows:,} rows, {report.labelled:,} labelled"
        )
        shown = report.checks if verbose else [c for c in report.checks if c.status != "ok"]
        hidden = len(report.checks) - len(shown)
        for check in shown:
            console.print(
                f"    [{STYLE[check.status]}]{check.status:<12}[/] {escape(check.check)}: "
                f"{escape(check.message)}"
            )
        if hidden:
            console.print(f"    [green]ok[/]           {hidden} more check(s)")
        for note in report.notes:
            console.print(f"    [dim]note: {escape(note)}[/]")
    for action in result.actions:
        seq = "" if action.ledger_seq is None else f" (ledger entry {action.ledger_seq})"
        console.print(
            f"  {action.action} [{STYLE[action.status]}]{action.status}[/]: "
            f"{escape(action.detail)}{seq}"
        )
    for note in result.notes:
        console.print(f"  [dim]note: {escape(note)}[/]")


@app.command("history")
def history(
    ctx: typer.Context,
    name: str = NAME,
    check: str | None = typer.Option(
        None,
        "--check",
        help="One check (data_drift:age) or a category (data_drift).",
        metavar="CHECK",
    ),
    version: int | None = VERSION,
    limit: int = typer.Option(200, "--limit", min=1, help="Newest points to show.", metavar="N"),
    json_out: bool = JSON_OPTION,
) -> None:
    """Show the time series of NAME's monitoring checks, oldest first."""
    with client(ctx) as opened:
        points = opened.monitor_history(name, version=version, check=check, limit=limit)
    if json_out:
        print_json([p.to_dict() for p in points])
        return
    print_table(
        f"monitoring history of {name}",
        ["run", "window end", "version", "check", "status", "value"],
        [
            (
                p.run_id,
                p.window_end.strftime("%Y-%m-%d %H:%M"),
                p.version,
                p.check,
                p.status,
                "" if p.value is None else f"{p.value:.4g}",
            )
            for p in points
        ],
    )


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = NAME,
    run_id: int = typer.Argument(..., help="Run id (from `govml monitor history`).", metavar="RUN"),
    json_out: bool = JSON_OPTION,
) -> None:
    """Show one stored monitoring run with its actions."""
    with client(ctx) as opened:
        result = opened.monitor_run(name, run_id)
    if json_out:
        print_json(result.to_dict())
    else:
        show_run(result, verbose=True)


@app.command("export-tasks")
def export_tasks(
    ctx: typer.Context,
    name: str = NAME,
    out: Path = OUT,
    window: str | None = WINDOW,
    since: str | None = SINCE,
    until: str | None = UNTIL,
    log_dir: Path | None = LOG_DIR,
    limit: int = typer.Option(100, "--limit", min=1, help="Most tasks to export.", metavar="N"),
    below: float | None = typer.Option(
        None,
        "--below",
        help="Only predictions whose top class probability is under this.",
        metavar="PROBABILITY",
    ),
) -> None:
    """Export the window's least confident predictions as Label Studio tasks."""
    with client(ctx) as opened:
        tasks = opened.export_labelling_tasks(
            name, window=window, since=since, until=until, log_dir=log_dir, limit=limit, below=below
        )
    out.write_text(json.dumps(tasks, indent=2, default=str), encoding="utf-8")
    print_ok(f"{len(tasks)} labelling task(s) written to {out}")


@app.command("import-labels")
def import_labels(
    ctx: typer.Context,
    name: str = NAME,
    path: Path = TASKS_FILE,
    log_dir: Path | None = LOG_DIR,
    from_name: str | None = typer.Option(
        None,
        "--from-name",
        help="The Choices control holding the label (default: any).",
        metavar="NAME",
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Import the labels of annotated Label Studio tasks as feedback."""
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    with client(ctx) as opened:
        result = opened.import_labels(name, tasks, log_dir=log_dir, from_name=from_name)
    if json_out:
        print_json(result)
        return
    print_ok(f"{result['written']} label(s) written to {result['file'] or 'no file'}")
    for item in result["skipped"][:20]:
        console.print(f"  skipped {escape(json.dumps(item))}")
    if len(result["skipped"]) > 20:
        console.print(f"  … and {len(result['skipped']) - 20} more skipped")
