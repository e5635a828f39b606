"""An evaluation document and its evidence, as ``govml evaluate`` stores them."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from govml.metrics import data_drift, fairness_report

SCRIPT = "<script>alert(1)</script>"

DOCUMENT: dict[str, Any] = {
    "schema": "govml.evaluation/v1",
    "id": 12,
    "subject": {"model": "adult-income", "version": 2, "label": None, "risk_tier": "high"},
    "policy": {
        "name": "credit-high-risk",
        "digest": "sha256:" + "a" * 64,
        "source": "file",
        "tiers": ["high"],
    },
    "data": {
        "digest": "sha256:" + "b" * 64,
        "rows": 16281,
        "columns": 15,
        "source": "adult.test.csv",
    },
    "inputs": {
        "target": "income",
        "sensitive": ["sex", "race"],
        "prediction_column": None,
        "score_column": None,
        "pos_label": 1,
        "task": "binary",
    },
    "champion": {"model": "adult-income", "version": 1},
    "status": "fail",
    "summary": {"pass": 3, "fail": 2, "warn": 1, "undefined": 1},
    "checks": [
        {
            "check": "roc_auc",
            "category": "performance",
            "status": "pass",
            "outcome": "pass",
            "message": "roc_auc 0.927 ≥ 0.8",
            "value": 0.92712345,
            "threshold": {"min": 0.8},
            "interval": [0.9212, 0.9333],
            "reason": None,
            "evidence": {},
            "duration_s": 0.01,
        },
        {
            "check": "demographic_parity_ratio:sex",
            "category": "fairness",
            "status": "fail",
            "outcome": "fail",
            "message": f"ratio 0.31 | below 0.8 {SCRIPT}",
            "value": 0.31,
            "threshold": {"min": 0.8},
            "interval": [0.28, 0.34],
            "reason": None,
            "evidence": {"features": ["sex"]},
            "duration_s": 0.2,
        },
        {
            "check": "log_loss_vs_champion",
            "category": "performance",
            "status": "undefined",
            "outcome": "fail",
            "message": "log loss against the champion is undefined",
            "value": None,
            "threshold": {"max_increase": 0.02},
            "interval": None,
            "reason": "the champion has no stored log loss",
            "evidence": {},
            "duration_s": None,
        },
        {
            "check": "no_nulls:age",
            "category": "data",
            "status": "pass",
            "outcome": "pass",
            "message": "no nulls in 'age'",
            "value": 0,
            "threshold": {"max": 0},
            "interval": None,
            "reason": None,
            "evidence": {},
            "duration_s": 0.001,
        },
        {
            "check": "between:hours",
            "category": "data",
            "status": "warn",
            "outcome": "warn",
            "message": "3 rows outside [1, 99]",
            "value": 3,
            "threshold": {"between": [1, 99]},
            "interval": None,
            "reason": None,
            "evidence": {},
            "duration_s": 0.001,
        },
        {
            "check": "forbidden_in_top_k",
            "category": "explainability",
            "status": "pass",
            "outcome": "pass",
            "message": "no forbidden feature in the top 5",
            "value": ["age", "hours"],
            "threshold": 5,
            "interval": None,
            "reason": None,
            "evidence": {},
            "duration_s": 0.3,
        },
        {
            "check": "vulnerabilities",
            "category": "security",
            "status": "fail",
            "outcome": "fail",
            "message": "1 critical vulnerability",
            "value": 1,
            "threshold": {"max_severity": "high"},
            "interval": None,
            "reason": None,
            "evidence": {},
            "duration_s": 0.3,
        },
    ],
    "evidence": [
        {
            "name": "fairness_report",
            "digest": "sha256:" + "c" * 64,
            "media_type": "application/json",
            "size": 12345,
        },
        {
            "name": "explanation",
            "digest": "sha256:" + "d" * 64,
            "media_type": "application/json",
            "size": 456,
        },
        {
            "name": "drift",
            "digest": "sha256:" + "e" * 64,
            "media_type": "application/json",
            "size": 2345,
        },
    ],
    "timings": {
        "data": 0.1,
        "predict": 0.3,
        "performance": 0.05,
        "fairness": 0.4,
        "explainability": 1.2,
        "security": 0.3,
        "documentation": 0.0,
        "total": 2.5,
    },
    "started_at": "2026-11-24T10:00:00Z",
    "duration_s": 2.5,
    "actor": "alice",
    "govml_version": "0.1.0",
}


@pytest.fixture
def document() -> dict[str, Any]:
    """A fresh copy of the evaluation document, free to change."""
    return copy.deepcopy(DOCUMENT)


@pytest.fixture(scope="session")
def fairness_evidence() -> dict[str, Any]:
    """A real fairness report with intervals, a tiny group and a group named like a tag."""
    rng = np.random.default_rng(0)
    n = 1500
    race = rng.choice(["White", "Black", "Asian-Pac-Islander", SCRIPT], n, p=[0.5, 0.3, 0.19, 0.01])
    race[:3] = "Other"  # a group below min_group_size: undefined
    sensitive = pd.DataFrame({"sex": rng.choice(["Female", "Male"], n), "race": race})
    y_true = rng.integers(0, 2, n)
    y_pred = np.where(rng.random(n) < 0.8, y_true, 1 - y_true)
    report = fairness_report(
        y_true, y_pred, sensitive_features=sensitive, n_boot=100, random_state=0, min_group_size=5
    )
    return report.to_dict()


@pytest.fixture(scope="session")
def drift_evidence() -> dict[str, Any]:
    """A real drift report plus columns with non-finite and missing scores."""
    rng = np.random.default_rng(1)
    reference = pd.DataFrame(
        {
            "age": rng.normal(40, 10, 800),
            "workclass": rng.choice(["private", "public", "self"], 800),
            "hours": rng.normal(40, 5, 800),
        }
    )
    current = pd.DataFrame(
        {
            "age": rng.normal(45, 10, 800),
            "workclass": rng.choice(["private", "public", "self"], 800),
            "hours": rng.normal(40, 5, 800),
        }
    )
    report = data_drift(reference, current).to_dict()
    report["columns"] += data_drift(reference, current, tests="psi").to_dict()["columns"]
    report["columns"].append(
        {"column": "capital", "kind": "numeric", "test": "kl_div", "score": "inf",
         "threshold": 0.1, "drifted": True, "status": "drift"}
    )  # fmt: skip
    report["columns"].append(
        {"column": "empty", "kind": "numeric", "test": "ks", "score": "nan",
         "threshold": 0.05, "drifted": None, "status": "undefined"}
    )  # fmt: skip
    return report


EXPLANATION: dict[str, Any] = {
    "importance": {"age": 0.31, "hours": 0.12, "workclass": 0.05, "sex": 0.01},
    "explainer": "tree",
    "level": "input",
    "output": "log_odds",
    "sample_rows": 500,
    "background_rows": 0,
    "duration_s": 0.3,
    "fallback_reason": None,
    "parameters": {"explainer": "auto", "seed": 0},
}


@pytest.fixture
def explanation_evidence() -> dict[str, Any]:
    """An explanation as ``Explanation.to_dict()`` returns it."""
    return copy.deepcopy(EXPLANATION)


@pytest.fixture(scope="session")
def evidence_blobs(
    fairness_evidence: dict[str, Any], drift_evidence: dict[str, Any]
) -> dict[str, bytes]:
    """The stored evidence artifacts by name, as JSON bytes."""
    return {
        "fairness_report": json.dumps(fairness_evidence).encode(),
        "explanation": json.dumps(EXPLANATION).encode(),
        "drift": json.dumps(drift_evidence).encode(),
    }
