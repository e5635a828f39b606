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

from govml.checks._columns import require_columns
from govml.checks.association import Association, association, proxy_warnings
from govml.checks.data import between, in_set, no_nulls, regex, row_count, schema_matches, unique
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
