"""Turn the Statlog German credit file into named training and validation tables.

    python prepare_german_credit.py PATH/TO/german.csv

writes train.parquet (700 applicants) and valid.parquet (300) in the current folder: the 20
attributes under readable names, ``default`` (1: a bad credit risk, the data set's class 2),
and two sensitive features derived from the attributes, ``age_group`` and ``sex``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = [
    "checking_status", "duration", "credit_history", "purpose", "credit_amount",
    "savings_status", "employment", "installment_rate", "personal_status_sex",
    "other_debtors", "residence_since", "property_magnitude", "age",
    "other_payment_plans", "housing", "existing_credits", "job", "num_dependents",
    "own_telephone", "foreign_worker", "class",
]  # fmt: skip


def main(source: Path) -> None:
    """Write train.parquet and valid.parquet from the German credit file at ``source``."""
    frame = pd.read_csv(source, header=None, names=COLUMNS)
    frame["default"] = (frame["class"] == 2).astype("int64")
    frame["age_group"] = np.where(frame["age"] <= 25, "25 or younger", "over 25")
    # Attribute 9 (german.names): A92 and A95 are the codes of women.
    frame["sex"] = np.where(frame["personal_status_sex"].isin(["A92", "A95"]), "female", "male")
    frame = frame.drop(columns=["class", "personal_status_sex"])
    shuffled = frame.sample(frac=1.0, random_state=7).reset_index(drop=True)
    shuffled.iloc[:700].to_parquet("train.parquet", index=False)
    shuffled.iloc[700:].to_parquet("valid.parquet", index=False)
    print(f"train.parquet: 700 rows, valid.parquet: 300 rows, {frame.shape[1]} columns")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python prepare_german_credit.py PATH/TO/german.csv")
    main(Path(sys.argv[1]))
