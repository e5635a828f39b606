"""CVSS base scores from vector strings, and the qualitative severity levels.

Implements the base-score equations of CVSS v3.0 / v3.1 (FIRST, "CVSS v3.1 Specification",
section 7.1, with the 3.1 ``Roundup``) and CVSS v2 (FIRST, "CVSS v2 Complete
Documentation", section 3.2.1). CVSS v4 scores come from a lookup table of macro-vectors
and are not computed here; :func:`base_score` returns None for them.

Levels follow the specifications' rating scales: v3 none 0.0, low 0.1-3.9, medium
4.0-6.9, high 7.0-8.9, critical 9.0-10.0; v2 (NVD) low 0.0-3.9, medium 4.0-6.9, high
7.0-10.0.
"""

from __future__ import annotations

import math
from typing import Literal

__all__ = ["LEVELS", "Level", "base_score", "level_of_score"]

Level = Literal["none", "low", "medium", "high", "critical"]
LEVELS: tuple[Level, ...] = ("none", "low", "medium", "high", "critical")
"""Severity levels, lowest first."""

_V3_WEIGHTS: dict[str, dict[str, float]] = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
# Privileges required weigh more when the scope changes.
_V3_PRIVILEGES = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}
_V2_WEIGHTS: dict[str, dict[str, float]] = {
    "AV": {"L": 0.395, "A": 0.646, "N": 1.0},
    "AC": {"H": 0.35, "M": 0.61, "L": 0.71},
    "Au": {"M": 0.45, "S": 0.56, "N": 0.704},
    "C": {"N": 0.0, "P": 0.275, "C": 0.660},
    "I": {"N": 0.0, "P": 0.275, "C": 0.660},
    "A": {"N": 0.0, "P": 0.275, "C": 0.660},
}


def base_score(vector: str) -> tuple[float, str] | None:
    """Return ``(base score, CVSS version)`` for a vector string, or None.

    Parameters
    ----------
    vector : str
        ``CVSS:3.1/AV:N/AC:L/...``, ``CVSS:3.0/...`` or a v2 vector ``AV:N/AC:L/Au:N/...``
        (optionally prefixed ``CVSS:2.0/``).

    Returns
    -------
    tuple or None
        The score (0.0-10.0) and ``"3"`` or ``"2"``; None for v4 and malformed vectors.
    """
    parts = vector.strip().split("/")
    if parts and parts[0].upper().startswith("CVSS:"):
        version = parts[0][5:]
        metrics = _metrics(parts[1:])
        if metrics is None:
            return None
        if version in ("3.0", "3.1"):
            score = _v3(metrics)
            return None if score is None else (score, "3")
        if version == "2.0":
            score = _v2(metrics)
            return None if score is None else (score, "2")
        return None
    metrics = _metrics(parts)
    if metrics is None:
        return None
    score = _v2(metrics)
    return None if score is None else (score, "2")


def level_of_score(score: float, cvss_version: str = "3") -> Level:
    """Return the qualitative level of a base score on the v3 (or v2) rating scale."""
    if cvss_version == "2":
        return "low" if score < 4.0 else "medium" if score < 7.0 else "high"
    if score == 0.0:
        return "none"
    if score < 4.0:
        return "low"
    if score < 7.0:
        return "medium"
    return "high" if score < 9.0 else "critical"


def _metrics(parts: list[str]) -> dict[str, str] | None:
    out: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition(":")
        if not sep:
            return None
        out[key] = value
    return out


def _v3(metrics: dict[str, str]) -> float | None:
    try:
        scope = metrics["S"]
        weights = {key: _V3_WEIGHTS[key][metrics[key]] for key in _V3_WEIGHTS}
        privileges = _V3_PRIVILEGES[scope][metrics["PR"]]
    except KeyError:
        return None
    iss = 1 - (1 - weights["C"]) * (1 - weights["I"]) * (1 - weights["A"])
    changed = scope == "C"
    impact = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15 if changed else 6.42 * iss
    exploitability = 8.22 * weights["AV"] * weights["AC"] * privileges * weights["UI"]
    if impact <= 0:
        return 0.0
    if scope == "U":
        return _roundup(min(impact + exploitability, 10.0))
    return _roundup(min(1.08 * (impact + exploitability), 10.0))


def _roundup(value: float) -> float:
    """CVSS v3.1 Roundup: the smallest one-decimal number >= value, free of float noise."""
    scaled = round(value * 100_000)
    if scaled % 10_000 == 0:
        return scaled / 100_000.0
    return (math.floor(scaled / 10_000) + 1) / 10.0


def _v2(metrics: dict[str, str]) -> float | None:
    try:
        weights = {key: _V2_WEIGHTS[key][metrics[key]] for key in _V2_WEIGHTS}
    except KeyError:
        return None
    impact = 10.41 * (1 - (1 - weights["C"]) * (1 - weights["I"]) * (1 - weights["A"]))
    exploitability = 20 * weights["AV"] * weights["AC"] * weights["Au"]
    factor = 0.0 if impact == 0 else 1.176
    return round((0.6 * impact + 0.4 * exploitability - 1.5) * factor + 1e-9, 1)
