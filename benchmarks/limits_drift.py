"""Data drift against the machine's floor and against Evidently (bench_limits' drift rows).

The data are those of ``bench_drift.py``: 25 columns (20 numeric, 5 string), 1,000,000 rows
a side by default, 6 numeric and 1 string column of the current side shifted, written once
to Parquet. Each govml step and Evidently run in a fresh process (``bench_drift.measure``):

- ``data_drift(reference frame, current frame)``: two pandas DataFrames, what Evidently is
  given; above 100,000 rows the reference is profiled with the stored profile's sketches
  and the current frame counted against it batch by batch;
- the same with ``method="exact"`` (every test on the raw values);
- profiling the reference, done once when a model version is registered;
- drift against that stored profile, current table in memory (what monitoring runs).

The floor is one vectorised pass per column and side over the same DataFrames, in this
process: for a number column the finite values counted on 32 equal-width bins (``np.bincount``
on the bin codes), for a string column ``pandas.factorize`` and a bincount of the codes. It
reads every value once and does nothing else; any drift test reads at least that.

``seconds`` is the best of three runs (one run for Evidently); "same" counts the columns
where govml ran Evidently's test and reached its decision.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

import bench_drift

CASES = (
    ("frames", "data_drift on two raw DataFrames"),
    ("exact", "data_drift, method='exact'"),
    ("profile", "profile the reference (once, at registration)"),
    ("table", "data_drift vs stored profile, current in memory"),
)


def bincount_floor(frames: list[pd.DataFrame]) -> None:
    """One pass over every column of both frames: equal-width bin counts or category codes."""
    for frame in frames:
        for name in frame.columns:
            column = frame[name]
            if column.dtype == object:
                codes, _ = pd.factorize(column)
                np.bincount(codes[codes >= 0])
                continue
            values = column.to_numpy(dtype=np.float64)
            finite = values[np.isfinite(values)]
            low, high = finite.min(), finite.max()
            scale = 31.999 / (high - low) if high > low else 0.0
            np.bincount(((finite - low) * scale).astype(np.intp), minlength=32)


def drift_rows(rows: int = 1_000_000, evidently: bool = True) -> list[dict[str, Any]]:
    """Return the drift rows of bench_limits: govml, the floor, Evidently and the ratios.

    Each row has ``case``, ``govml_s``, ``floor_s``, ``anchor``, ``anchor_s``, ``x_floor``
    (govml / floor), ``speedup`` (anchor / govml) and ``same`` (columns decided as
    Evidently did, ``"25/25"``, or None).
    """
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        for side, shifted, seed in (("reference", False, 1), ("current", True, 2)):
            table = bench_drift.make_table(rows, shifted=shifted, seed=seed)
            pq.write_table(
                table, data / f"{side}.parquet", row_group_size=bench_drift.ROW_GROUP_ROWS
            )
        frames = [pq.read_table(data / f"{side}.parquet").to_pandas() for side in bench_drift.SIDES]
        floor_s = min(_timed(bincount_floor, frames) for _ in range(3))
        del frames
        anchor = bench_drift.measure("evidently", data) if evidently else None
        measured = {step: bench_drift.measure(step, data) for step, _ in CASES}
    out = []
    for step, label in CASES:
        result = measured[step]
        anchor_s = anchor["seconds"] if anchor is not None and step != "profile" else None
        same = None
        if anchor is not None and "decisions" in result:
            agree = sum(
                result["decisions"][c] == anchor["decisions"][c]
                and bench_drift.EVIDENTLY_NAMES[result["tests"][c]] == anchor["tests"][c]
                for c in anchor["decisions"]
            )
            same = f"{agree}/{len(anchor['decisions'])}"
        out.append(
            {
                "case": label,
                "govml_s": result["seconds"],
                "floor_s": floor_s,
                "anchor": "Evidently DataDriftPreset" if anchor_s else None,
                "anchor_s": anchor_s,
                "x_floor": result["seconds"] / floor_s,
                "speedup": anchor_s / result["seconds"] if anchor_s else None,
                "same": same,
            }
        )
    return out


def _timed(action: Any, *args: Any) -> float:
    start = time.perf_counter()
    action(*args)
    return time.perf_counter() - start
