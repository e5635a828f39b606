"""Per-decision explanation overhead at the gateway, beside SHAP's explainers called directly.

For the demo's HistGradientBoosting pipeline (one-hot categoricals, scaled numerics, on UCI
Adult) and a logistic regression over the same encoder, each of ``--records`` test records is
explained alone, as ``POST /predict?explain=3`` does for a one-record request:

* ``score`` — the gateway's model call (predictions and probabilities, keeping the
  pipeline's transformed rows), for scale;
* ``govml explain overhead`` — :func:`govml.serving.reasons.explain_records` after that
  call, as the gateway runs it: the contributions (TreeSHAP / exact linear) on the scorer's
  transformed row, summing back to input columns, the top 3 and their reason codes;
* ``shap direct`` — ``shap.TreeExplainer(model).shap_values`` /
  ``shap.LinearExplainer(model, masker).shap_values`` on the same transformed row
  (explainers built once, as the gateway builds its own once per version).

Figures are per record in milliseconds: p50, p95 and the mean; the goal is a p50 of at most
5 ms for the tree model. The explainers run with one thread. Results are in
benchmarks/README.md ("Explanations").

    .venv/bin/python benchmarks/bench_explain.py            # --records 300
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pandas as pd
import shap
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from govml.datasets import profile
from govml.demo.adult import CATEGORICAL, NUMERIC, TARGET, load_adult
from govml.demo.run import build_pipeline
from govml.domain.signature import infer_signature
from govml.flavors import flavor_for
from govml.policy.decisions import ReasonCode, ReasonCodes
from govml.serving.explain import DecisionExplainer
from govml.serving.reasons import explain_records
from govml.serving.scoring import Scorer


def _times(function: Callable[[int], object], count: int) -> list[float]:
    out = []
    for index in range(count):
        started = time.perf_counter()
        function(index)
        out.append((time.perf_counter() - started) * 1000)
    return out


def _row(name: str, kind: str, values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    return (
        f"| {name} | {kind} | {statistics.median(values):.2f} | {p95:.2f} | "
        f"{statistics.fmean(values):.2f} |"
    )


def _case(
    name: str, model: Pipeline, X: pd.DataFrame, rows: pd.DataFrame, codes: ReasonCodes
) -> None:
    features = list(X.columns)
    serialized = flavor_for(model).dump(model)
    loaded = flavor_for(model).load(serialized.data, serialized.options)
    inputs = tuple(infer_signature(X, model.predict(X.head(5))).inputs)
    explainer = DecisionExplainer(loaded, inputs, profile(X).to_dict(), "adult@1")
    scorer = Scorer(loaded, probabilities=True)
    frames = [rows.iloc[[i]].reset_index(drop=True) for i in range(len(rows))]
    values = [{c: frame[c].tolist() for c in features} for frame in frames]
    scored = [scorer.with_features(frame) for frame in frames]
    if explainer.method == "tree_shap":
        direct = shap.TreeExplainer(model[-1])
    else:
        assert explainer.baseline is not None
        background = model[:-1].transform(explainer.baseline)
        direct = shap.LinearExplainer(
            model[-1], shap.maskers.Independent(background, max_samples=1)
        )

    def score(i: int) -> object:
        return scorer.with_features(frames[i])

    def ours(i: int) -> object:
        predictions, _, transformed = scored[i]
        return explain_records(explainer, frames[i], values[i], predictions, 3, codes, transformed)

    def theirs(i: int) -> object:
        return direct.shap_values(scored[i][2])

    for function in (score, ours, theirs):
        function(0)  # warm up
    count = len(frames)
    print(_row(name, "score (predict + probabilities), for scale", _times(score, count)))
    print(
        _row(
            name,
            f"govml explain overhead ({explainer.method}, top 3 + reasons)",
            _times(ours, count),
        )
    )
    print(_row(name, "shap direct: shap_values on the transformed row", _times(theirs, count)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=300)
    args = parser.parse_args()
    train, test = load_adult("train"), load_adult("test")
    features = [*CATEGORICAL, *NUMERIC]
    X, y = train[features], train[TARGET]
    rows = test[features].head(args.records).reset_index(drop=True)
    tree_model = build_pipeline().fit(X, y)
    linear_model = Pipeline(
        [("encode", build_pipeline()[0]), ("model", LogisticRegression(max_iter=1000))]
    ).fit(X, y)
    codes = ReasonCodes(
        adverse_outcome=str(tree_model.classes_[0]),
        codes=[ReasonCode(feature=f, code=f"R{i:02d}", text=f) for i, f in enumerate(features)],
    )
    print(f"{len(rows)} records, one at a time; milliseconds per record\n")
    print("| model | path | p50 | p95 | mean |")
    print("|---|---|---:|---:|---:|")
    _case("HistGradientBoosting pipeline", tree_model, X, rows, codes)
    _case("logistic regression", linear_model, X, rows, codes)


if __name__ == "__main__":
    main()
