"""``make demo``: train on Adult, register with lineage, show the version, verify the ledger."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.table import Table
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import govml
from govml.demo.adult import CATEGORICAL, NUMERIC, TARGET, load_adult
from govml.errors import GovmlError

MODEL = "adult-income"
console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)


def build_pipeline(seed: int = 0, max_iter: int = 200) -> Pipeline:
    """Return the demo's scikit-learn pipeline (one-hot categoricals, scaled numerics, GBM)."""
    encode = ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="ignore", min_frequency=20), CATEGORICAL),
            ("numeric", StandardScaler(), NUMERIC),
        ],
        sparse_threshold=0.0,
    )
    model = HistGradientBoostingClassifier(max_iter=max_iter, learning_rate=0.1, random_state=seed)
    return Pipeline([("encode", encode), ("model", model)])


def main() -> int:
    """Run the demo; return the process exit code."""
    client = govml.connect()
    try:
        return _run(client)
    except GovmlError as exc:
        console.print(f"[red]error:[/] {exc.diagnostics()}")
        return exc.exit_code
    finally:
        client.close()


def _run(client: govml.Client) -> int:
    console.rule("[bold]govml demo: UCI Adult income model")
    with console.status("loading the Adult data…"):
        train = load_adult("train")
        test = load_adult("test")
    console.print(f"train {len(train):,} rows, test {len(test):,} rows, target '{TARGET}'")

    features = CATEGORICAL + NUMERIC
    pipeline = build_pipeline()
    started = time.perf_counter()
    with console.status("training a HistGradientBoosting pipeline…"):
        pipeline.fit(train[features], train[TARGET])
    scores = pipeline.predict_proba(test[features])[:, 1]
    metrics = {
        "accuracy": round(float(accuracy_score(test[TARGET], scores >= 0.5)), 6),
        "roc_auc": round(float(roc_auc_score(test[TARGET], scores)), 6),
    }
    console.print(
        f"trained in {time.perf_counter() - started:.1f} s: accuracy {metrics['accuracy']:.4f}, "
        f"ROC AUC {metrics['roc_auc']:.4f} on the test split"
    )

    client.init()
    names = {m.name for m in client.list_models()}
    if MODEL not in names:
        client.create_model(
            MODEL,
            risk_tier="high",
            intended_use="Estimate whether annual income exceeds 50K USD, for research on "
            "fair credit pre-screening.",
            out_of_scope_use="Decisions about individuals without human review.",
            description="Gradient-boosted trees on the 1994 US census extract (UCI Adult).",
            tags={"domain": "credit", "dataset": "uci-adult"},
        )
        console.print(f"created model [bold]{MODEL}[/] (risk tier high)")

    with console.status("fingerprinting data and registering the version…"):
        version = client.register_version(
            MODEL,
            model=pipeline,
            train_data=train,
            validation_data=test,
            target=TARGET,
            params=pipeline.named_steps["model"].get_params(),
            metrics=metrics,
            description="Demo version trained by `make demo`.",
        )
    console.print(f"registered [bold]{version.ref}[/]")
    lineage = Table(show_header=False, box=None, padding=(0, 2))
    lineage.add_column(style="bold")
    lineage.add_column(overflow="fold")
    lineage.add_row("artifact", f"{version.artifact_digest} ({version.artifact_size:,} bytes)")
    for ref in version.datasets:
        lineage.add_row(f"{ref.role} data", f"{ref.digest} ({ref.row_count:,} rows)")
    commit = version.code.get("git_commit")
    dirty = " (dirty)" if version.code.get("git_dirty") else ""
    lineage.add_row("code", f"{commit or 'not in a git repository'}{dirty}")
    env = version.environment
    lineage.add_row(
        "environment",
        f"Python {env['python']}, {len(env['packages'])} packages, {env['lock_digest']}",
    )
    console.print(lineage)

    loaded = client.load_model(version.ref)
    same = (loaded.predict(test[features]) == pipeline.predict(test[features])).all()
    console.print(f"reloaded {version.ref} from the artifact store: predictions identical: {same}")

    result = client.verify_ledger()
    console.print(
        f"[green]ledger verified[/]: {result.entries} entries, root {result.root_hash[:16]}…, "
        f"records match it ({result.models} model(s), {result.versions} version(s))"
    )
    console.print("next: `.venv/bin/govml versions list adult-income`, `.venv/bin/govml audit log`")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
