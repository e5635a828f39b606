"""Fit a credit scorer on train.parquet and save it with skops as model.skops.

    python train_german_credit.py [--bad-weight W] [--fair-thresholds COLUMN]

``--bad-weight`` weighs applicants who defaulted W times in the fit (default 1): the data set's
cost matrix says a missed default costs five times a refused good applicant.
``--fair-thresholds`` post-processes the scorer with Fairlearn's ThresholdOptimizer under
equalized odds, one threshold per group of COLUMN (govml.mitigation.threshold_optimized); the
saved model then reads that column too.

The sensitive features (``age_group``, ``sex``) are not inputs of the scorer itself: it reads
the applicant's attributes, and govml records exactly the columns a model reads as its
signature. A skops file names every type it holds, so govml can refuse anything it does not
know instead of running it; a pickle cannot be inspected that way and is refused.
"""

from __future__ import annotations

import argparse

import pandas as pd
import skops.io as sio
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ["duration", "credit_amount", "installment_rate", "residence_since", "age",
           "existing_credits", "num_dependents"]  # fmt: skip
CATEGORICAL = ["checking_status", "credit_history", "purpose", "savings_status",
               "employment", "other_debtors", "property_magnitude", "other_payment_plans",
               "housing", "job", "own_telephone", "foreign_worker"]  # fmt: skip

parser = argparse.ArgumentParser(description="Fit and save the German credit scorer.")
parser.add_argument("--bad-weight", type=float, default=1.0, help="weight of defaulters")
parser.add_argument("--fair-thresholds", metavar="COLUMN", help="a threshold per group")
options = parser.parse_args()

train = pd.read_parquet("train.parquet")
encode = ColumnTransformer(
    [
        ("numeric", StandardScaler(), NUMERIC),
        ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
    ]
)
weights = {0: 1.0, 1: options.bad_weight}
scorer = LogisticRegression(C=0.5, max_iter=1000, class_weight=weights)
model = Pipeline([("encode", encode), ("classify", scorer)])
model.fit(train[NUMERIC + CATEGORICAL], train["default"])
if options.fair_thresholds:
    from govml.mitigation import threshold_optimized

    column = options.fair_thresholds
    model = threshold_optimized(
        model, train[[*NUMERIC, *CATEGORICAL, column]], train["default"],
        sensitive=column, constraints="equalized_odds",
    )  # fmt: skip
sio.dump(model, "model.skops")
print(f"model.skops written (defaulters weighed {options.bad_weight:g})")
