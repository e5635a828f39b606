"""``govml integrations``: the Grafana dashboard and Prometheus alerting rules govml ships."""

from __future__ import annotations

from pathlib import Path

import typer

from govml.cli.output import print_ok
from govml.errors import InputError

app = typer.Typer(no_args_is_help=True)  # named and described in govml.cli.main

OUT_OPTION = typer.Option(
    None, "--out", help="Write to this file instead of standard output.", metavar="PATH"
)
POLICY_OPTION = typer.Option(
    None,
    "--policy",
    help="Render this policy's monitoring.serving thresholds for --model instead.",
    metavar="FILE",
)
MODEL_OPTION = typer.Option(
    None, "--model", help="The model the policy's thresholds are for.", metavar="NAME"
)


def _emit(text: str, out: Path | None, what: str) -> None:
    if out is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{out}: cannot write the {what}: {exc.strerror}") from None
    print_ok(f"wrote the {what} to {out}")


@app.command("dashboard")
def dashboard(out: Path | None = OUT_OPTION) -> None:
    """Print the Grafana dashboard JSON (gateway traffic and latency, monitoring per model)."""
    from govml.integrations.observability import dashboard_text

    _emit(dashboard_text(), out, "Grafana dashboard")


@app.command("alert-rules")
def alert_rules(
    policy: Path | None = POLICY_OPTION,
    model: str | None = MODEL_OPTION,
    out: Path | None = OUT_OPTION,
) -> None:
    """Print Prometheus alerting rules: govml's defaults, or a policy's serving thresholds."""
    from govml.integrations import observability

    if policy is None and model is None:
        _emit(observability.alert_rules_text(), out, "Prometheus alerting rules")
        return
    if policy is None or model is None:
        raise InputError("give both --policy FILE and --model NAME (or neither for the defaults)")
    from govml.policy import load_policy

    loaded = load_policy(policy).policy
    monitoring = loaded.monitoring
    if monitoring is None or monitoring.serving is None:
        raise InputError(
            f"{policy}: the policy has no monitoring.serving section "
            "(for example serving: {p99_ms: 200, error_rate: 0.01})"
        )
    group = observability.serving_rules(model, monitoring.serving)
    _emit(observability.rules_file([group]), out, "Prometheus alerting rules")
