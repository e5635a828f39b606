"""Shared data and comparisons for the statistics engine tests (numpy, DuckDB, Spark)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from govml.datasets import DEFAULT_RELATIVE_ACCURACY, Profile, profile

REL = 1e-9


def same(a: Any, b: Any, path: str = "") -> None:
    """Assert two ``to_dict()`` trees are equal: counts exactly, float sums within 1e-9."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), f"{path}: keys {a.keys()} {b}"
        for key in a:
            same(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), f"{path}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool) and isinstance(b, int | float):
        assert type(a) is type(b) or float(a) == float(b), f"{path}: {a!r} vs {b!r}"
        if math.isnan(a):
            assert math.isnan(b), path
        else:
            assert math.isclose(a, b, rel_tol=REL, abs_tol=REL), f"{path}: {a!r} vs {b!r}"
    else:
        assert type(a) is type(b) and a == b, f"{path}: {a!r} ({type(a)}) vs {b!r} ({type(b)})"


def scoring_table(n: int = 6_000, seed: int = 0) -> pd.DataFrame:
    """Return a scoring table with nulls, NaN, infinities, weights and two sensitive features."""
    rng = np.random.default_rng(seed)
    gamma = (1 + DEFAULT_RELATIVE_ACCURACY) / (1 - DEFAULT_RELATIVE_ACCURACY)
    income = rng.lognormal(10, 1, n)
    # Values on sketch bucket boundaries, where the last bit of a logarithm decides.
    income[:60] = gamma ** np.arange(1900, 1960)
    debt = rng.normal(0, 1_000, n)
    debt[60:90] = -(gamma ** np.arange(-15, 15))
    debt[90:95] = 0.0
    debt[95:98] = np.nan
    debt[98] = np.inf
    debt[99] = -np.inf
    frame = pd.DataFrame(
        {
            "default": rng.integers(0, 2, n),
            "decision": rng.integers(0, 2, n),
            "score": rng.random(n),
            "grade": rng.choice(["A", "B", "C", "D"], n),
            "predicted_grade": rng.choice(["A", "B", "C", "D"], n),
            "sex": rng.choice(["female", "male", None], n, p=[0.45, 0.45, 0.1]),
            "age_band": rng.choice([1.0, 2.0, 3.0, np.nan], n),
            "weight": rng.random(n) * 3,
            "income": income,
            "debt": debt,
            "children": rng.integers(0, 5, n),
            "owner": rng.random(n) < 0.3,
            "region": rng.choice(["north", "south", "east", "west", None], n),
            "loss": rng.gamma(2.0, 100.0, n),
            "predicted_loss": rng.gamma(2.0, 100.0, n),
            "empty": pd.Series([None] * n, dtype="float64"),
        }
    )
    # Scores on bin edges (multiples of 1/100) go through the exact binning path.
    frame.loc[:20, "score"] = np.arange(21) / 100
    frame.loc[21, "score"] = 1.0
    return frame


def current_table(n: int = 5_000, seed: int = 1) -> pd.DataFrame:
    """Return later data of the same columns: shifted, with categories the reference lacks."""
    frame = scoring_table(n, seed)
    rng = np.random.default_rng(seed)
    frame["income"] = frame["income"] * 1.3
    frame["region"] = rng.choice(["north", "south", "island", "abroad", None], n)
    frame["grade"] = rng.choice(["A", "B", "E"], n)
    return frame


def write_parquet(frame: pd.DataFrame, folder: Path, parts: int = 3) -> Path:
    """Write ``frame`` as ``parts`` Parquet files in ``folder`` (an engine reads the folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    # NaN stays NaN (from_pandas would make it null); None in object columns is null.
    table = pa.table(
        {
            name: pa.array(frame[name].to_numpy(), from_pandas=frame[name].dtype == object)
            for name in frame.columns
        }
    )
    step = math.ceil(len(frame) / parts)
    for i in range(parts):
        pq.write_table(table.slice(i * step, step), folder / f"part-{i}.parquet")
    return folder


def reference_profile(frame: pd.DataFrame) -> Profile:
    """Return the profile of ``frame`` as registration records it."""
    return profile(frame)
