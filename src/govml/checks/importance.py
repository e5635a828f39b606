"""Rules on feature importance: stability against production, forbidden top features, a plot.

Importance is a mapping of input column to mean absolute SHAP value, as
:class:`~govml.checks.explain.Explanation` holds it and as evaluations store it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from govml.checks.explain import top_features
from govml.checks.result import CheckResult, Status, timed
from govml.errors import InputError, closest

__all__ = ["forbidden_in_top_k", "importance_plot", "rank_correlation", "stability"]

ERR_SHARE = "{name} must be between 0 and 1, got {value!r}"
ERR_CORRELATION = "{name} must be between -1 and 1, got {value!r}"
REASON_NO_PRODUCTION = "no production importance to compare with"
REASON_RANKS = "the rank correlation needs at least two features with different importances"
_PLOT_FEATURES = 20


@timed
def stability(
    current: Mapping[str, float],
    production: Mapping[str, float] | None,
    k: int,
    *,
    min_overlap: float | None = None,
    min_rank_correlation: float | None = None,
) -> CheckResult:
    """Compare a candidate's importance with the production version's.

    The overlap is the share of the production top-k features that are also in the
    candidate's top k. The rank correlation is Spearman's, over the union of both
    models' features (a feature one model lacks has importance 0 there, so it ranks
    last; tied importances get their average rank).

    Parameters
    ----------
    current, production : mapping of str to float
        Importance per feature; ``production`` is None when no version holds the alias.
    k : int
        Size of the top sets.
    min_overlap : float, optional
        Fail below this overlap share (0-1).
    min_rank_correlation : float, optional
        Fail below this rank correlation (-1 to 1).

    Returns
    -------
    CheckResult
        ``value`` is the overlap share; evidence has both top-k lists, the features that
        entered and left the top k, and the rank correlation. ``undefined`` without a
        production importance, or when a rank correlation is required but undefined.
    """
    _bounded("min_overlap", min_overlap, 0.0, ERR_SHARE)
    _bounded("min_rank_correlation", min_rank_correlation, -1.0, ERR_CORRELATION)
    threshold = {"min_overlap": min_overlap, "min_rank_correlation": min_rank_correlation}
    if production is None:
        return _result(
            "stability",
            "undefined",
            REASON_NO_PRODUCTION,
            None,
            threshold,
            {},
            reason=REASON_NO_PRODUCTION,
        )
    top_now, top_before = top_features(current, k), top_features(production, k)
    overlap = len(set(top_now) & set(top_before)) / len(top_before) if top_before else 0.0
    rho = rank_correlation(current, production)
    evidence = {
        "k": k,
        "current_top": top_now,
        "production_top": top_before,
        "entered": [name for name in top_now if name not in top_before],
        "left": [name for name in top_before if name not in top_now],
        "overlap": overlap,
        "rank_correlation": rho,
    }
    rho_text = "undefined" if rho is None else f"{rho:.2f}"
    summary = f"top-{k} overlap {overlap:.0%} with production, rank correlation {rho_text}"
    problems = []
    if min_overlap is not None and overlap < min_overlap:
        problems.append(f"overlap below {min_overlap:.0%}")
    if min_rank_correlation is not None and rho is not None and rho < min_rank_correlation:
        problems.append(f"rank correlation below {min_rank_correlation:.2f}")
    if problems:
        return _result(
            "stability", "fail", f"{summary}: {', '.join(problems)}", overlap, threshold, evidence
        )
    if min_rank_correlation is not None and rho is None:
        return _result(
            "stability",
            "undefined",
            f"{summary}: {REASON_RANKS}",
            overlap,
            threshold,
            evidence,
            reason=REASON_RANKS,
        )
    return _result("stability", "pass", summary, overlap, threshold, evidence)


def rank_correlation(first: Mapping[str, float], second: Mapping[str, float]) -> float | None:
    """Return Spearman's rank correlation of two importances over the union of features.

    A feature missing from one mapping counts as importance 0 there; ties get average
    ranks. None when fewer than two features, or when either side is constant.
    """
    names = sorted(set(first) | set(second))
    if len(names) < 2:
        return None
    a = _ranks(np.array([float(first.get(name, 0.0)) for name in names]))
    b = _ranks(np.array([float(second.get(name, 0.0)) for name in names]))
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


@timed
def forbidden_in_top_k(
    importance: Mapping[str, float], k: int, forbidden: Iterable[str]
) -> CheckResult:
    """Fail when a forbidden feature (a sensitive attribute) is among the top ``k``.

    Parameters
    ----------
    importance : mapping of str to float
        Importance per input column.
    k : int
        Size of the top set.
    forbidden : iterable of str
        Feature names that must not be in it.

    Returns
    -------
    CheckResult
        ``fail`` naming each forbidden feature in the top k with its rank; ``warn`` when a
        forbidden name is not a model feature but is close to one (a likely misspelling);
        ``pass`` otherwise. Evidence lists the top k and the forbidden names the model
        does not have.
    """
    names = list(dict.fromkeys(forbidden))
    if not names:
        raise InputError("forbidden_in_top_k: give at least one forbidden feature")
    top = top_features(importance, k)
    found = [{"feature": name, "rank": top.index(name) + 1} for name in names if name in top]
    absent = [name for name in names if name not in importance]
    near = {name: match for name in absent if (match := closest(name, importance)) is not None}
    evidence = {
        "k": k,
        "top": top,
        "forbidden": names,
        "in_top_k": found,
        "not_features": absent,
        "close_matches": near,
    }
    if found:
        listed = ", ".join(f"'{item['feature']}' (rank {item['rank']})" for item in found)
        return _result(
            "forbidden_in_top_k",
            "fail",
            f"forbidden feature(s) in the top {k}: {listed}",
            len(found),
            k,
            evidence,
        )
    if near:
        listed = ", ".join(f"'{name}' (did you mean '{match}'?)" for name, match in near.items())
        message = f"no forbidden feature in the top {k}, but {listed} is not a model feature"
        return _result("forbidden_in_top_k", "warn", message, 0, k, evidence)
    return _result(
        "forbidden_in_top_k", "pass", f"no forbidden feature in the top {k}", 0, k, evidence
    )


def importance_plot(
    importance: Mapping[str, float], *, title: str = "mean |SHAP value|", top: int = _PLOT_FEATURES
) -> bytes:
    """Draw importance as a horizontal bar chart and return PNG bytes.

    Uses matplotlib's Agg canvas directly (no pyplot, no display, no global state).

    Parameters
    ----------
    importance : mapping of str to float
        Importance per feature.
    title : str
        Axis label.
    top : int
        Features drawn, largest first.

    Returns
    -------
    bytes
        A PNG image.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = top_features(importance, top) if importance else []
    values = [float(importance[name]) for name in names]
    figure = Figure(figsize=(6.0, 0.6 + 0.3 * max(len(names), 1)), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = np.arange(len(names))[::-1]
    axes.barh(positions, values, color="#3b6ea5")
    axes.set_yticks(positions, labels=names)
    axes.set_xlabel(title)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _ranks(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Average ranks (1 = smallest), as ``scipy.stats.rankdata``."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    last = np.r_[first[1:], len(values)] - 1
    average = (first + last) / 2.0 + 1.0
    ranks = np.empty(len(values))
    ranks[order] = average[group]
    return ranks


def _bounded(name: str, value: float | None, low: float, template: str) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= 1:
        raise InputError(template.format(name=name, value=value))


def _result(
    check: str,
    status: Status,
    message: str,
    value: Any,
    threshold: Any,
    evidence: dict[str, Any],
    *,
    reason: str | None = None,
) -> CheckResult:
    return CheckResult(
        check=check,
        category="explainability",
        status=status,
        message=message,
        value=value,
        threshold=threshold,
        evidence=evidence,
        reason=reason,
    )
