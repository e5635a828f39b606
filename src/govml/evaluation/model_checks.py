"""Policy sections about the model itself: explainability, security and documentation.

These need a registered version (its artifact, environment and model card); when the
evaluation audits predictions made elsewhere they are ``undefined`` with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from govml import checks
from govml.checks import CheckResult, Explanation
from govml.checks.result import Category
from govml.domain.records import Model, ModelVersion
from govml.flavors.base import LoadedModel
from govml.policy.sections import Documentation, Explainability, Security

NO_PRODUCTION = "no version of {model} holds the production alias; stability not assessed"
SELF_PRODUCTION = "{subject} holds the production alias itself; stability not assessed"


def undefined(check: str, category: Category, reason: str) -> CheckResult:
    """Return an ``undefined`` result whose message is the reason."""
    return CheckResult(
        check=check, category=category, status="undefined", message=reason, reason=reason
    )


def explainability_not_run(section: Explainability, reason: str) -> list[CheckResult]:
    """Return the explainability checks an evaluation would have made, undefined with ``reason``.

    Proxy warnings are per feature of the top-k, unknown without an explanation, so they
    are left out.
    """
    names = ["feature_importance"]
    if section.stability_vs_production is not None:
        names.append("stability")
    if section.forbidden_in_top_k:
        names.append("forbidden_in_top_k")
    return [undefined(name, "explainability", reason) for name in names]


def explainability_checks(
    section: Explainability,
    model: LoadedModel | None,
    features: Any,
    table: Any,
    *,
    sensitive: Sequence[str],
    production: Mapping[str, float] | None,
    production_note: str | None,
    no_model_reason: str,
    random_state: int,
) -> tuple[list[CheckResult], Explanation | None]:
    """Explain the model with SHAP and check the policy's rules on its top features.

    Parameters
    ----------
    section
        The policy's ``explainability`` section.
    model
        The loaded model, or None when there is none to explain.
    features
        The model's input columns (a pandas DataFrame).
    table
        The whole evaluation data (for the proxy associations with sensitive features).
    sensitive
        The sensitive features.
    production
        The production version's importance, or None (``production_note`` says why).
    no_model_reason
        Why there is no model, for the undefined results.
    random_state
        Seed of the explainer's sampling.

    Returns
    -------
    list of CheckResult, Explanation or None
    """
    if model is None:
        return [undefined("feature_importance", "explainability", no_model_reason)], None
    started = time.perf_counter()
    explanation = checks.explain(
        model,
        features,
        explainer=section.explainer,
        sample_rows=section.sample_rows,
        random_state=random_state,
    )
    results = [explanation.as_result(section.top_k).with_duration(time.perf_counter() - started)]
    importance = explanation.importance
    stability = section.stability_vs_production
    if stability is not None:
        if production is None:
            note = production_note or "no production version; stability not assessed"
            results.append(
                CheckResult(
                    check="stability",
                    category="explainability",
                    status="pass",
                    message=note,
                    threshold=stability.model_dump(exclude_none=True),
                    evidence={"production": None},
                )
            )
        else:
            results.append(
                checks.stability(
                    importance,
                    production,
                    section.top_k,
                    min_overlap=stability.min_overlap,
                    min_rank_correlation=stability.min_rank_correlation,
                )
            )
    if section.forbidden_in_top_k:
        results.append(
            checks.forbidden_in_top_k(importance, section.top_k, section.forbidden_in_top_k)
        )
    if section.proxy_threshold is not None and sensitive:
        top = [name for name in explanation.top(section.top_k) if name not in sensitive]
        present = [name for name in top if name in table.column_names]
        if present:
            results.extend(
                checks.proxy_warnings(table, present, sensitive, threshold=section.proxy_threshold)
            )
    return results, explanation


def security_checks(
    section: Security,
    version: ModelVersion | None,
    *,
    policy_dir: Path,
    no_model_reason: str,
) -> tuple[list[CheckResult], dict[str, Any] | None]:
    """Check licenses, vulnerabilities and the SBOM of the version's environment.

    The artifact scan runs before the model is loaded and is not repeated here. Returns
    the results and the SBOM document (stored as evidence) when one was built.
    """
    if version is None:
        return [undefined("environment", "security", no_model_reason)], None
    packages: Mapping[str, str] = version.environment.get("packages") or {}
    out: list[CheckResult] = []
    if section.licenses is not None:
        out.append(
            checks.license_check(packages, allow=section.licenses.allow, deny=section.licenses.deny)
        )
    if section.vulnerabilities is not None:
        database = Path(section.vulnerabilities.database).expanduser()
        if not database.is_absolute():
            database = policy_dir / database
        out.append(
            checks.vulnerability_check(
                packages,
                database,
                section.vulnerabilities.max_severity,
                unknown_severity=section.vulnerabilities.unknown_severity,
            )
        )
    sbom: dict[str, Any] | None = None
    if section.sbom:
        result = checks.sbom_check(version)
        evidence = dict(result.evidence)
        sbom = evidence.pop("sbom", None)
        evidence["stored_as"] = "sbom"
        out.append(replace(result, evidence=evidence))
    return out, sbom


def documentation_checks(
    section: Documentation,
    model: Model | None,
    version: ModelVersion | None,
    *,
    no_model_reason: str,
    card: Mapping[str, Any] | None = None,
) -> list[CheckResult]:
    """Check that the model card's required fields are filled in (``card``: its latest fields)."""
    if model is None:
        return [undefined("documentation", "documentation", no_model_reason)]
    return [checks.documentation_check(model, version, section.required, card)]
