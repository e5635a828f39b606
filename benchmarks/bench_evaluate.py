"""`govml evaluate` end to end on the Adult test set with the example policy, split by stage.

Usage::

    .venv/bin/python benchmarks/bench_evaluate.py [--repeats 3] [--fairlearn-boot 50]

Trains the demo's pipeline on the Adult training split, registers it in a temporary store,
and times ``client.evaluate`` on the 16,281 test rows with
``examples/policies/credit-high-risk.yaml``: every data, performance, fairness,
explainability (SHAP on a sample), security (licenses, OSV vulnerabilities, SBOM) and
documentation check, 1,000 bootstrap replicates, evidence and ledger entry stored. The
time per stage is the median over ``--repeats`` runs.

The anchor does the fairness part the way a Fairlearn user would: a MetricFrame over
sex, race and their intersection with Fairlearn's own bootstrap (``n_boot``), timed with
``--fairlearn-boot`` replicates and scaled to 1,000 (its cost is linear in the replicates).
Needs the shared datasets (``../shared/datasets`` or ``GOVML_DATASETS``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

from rich.console import Console
from rich.table import Table

import govml
from govml.demo.adult import CATEGORICAL, NUMERIC, TARGET, datasets_dir, load_adult
from govml.demo.run import build_pipeline

POLICY = Path(__file__).resolve().parents[1] / "examples" / "policies" / "credit-high-risk.yaml"
STAGES = (
    "setup",
    "data",
    "security",
    "predict",
    "data_checks",
    "performance",
    "fairness",
    "explainability",
    "documentation",
    "drift",
    "store",
)


def fairlearn_anchor(test: object, y_pred: object, n_boot: int) -> float:
    """Seconds Fairlearn's MetricFrame takes for sex, race and sex x race with ``n_boot``."""
    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )

    frame = test  # a pandas DataFrame
    metrics = {
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
    }
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for features in (["sex"], ["race"], ["sex", "race"]):
            MetricFrame(
                metrics=metrics,
                y_true=frame[TARGET],  # type: ignore[index]
                y_pred=y_pred,
                sensitive_features=frame[features],  # type: ignore[index]
                n_boot=n_boot,
                ci_quantiles=[0.025, 0.975],
                random_state=0,
            )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fairlearn-boot", type=int, default=50)
    args = parser.parse_args()
    console = Console(highlight=False)
    if not (datasets_dir() / "adult").is_dir():
        console.print(f"the Adult data is not in {datasets_dir()}; nothing to measure")
        return 2

    train, test = load_adult("train"), load_adult("test")
    features = CATEGORICAL + NUMERIC
    pipeline = build_pipeline().fit(train[features], train[TARGET])
    runs: list[dict[str, float]] = []
    checks = 0
    with tempfile.TemporaryDirectory() as home:
        client = govml.connect(home, user="bench", create=True)
        client.init()
        client.create_model(
            "adult-income",
            risk_tier="high",
            owner="bench@example.com",
            intended_use="benchmark",
            out_of_scope_use="decisions",
            description="benchmark model",
        )
        client.set_tag("adult-income", "limitations", "benchmark only")
        version = client.register_version(
            "adult-income", model=pipeline, train_data=train, validation_data=test, target=TARGET
        )
        for _ in range(args.repeats):
            started = time.perf_counter()
            evaluation = client.evaluate(version.ref, policy=POLICY, data=test, target=TARGET)
            timings = dict(evaluation.document["timings"])
            timings["wall"] = time.perf_counter() - started
            runs.append(timings)
            checks = len(evaluation.checks)
        client.close()
    y_pred = pipeline.predict(test[features])
    anchor = fairlearn_anchor(test, y_pred, args.fairlearn_boot)
    scaled = anchor * 1000 / args.fairlearn_boot

    table = Table(title=f"govml evaluate on Adult test ({len(test):,} rows, {checks} checks)")
    table.add_column("stage")
    table.add_column("seconds (median)", justify="right")
    for stage in (*STAGES, "total", "wall"):
        values = [run.get(stage, 0.0) for run in runs]
        table.add_row(stage, f"{statistics.median(values):.3f}")
    console.print(table)
    fairness = statistics.median(run.get("fairness", 0.0) for run in runs)
    anchor_table = Table(title="fairness with 1,000 bootstrap replicates (sex, race, sex x race)")
    anchor_table.add_column("tool")
    anchor_table.add_column("seconds", justify="right")
    anchor_table.add_column("speed-up", justify="right")
    anchor_table.add_row(
        f"Fairlearn MetricFrame (n_boot={args.fairlearn_boot}, scaled to 1,000)",
        f"{scaled:.1f}",
        "1x",
    )
    anchor_table.add_row(
        "govml (all fairness rules)", f"{fairness:.3f}", f"{scaled / fairness:.0f}x"
    )
    console.print(anchor_table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
