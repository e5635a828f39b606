"""Robustness measurements: perturbed inputs, monotone features, counterfactual swaps.

Everything here works on a sample of rows (a DataFrame of the model's inputs) and a
`Decider` that turns inputs into decisions (labels, or numbers for a regression) and
scores; all randomness comes from the generator passed in, so a seed fixes every result.

A *flip* is a decision that changes: another label for a classifier; for a regression, a
prediction that moves by more than `REGRESSION_TOLERANCE` times the standard deviation of
the unperturbed predictions (a regression's output always moves a little).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

REGRESSION_TOLERANCE = 0.1
MONOTONE_STEP = 0.1
"""A monotone feature is moved up by this share of its standard deviation in the sample."""
SCORE_SLACK = 1e-9

Predict = Callable[[pd.DataFrame], np.ndarray[Any, Any]]


@dataclass(frozen=True, kw_only=True)
class Decider:
    """How a model decides: ``decide`` gives labels or numbers, ``score`` a number per row.

    ``score`` is the positive label's probability of a binary classifier or a regression's
    prediction (what monotonicity is judged on); None when the model has neither.
    """

    decide: Predict
    score: Predict | None
    regression: bool

    def flips(
        self, before: np.ndarray[Any, Any], after: np.ndarray[Any, Any]
    ) -> np.ndarray[Any, Any]:
        """Return, per row, whether the decision changed."""
        if not self.regression:
            return np.asarray(before != after)
        spread = float(np.std(np.asarray(before, dtype=float)))
        tolerance = REGRESSION_TOLERANCE * (spread if spread > 0 else 1.0)
        moved = np.abs(np.asarray(after, dtype=float) - np.asarray(before, dtype=float))
        return np.asarray(moved > tolerance)


def numeric_columns(frame: pd.DataFrame) -> list[str]:
    """Return the numeric (not boolean) columns."""
    return [
        str(c)
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]


def categorical_columns(frame: pd.DataFrame) -> list[str]:
    """Return the columns that are not numeric: text, categories, booleans."""
    numeric = set(numeric_columns(frame))
    return [str(c) for c in frame.columns if str(c) not in numeric]


def perturb(
    frame: pd.DataFrame,
    kind: str,
    amount: float,
    columns: Sequence[str],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Return a perturbed copy of ``frame``.

    ``numeric_noise`` adds Gaussian noise of ``amount`` times each column's standard
    deviation (rounded for integer columns); ``category_swap`` sets a share ``amount`` of
    each column's cells to another value observed in it; ``missing_values`` makes a share
    ``amount`` of the cells missing.
    """
    out = frame.copy()
    n = len(frame)
    for column in columns:
        values = out[column]
        if kind == "numeric_noise":
            spread = float(np.nanstd(values.to_numpy(dtype=float)))
            noisy = values.to_numpy(dtype=float) + rng.normal(0.0, amount * spread, n)
            if pd.api.types.is_integer_dtype(values):
                out[column] = pd.Series(np.round(noisy), index=values.index).astype(values.dtype)
            else:
                out[column] = noisy
            continue
        chosen = rng.random(n) < amount
        if kind == "missing_values":
            if pd.api.types.is_integer_dtype(values) or pd.api.types.is_bool_dtype(values):
                out[column] = values.astype(object if values.dtype == bool else float)
            out.loc[chosen, column] = np.nan if pd.api.types.is_numeric_dtype(out[column]) else None
            continue
        observed = pd.unique(values.dropna())
        if len(observed) < 2:
            continue
        swapped = values.to_numpy(dtype=object).copy()
        for row in np.flatnonzero(chosen):
            others = [v for v in observed if v != swapped[row]]
            swapped[row] = others[int(rng.integers(len(others)))]
        out[column] = pd.Series(swapped, index=values.index).astype(values.dtype)
    return out


def monotone_violations(
    decider: Decider, frame: pd.DataFrame, feature: str, direction: str
) -> tuple[float, int, float]:
    """Return the share of rows whose score moves the wrong way, their number, and the step.

    Each row's ``feature`` is raised by `MONOTONE_STEP` of its standard deviation (1 when
    constant); ``increasing`` forbids a lower score, ``decreasing`` a higher one.
    """
    assert decider.score is not None
    values = frame[feature].to_numpy(dtype=float)
    spread = float(np.nanstd(values))
    step = MONOTONE_STEP * spread if spread > 0 else 1.0
    if pd.api.types.is_integer_dtype(frame[feature]):
        step = max(1.0, float(np.round(step)))
    raised = frame.copy()
    raised[feature] = pd.Series(values + step, index=frame.index).astype(frame[feature].dtype)
    before = np.asarray(decider.score(frame), dtype=float)
    after = np.asarray(decider.score(raised), dtype=float)
    wrong = (
        after < before - SCORE_SLACK if direction == "increasing" else after > before + SCORE_SLACK
    )
    return float(np.mean(wrong)), int(np.sum(wrong)), step


@dataclass(frozen=True, kw_only=True)
class Counterfactual:
    """Per group of a sensitive feature: rows, rows whose decision changed, and the rate."""

    groups: list[Any]
    rows: list[int]
    flipped: list[int]

    @property
    def rates(self) -> list[float]:
        """The share of each group's rows whose decision changed."""
        return [f / r if r else 0.0 for f, r in zip(self.flipped, self.rows, strict=True)]


def counterfactual_flips(
    decider: Decider,
    frame: pd.DataFrame,
    labels: pd.Series[Any],
    feature: str,
    proxies: Sequence[str],
    donors: pd.DataFrame,
    donor_labels: pd.Series[Any],
    rng: np.random.Generator,
) -> Counterfactual:
    """Swap each row's group to every other observed one and count changed decisions.

    ``labels`` are the rows' values of sensitive ``feature``. A row of group ``a`` swapped
    to ``b`` takes ``b`` (when the model reads ``feature``) and, for each proxy, the value
    of a row of group ``b`` drawn from ``donors`` (labelled by ``donor_labels``). A row
    counts as flipped when any swap changes its decision. A model that reads neither the
    feature nor a proxy changes no decision.
    """
    base = decider.decide(frame)
    values = labels.reset_index(drop=True)
    groups = sorted(pd.unique(values.dropna()).tolist(), key=str)
    changed = np.zeros(len(frame), dtype=bool)
    reads = feature in frame.columns
    for target in groups:
        moved = (values != target).to_numpy() & values.notna().to_numpy()
        if not moved.any() or not (reads or proxies):
            continue
        swapped = frame.copy()
        if reads:
            swapped.loc[moved, feature] = target
        pool = donors[(donor_labels == target).to_numpy()]
        for proxy in proxies:
            drawn = pool[proxy].to_numpy()[rng.integers(len(pool), size=int(moved.sum()))]
            swapped.loc[moved, proxy] = drawn
        after = decider.decide(swapped)
        changed |= moved & decider.flips(base, after)
    rows, flipped = [], []
    for group in groups:
        mine = (values == group).to_numpy()
        rows.append(int(mine.sum()))
        flipped.append(int(changed[mine].sum()))
    return Counterfactual(groups=groups, rows=rows, flipped=flipped)
