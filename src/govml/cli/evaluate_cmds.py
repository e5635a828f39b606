"""``govml evaluate`` and ``govml evaluations``: gate a version on a policy, read results back.

``govml evaluate`` exits 0 when every rule passes (warnings included), 1 when a rule fails
(bad data included: a failed data check, a model that cannot predict on the data) and 2 on
input or usage errors, so a CI job can gate on it directly. After the table it prints one
line per problem.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from govml.cli.common import JSON_OPTION, client
from govml.cli.output import console, err_console, print_json, print_table
from govml.client_protocol import GovmlClient
from govml.errors import InputError
from govml.evaluation import Evaluation
from govml.evaluation.engine_data import DEFAULT_SAMPLE_ROWS, ENGINES
from govml.evaluation.runners import stages
from govml.services.evaluation import DEFAULT_N_BOOT

app = typer.Typer(help="Read stored evaluations.", no_args_is_help=True)

STAGES = stages()
STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "red", "undefined": "magenta"}
REPORT_HELP = "Also write a report: .html (self-contained, with plots), .md or .json."


def evaluate(
    ctx: typer.Context,
    ref: str | None = typer.Argument(
        None,
        help="NAME@VERSION (or NAME@alias) to evaluate; omit to audit predictions made "
        "elsewhere (--prediction-column / --score-column with --label).",
    ),
    policy: str | None = typer.Option(
        None, "--policy", help="Policy file (default: the policy in force for the model's tier)."
    ),
    data: str = typer.Option(
        ...,
        "--data",
        help="Evaluation data (CSV or Parquet); with --engine spark a Parquet / Delta path "
        "Spark reads (a folder, s3a://…).",
    ),
    target: str = typer.Option(..., "--target", help="Column with the actual outcomes."),
    training_data: str | None = typer.Option(
        None,
        "--training-data",
        help="Training data (CSV or Parquet) for the policy's baseline and training_data sections.",
    ),
    sensitive: str | None = typer.Option(
        None,
        "--sensitive",
        help="Sensitive features, comma-separated (default: the policy's fairness.sensitive).",
        metavar="COL[,COL]",
    ),
    prediction_column: str | None = typer.Option(
        None, "--prediction-column", help="Column of predicted labels made elsewhere."
    ),
    score_column: str | None = typer.Option(
        None, "--score-column", help="Column of positive-class scores made elsewhere."
    ),
    pos_label: str | None = typer.Option(
        None,
        "--pos-label",
        help="The positive label, the class recall and scores are about (default: the larger "
        "one); the favourable outcome is the policy's fairness.favourable_label.",
    ),
    label: str | None = typer.Option(
        None, "--label", help="Name of what made outside predictions (without NAME@VERSION)."
    ),
    n_boot: int = typer.Option(
        DEFAULT_N_BOOT,
        "--n-boot",
        min=100,
        help="Bootstrap replicates for fairness rules with a confidence and no n_boot.",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and SHAP sampling."),
    report: str | None = typer.Option(None, "--report", help=REPORT_HELP, metavar="FILE"),
    engine: str | None = typer.Option(
        None,
        "--engine",
        help="spark: compute the statistics of every row where the data is (pip install "
        "'govml[spark]', Java 17); the model scores in a pandas UDF. Performance and a "
        "binary classifier's fairness on confusion counts read all rows; explainability and "
        "robustness a sample; data checks on the sample count only when they fail; other "
        "row checks are undefined, saying why.",
        metavar="ENGINE",
    ),
    sample_rows: int = typer.Option(
        DEFAULT_SAMPLE_ROWS,
        "--sample-rows",
        min=1,
        help="With --engine: rows read into memory for the checks that need rows.",
    ),
    json_out: bool = JSON_OPTION,
) -> None:
    """Check a version (or outside predictions) against a policy; store the evaluation.

    Exit 0 when all rules pass, 1 when a rule fails, 2 on input or usage errors.
    """
    fmt = _report_format(report)
    if engine is not None and engine not in ENGINES:
        raise InputError(
            f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}",
            hint="omit --engine to read the data into memory",
        )
    columns = [c.strip() for c in sensitive.split(",") if c.strip()] if sensitive else None
    with client(ctx) as opened, _progress(quiet=json_out) as step:
        if engine is not None and not _local(opened):
            raise InputError(
                f"--engine {engine} works with a local store: a server evaluates data sent to it",
                hint="run govml evaluate where Spark reaches the data, with GOVML_DATABASE_URL",
            )
        evaluation = opened.evaluate(
            ref,
            policy=policy,
            data=data,
            target=target,
            sensitive=columns,
            prediction_column=prediction_column,
            score_column=score_column,
            pos_label=pos_label,
            label=label,
            n_boot=n_boot,
            random_state=seed,
            progress=step,
            **({"training_data": training_data} if training_data else {}),
            **({"engine": engine, "sample_rows": sample_rows} if engine else {}),
        )
        if report is not None and fmt is not None:
            _write_report(opened, evaluation, Path(report), fmt)
    _print_evaluation(evaluation, json_out=json_out, report=report)
    raise typer.Exit(evaluation.exit_code)


@app.command("list")
def list_evaluations(
    ctx: typer.Context,
    model: str | None = typer.Option(None, "--model", help="Only this model's evaluations."),
    version: int | None = typer.Option(None, "--version", min=1, help="Only this version."),
    status: str | None = typer.Option(None, "--status", help="Only pass, warn or fail."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many, newest first."),
    json_out: bool = JSON_OPTION,
) -> None:
    """List stored evaluations, newest first."""
    if status is not None and status not in ("pass", "warn", "fail"):
        raise InputError(f"--status must be pass, warn or fail, not {status!r}")
    with client(ctx) as opened:
        found = opened.list_evaluations(model=model, version=version, status=status, limit=limit)
    if json_out:
        print_json([_summary(e) for e in found])
        return
    rows = [
        (
            e.id,
            escape(e.subject),
            _styled(e.status),
            e.document["policy"]["name"],
            _counts(e),
            e.document["started_at"],
            e.document["actor"],
        )
        for e in found
    ]
    print_table("evaluations", ["id", "subject", "status", "policy", "checks", "when", "by"], rows)


@app.command("show")
def show(
    ctx: typer.Context,
    evaluation_id: int = typer.Argument(..., help="Evaluation id (see `govml evaluations list`)."),
    report: str | None = typer.Option(None, "--report", help=REPORT_HELP, metavar="FILE"),
    json_out: bool = JSON_OPTION,
) -> None:
    """Show one evaluation: every check, its value, threshold and outcome."""
    fmt = _report_format(report)
    with client(ctx) as opened:
        evaluation = opened.get_evaluation(evaluation_id)
        if report is not None and fmt is not None:
            _write_report(opened, evaluation, Path(report), fmt)
    _print_evaluation(evaluation, json_out=json_out, report=report)


# -- helpers ---------------------------------------------------------------------------------


def _local(opened: GovmlClient) -> bool:
    from govml.client import Client

    return isinstance(opened, Client)


@contextmanager
def _progress(*, quiet: bool) -> Iterator[Any]:
    if quiet or not err_console.is_terminal:
        yield lambda _stage: None
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("evaluating", total=len(STAGES))

        def step(stage: str) -> None:
            done = STAGES.index(stage) if stage in STAGES else 0
            progress.update(task, completed=done, description=stage)

        yield step


def _report_format(report: str | None) -> Any:
    if report is None:
        return None
    from govml.reports import report_format

    return report_format(report)  # before any work: a wrong suffix fails fast


def _write_report(opened: GovmlClient, evaluation: Evaluation, path: Path, fmt: Any) -> None:
    from govml.reports import render

    text = render(
        evaluation.document,
        fmt,
        evidence=lambda name: opened.evaluation_evidence(evaluation, name),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _print_evaluation(evaluation: Evaluation, *, json_out: bool, report: str | None) -> None:
    if json_out:
        print_json(evaluation.document)
        return
    from govml.reports import terminal_table

    document = evaluation.document
    console.print(terminal_table(document))
    counts = _counts(evaluation)
    policy = document["policy"]
    console.print(
        f"evaluation {evaluation.id}: {escape(evaluation.subject)} against policy "
        f"{escape(policy['name'])} ({policy['digest'][:19]}…): {_styled(evaluation.status)} "
        f"({counts}) in {document['duration_s']:.2f} s"
    )
    for line in _problems(evaluation):
        console.print(escape(line), soft_wrap=True)
    for note in document.get("notes", []):
        console.print(f"[dim]note: {escape(note)}[/]", soft_wrap=True)
    if report is not None:
        console.print(f"report written to {escape(report)}")


def _problems(evaluation: Evaluation) -> list[str]:
    """Return one line per problem, never wrapped: what a CI log shows a reader first.

    A failing check is a line; undefined checks that count as failures are one line per
    reason (a failed data check leaves every check that reads predictions undefined).
    """
    lines: list[str] = []
    undefined: dict[str, int] = {}
    for check in evaluation.failed():
        if check["status"] == "undefined":
            reason = str(check["reason"])
            undefined[reason] = undefined.get(reason, 0) + 1
        else:
            lines.append(f"fail: {check['check']}: {check['message']}")
    for reason, count in undefined.items():
        lines.append(f"fail: {count} undefined check{'s' if count > 1 else ''}: {reason}")
    return lines


def _styled(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


def _counts(evaluation: Evaluation) -> str:
    summary = evaluation.document["summary"]
    parts = [
        f"{summary[key]} {key}" for key in ("pass", "warn", "fail", "undefined") if summary[key]
    ]
    return ", ".join(parts) or "no checks"


def _summary(evaluation: Evaluation) -> dict[str, Any]:
    document = evaluation.document
    return {
        "id": evaluation.id,
        "subject": document["subject"],
        "status": evaluation.status,
        "policy": document["policy"],
        "data": document["data"],
        "summary": document["summary"],
        "started_at": document["started_at"],
        "duration_s": document["duration_s"],
        "actor": document["actor"],
        "digest": evaluation.digest,
    }
