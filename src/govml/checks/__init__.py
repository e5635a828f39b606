"""Policy checks: pure functions that measure one rule and return a :class:`CheckResult`.

Every check returns one result (or a list, for per-feature proxy warnings) with a status
(``pass``, ``fail``, ``warn``, ``undefined``), the measured value, the threshold, and the
statistics used as JSON-safe evidence. Bad data content is reported in the result;
only usage errors (a column the data lacks, an invalid pattern, an unknown field or
level) raise :class:`~govml.errors.InputError`. Performance and fairness metrics come
from :mod:`govml.metrics`.

- data: :func:`no_nulls`, :func:`between`, :func:`in_set`, :func:`unique`, :func:`regex`,
  :func:`row_count`, :func:`schema_matches`, :func:`personal_data`;
- explainability: :func:`explain` (SHAP importance), :func:`stability`,
  :func:`forbidden_in_top_k`, :func:`proxy_warnings`, :func:`importance_plot`;
- security: :func:`scan_artifact` / :func:`scan_pickle`, :func:`build_sbom`,
  :func:`license_check`, :func:`vulnerability_check`;
- documentation: :func:`documentation_check`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from govml._lazy import attach

if TYPE_CHECKING:
    from govml.checks._columns import require_columns
    from govml.checks.association import Association, association, proxy_warnings
    from govml.checks.data import (
        between,
        in_set,
        no_nulls,
        regex,
        row_count,
        schema_matches,
        unique,
    )
    from govml.checks.documentation import DOCUMENTATION_FIELDS, documentation_check
    from govml.checks.explain import EXPLAINERS, ExplainerName, Explanation, explain, top_features
    from govml.checks.importance import (
        forbidden_in_top_k,
        importance_plot,
        rank_correlation,
        stability,
    )
    from govml.checks.personal_data import PERSONAL_DATA_KINDS, match_personal_data, personal_data
    from govml.checks.result import CATEGORIES, STATUSES, Category, CheckResult, Status
    from govml.checks.security import (
        SERIALIZATION_MODES,
        PickleFinding,
        build_sbom,
        license_check,
        open_database,
        sbom_check,
        sbom_for_version,
        scan_artifact,
        scan_pickle,
        validate_sbom,
        vulnerability_check,
    )

# Each public name and the module that defines it, imported on first use (govml._lazy).
_EXPORTS: dict[str, str] = {
    "require_columns": "govml.checks._columns",
    "Association": "govml.checks.association",
    "association": "govml.checks.association",
    "proxy_warnings": "govml.checks.association",
    "between": "govml.checks.data",
    "in_set": "govml.checks.data",
    "no_nulls": "govml.checks.data",
    "regex": "govml.checks.data",
    "row_count": "govml.checks.data",
    "schema_matches": "govml.checks.data",
    "unique": "govml.checks.data",
    "DOCUMENTATION_FIELDS": "govml.checks.documentation",
    "documentation_check": "govml.checks.documentation",
    "EXPLAINERS": "govml.checks.explain",
    "ExplainerName": "govml.checks.explain",
    "Explanation": "govml.checks.explain",
    "explain": "govml.checks.explain",
    "top_features": "govml.checks.explain",
    "forbidden_in_top_k": "govml.checks.importance",
    "importance_plot": "govml.checks.importance",
    "rank_correlation": "govml.checks.importance",
    "stability": "govml.checks.importance",
    "PERSONAL_DATA_KINDS": "govml.checks.personal_data",
    "match_personal_data": "govml.checks.personal_data",
    "personal_data": "govml.checks.personal_data",
    "CATEGORIES": "govml.checks.result",
    "STATUSES": "govml.checks.result",
    "Category": "govml.checks.result",
    "CheckResult": "govml.checks.result",
    "Status": "govml.checks.result",
    "SERIALIZATION_MODES": "govml.checks.security",
    "PickleFinding": "govml.checks.security",
    "build_sbom": "govml.checks.security",
    "license_check": "govml.checks.security",
    "open_database": "govml.checks.security",
    "sbom_check": "govml.checks.security",
    "sbom_for_version": "govml.checks.security",
    "scan_artifact": "govml.checks.security",
    "scan_pickle": "govml.checks.security",
    "validate_sbom": "govml.checks.security",
    "vulnerability_check": "govml.checks.security",
}

__all__ = [
    "CATEGORIES",
    "DOCUMENTATION_FIELDS",
    "EXPLAINERS",
    "PERSONAL_DATA_KINDS",
    "SERIALIZATION_MODES",
    "STATUSES",
    "Association",
    "Category",
    "CheckResult",
    "ExplainerName",
    "Explanation",
    "PickleFinding",
    "Status",
    "association",
    "between",
    "build_sbom",
    "documentation_check",
    "explain",
    "forbidden_in_top_k",
    "importance_plot",
    "in_set",
    "license_check",
    "match_personal_data",
    "no_nulls",
    "open_database",
    "personal_data",
    "proxy_warnings",
    "rank_correlation",
    "regex",
    "require_columns",
    "row_count",
    "sbom_check",
    "sbom_for_version",
    "scan_artifact",
    "scan_pickle",
    "schema_matches",
    "stability",
    "top_features",
    "unique",
    "validate_sbom",
    "vulnerability_check",
]


__getattr__, __dir__ = attach(
    __name__, _EXPORTS, shadowed=("association", "explain", "personal_data")
)
