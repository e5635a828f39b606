"""Loader for the UCI Adult (Census Income) files, with their quirks handled.

The files have no header; every value after the first is preceded by a space; missing values
are written ``?``; the test file's labels end with a dot (``>50K.``) and the train file's do not.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from govml.errors import InputError

COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]
TARGET = "income"
CATEGORICAL = [
    "workclass",
    "education",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native_country",
]
NUMERIC = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss", "hours_per_week"]


def datasets_dir() -> Path:
    """Return the shared datasets folder: ``GOVML_DATASETS`` or ``../shared/datasets``.

    The relative path is tried from the working directory and from the repository root.
    """
    if env := os.environ.get("GOVML_DATASETS"):
        return Path(env)
    repo_root = Path(__file__).resolve().parents[3]
    for base in (Path.cwd(), repo_root):
        candidate = (base / ".." / "shared" / "datasets").resolve()
        if candidate.is_dir():
            return candidate
    return (Path.cwd() / ".." / "shared" / "datasets").resolve()


def load_adult(split: str = "train", folder: Path | None = None) -> pd.DataFrame:
    """Return the Adult ``train`` or ``test`` split with a 0/1 ``income`` target (1: >50K).

    Raises
    ------
    InputError
        When the file is missing or does not have the expected 15 columns.
    """
    if split not in ("train", "test"):
        raise InputError(f"unknown Adult split {split!r}: use 'train' or 'test'")
    path = (folder or datasets_dir()) / "adult" / f"adult-{split}.csv"
    if not path.is_file():
        raise InputError(
            f"Adult data not found at {path}",
            hint="set GOVML_DATASETS to the folder holding adult/adult-train.csv",
        )
    frame = pd.read_csv(
        path,
        header=None,
        names=COLUMNS,
        skipinitialspace=True,
        na_values=["?"],
        comment="|",  # the original test file starts with a "|1x3 Cross validator" line
        skip_blank_lines=True,
    )
    if frame.shape[1] != len(COLUMNS) or frame[TARGET].isna().any():
        raise InputError(f"{path}: expected {len(COLUMNS)} columns with an income label per row")
    labels = frame[TARGET].astype(str).str.strip().str.rstrip(".")
    unknown = sorted(set(labels) - {">50K", "<=50K"})
    if unknown:
        raise InputError(f"{path}: unexpected income labels {unknown[:5]}")
    frame[TARGET] = (labels == ">50K").astype("int64")
    return frame
