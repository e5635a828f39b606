"""Synthetic prediction and feedback logs in the gateway's Parquet layout (plain pyarrow)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

TIME = pa.timestamp("us", tz="UTC")


def write_predictions(
    root: Path,
    model: str,
    version: int,
    inputs: pd.DataFrame,
    predictions: Sequence[Any],
    probabilities: np.ndarray | None,
    *,
    start: datetime,
    spacing: timedelta = timedelta(seconds=1),
    prefix: str = "r",
    variant: str = "champion",
    classes: Sequence[Any] = (0, 1),
) -> list[str]:
    """Write one file per UTC day; return the request ids (one record per request)."""
    n = len(inputs)
    times = [start + spacing * i for i in range(n)]
    ids = [f"{prefix}-{i}" for i in range(n)]
    frame = inputs.reset_index(drop=True)
    days = pd.Series([t.date() for t in times])
    for day, index in days.groupby(days).groups.items():
        rows = np.asarray(list(index))
        columns: dict[str, Any] = {
            "request_id": pa.array([ids[i] for i in rows], type=pa.string()),
            "record": pa.array(np.zeros(len(rows), dtype=np.int32)),
            "time": pa.array([times[i] for i in rows], type=TIME),
            "variant": pa.array([variant] * len(rows), type=pa.string()),
            "inputs": pa.StructArray.from_arrays(
                [pa.array(frame[c].to_numpy()[rows]) for c in frame.columns],
                names=list(frame.columns),
            ),
            "inputs_json": pa.array([frame.iloc[i].to_json() for i in rows], type=pa.string()),
            "prediction": pa.array(np.asarray(predictions)[rows]),
        }
        if probabilities is not None:
            columns["probabilities"] = pa.StructArray.from_arrays(
                [pa.array(probabilities[rows, j]) for j in range(probabilities.shape[1])],
                names=[str(c) for c in classes],
            )
        columns["latency_ms"] = pa.array(np.full(len(rows), 1.0))
        folder = root / f"model={model}" / f"version={version}" / f"date={day.isoformat()}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(columns), folder / f"part-{prefix}-{version}.parquet")
    return ids


def write_feedback(
    root: Path,
    model: str,
    request_ids: Sequence[str],
    labels: Sequence[Any],
    *,
    when: datetime,
    extra: dict[str, Sequence[Any]] | None = None,
    name: str = "part-feedback.parquet",
) -> None:
    """Write one feedback file (``record`` 0 for every request) dated ``when``."""
    columns: dict[str, Any] = {
        "request_id": pa.array(list(request_ids), type=pa.string()),
        "record": pa.array(np.zeros(len(request_ids), dtype=np.int32)),
        "time": pa.array([when] * len(request_ids), type=TIME),
        "label": pa.array(np.asarray(labels)),
    }
    for key, values in (extra or {}).items():
        columns[key] = pa.array(list(values))
    folder = root / f"model={model}" / "feedback" / f"date={when.date().isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), folder / name)
