"""How fast the command line answers: each command timed in fresh processes.

Every figure is the median (and the minimum) of ``--runs`` fresh interpreters, beside two
anchors measured in the same run: ``python -c pass`` (the interpreter alone) and
``python -c "import typer"`` (a bare Typer program), so a busy machine slows them alike. The
store is a SQLite store made by ``govml init`` with one model and one registered version.

``--source DIR`` runs the commands against another checkout's ``src`` folder (``git archive
COMMIT src | tar -x -C DIR``), for before / after figures; the results table is in
benchmarks/README.md ("Command line").

    .venv/bin/python benchmarks/bench_cli.py                 # --runs 10
    .venv/bin/python benchmarks/bench_cli.py --source /tmp/govml-before/src
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

GOVML = [sys.executable, "-c", "from govml.cli.main import run; run()"]


@dataclass(frozen=True)
class Case:
    """One command line to time, and the target it should meet on an idle machine."""

    name: str
    argv: Sequence[str]
    target_s: float | None = None


CASES = (
    Case("python -c pass", [sys.executable, "-c", "pass"]),
    Case('python -c "import typer"', [sys.executable, "-c", "import typer"]),
    Case('python -c "import govml"', [sys.executable, "-c", "import govml"]),
    Case("govml --help", [*GOVML, "--help"], 0.35),
    Case(
        "govml versions show credit@1 --json",
        [*GOVML, "versions", "show", "credit@1", "--json"],
        0.8,
    ),
    Case("govml models list", [*GOVML, "models", "list"]),
    Case("govml audit verify", [*GOVML, "audit", "verify"], 1.0),
)


def build_store(home: Path, env: dict[str, str]) -> None:
    """Make a store with one model and one version (a small scikit-learn model)."""
    import numpy as np
    import pandas as pd
    import skops.io
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200)})
    frame["y"] = (frame["a"] > 0).astype(int)
    model = LogisticRegression().fit(frame[["a", "b"]], frame["y"])
    artifact = home.parent / "model.skops"
    artifact.write_bytes(skops.io.dumps(model))
    data = home.parent / "train.parquet"
    frame.to_parquet(data)
    for argv in (
        ["init"],
        ["models", "create", "credit", "--risk-tier", "high"],
        ["versions", "register", "credit", "--artifact", str(artifact), "--train-data", str(data)],
    ):
        subprocess.run([*GOVML, *argv], env=env, check=True, capture_output=True)


def time_case(case: Case, env: dict[str, str], runs: int) -> list[float]:
    """Return the wall time of ``runs`` fresh processes running ``case``."""
    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(case.argv, env=env, capture_output=True, check=False)
        seconds.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{case.name} failed: {done.stderr.decode()}")
    return seconds


def main(argv: Sequence[str] | None = None) -> int:
    """Time every case and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10, help="fresh processes per command")
    parser.add_argument("--source", type=Path, help="the src folder of another checkout")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as folder:
        home = Path(folder) / "home"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOVML_")}
        env.update(GOVML_HOME=str(home), GOVML_USER="bench")
        build_store(home, env)
        if args.source is not None:
            env["PYTHONPATH"] = str(args.source.resolve())
        print(f"load average before: {os.getloadavg()[0]:.2f}; {args.runs} runs each\n")
        print("| command | median s | min s | target s |")
        print("|---|---:|---:|---:|")
        for case in CASES:
            seconds = time_case(case, env, args.runs)
            target = "" if case.target_s is None else f"≤ {case.target_s:g}"
            print(
                f"| `{case.name}` | {statistics.median(seconds):.3f} | {min(seconds):.3f} "
                f"| {target} |",
                flush=True,
            )
        print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
