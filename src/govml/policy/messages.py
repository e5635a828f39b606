"""Every message a policy diagnostic can carry, as constants that tests assert on.

Placeholders are filled with `str.format`; names are quoted with ``!r``. A suggestion is
appended as ``SUGGESTION`` when a close valid name exists.
"""

from __future__ import annotations

from typing import Final

SUGGESTION: Final = " — did you mean {match!r}?"

# Reading the file.
ERR_FILE_MISSING: Final = "policy file {path} does not exist"
ERR_FILE_UNREADABLE: Final = "cannot read policy file {path}: {reason}"
ERR_NOT_UTF8: Final = "the file is not UTF-8 text: byte 0x{byte:02x} cannot be decoded"
ERR_EMPTY: Final = (
    "the file is empty: a policy starts with 'apiVersion: govml/v1' and 'kind: Policy'"
)
ERR_YAML: Final = "YAML syntax error: {problem}"
ERR_YAML_CONTEXT: Final = " ({context} at line {line}, column {column})"
ERR_MULTIPLE_DOCUMENTS: Final = (
    "a second YAML document starts here; a policy file holds exactly one document"
)
ERR_NOT_MAPPING: Final = (
    "a policy is a mapping of fields (apiVersion, kind, metadata, tiers, ...), not {kind}"
)
ERR_DUPLICATE_KEY: Final = (
    "duplicate key {key!r} (first at line {line}, column {column}); "
    "YAML would silently keep only the last one"
)
ERR_KEY_NOT_STRING: Final = "key {key!r} is read as {kind}; quote it to use it as a name"
ERR_UNKNOWN_TAG: Final = "unknown YAML tag {tag!r}; policies use plain YAML values"
ERR_BAD_SCALAR: Final = "cannot read this value: {problem}"
ERR_TOO_DEEP: Final = "nested deeper than {limit} levels"
ERR_ALIAS_LOOP: Final = "this alias refers to a value that contains it"
ERR_TOO_MANY: Final = "more than {limit} values once aliases are expanded"

# The header.
ERR_API_VERSION: Final = "unsupported apiVersion {value!r}: this govml reads 'govml/v1'"
ERR_KIND: Final = "kind is {value!r}: a policy file has 'kind: Policy'"
ERR_HEADER_MISSING: Final = "missing required field {name!r} (write '{name}: {expected}')"

# Shapes and names (from the schema).
ERR_MISSING: Final = "missing required field {name!r}"
ERR_UNKNOWN_FIELD: Final = "unknown field {name!r}"
ERR_VALID_FIELDS: Final = "; valid fields: {choices}"
ERR_NOT_A_CHOICE: Final = "{value!r} is not one of {choices}"
ERR_UNKNOWN_EXPECTATION: Final = "unknown expectation {name!r}"
ERR_CHOICES: Final = " (one of {choices})"
ERR_MISSING_EXPECTATION: Final = "missing required field 'expect' (one of {choices})"
ERR_TYPE: Final = "expected {expected}, got {got}"
ERR_TOO_FEW: Final = "needs at least {minimum} item{plural}"
ERR_AT_LEAST: Final = "must be at least {limit}, got {value}"
ERR_ABOVE: Final = "must be greater than {limit}, got {value}"
ERR_AT_MOST: Final = "must be at most {limit}, got {value}"
ERR_BELOW: Final = "must be less than {limit}, got {value}"
ERR_DUPLICATE_ITEM: Final = "{value!r} is listed twice"

# Names that belong to govml.
ERR_BAD_NAME: Final = (
    "invalid policy name {value!r}: use 1-200 letters, digits, '.', '_' or '-', "
    "starting with a letter or digit"
)
ERR_UNKNOWN_METRIC: Final = "unknown metric {name!r}"
ERR_METRIC_LIST: Final = " ({family} metrics: {choices})"
ERR_FAIRNESS_IN_PERFORMANCE: Final = (
    "{name!r} is a fairness metric; fairness metrics go under fairness.rules"
)
ERR_PERFORMANCE_IN_FAIRNESS: Final = (
    "{name!r} is a performance metric; fairness rules take disparities such as "
    "demographic_parity_ratio or equalized_odds_difference"
)
ERR_EMPTY_TEXT: Final = "must not be empty"
ERR_INSTALLED_LIST: Final = "; installed: {choices})"
ERR_NONE_INSTALLED: Final = "; none installed under the entry-point group govml.metrics)"
ERR_GATE_METRIC_ONLY: Final = (
    "{name!r} is checked by evaluations only; monitoring rules take the built-in metrics"
)

# Bounds.
ERR_NO_BOUND: Final = "give {choices}"
ERR_BETWEEN_WITH_BOUNDS: Final = "give either between or min / max, not both"
ERR_BETWEEN_LENGTH: Final = "between takes two numbers [low, high], got {count}"
ERR_BETWEEN_ORDER: Final = "between [{low}, {high}]: the low bound is above the high bound"
ERR_MIN_ABOVE_MAX: Final = "min {low} is above max {high}"
ERR_NEVER_MET: Final = "{metric} lies in [{low}, {high}], so {bound} {value} can never be met"

# Performance, fairness, monitoring.
ERR_CHAMPION_ONE: Final = "give one of max_drop or max_increase"
ERR_CHAMPION_DIRECTION: Final = (
    "{metric} is better when {better}; compare it with the champion using {use}"
)
ERR_CHAMPION_NO_DIRECTION: Final = (
    "{metric} has no better side, so it cannot be compared with the champion; use min / max"
)
ERR_COMPARE_NOT_APPLICABLE: Final = (
    "{metric} is an inequality index over all rows; it takes no compare"
)
ERR_COMPARE_WRONG: Final = "{metric} cannot be compared {compare}; it is compared {allowed}"
ERR_NEEDS_REFERENCE_GROUPS: Final = (
    "{metric} compares each group with a reference group; set fairness.reference_groups"
)
ERR_REFERENCE_GROUP_MISSING: Final = (
    "{metric} compares each group with a reference group, and fairness.reference_groups "
    "has none for {names}; add one ({first}: VALUE)"
)
ERR_COSTS_MISSING: Final = (
    "expected_cost needs costs, such as costs: {false_positive: 1, false_negative: 5}"
)
ERR_COSTS_NOT_APPLICABLE: Final = "costs apply to expected_cost only, not to {metric}"
ERR_COSTS_ZERO: Final = "every cost is 0; give the cost of at least one kind of decision"
ERR_REFERENCE_NOT_SENSITIVE: Final = (
    "reference group for {name!r}, which is not a sensitive feature ({choices})"
)
ERR_N_BOOT_WITHOUT_CONFIDENCE: Final = (
    "n_boot sets the bootstrap of a confidence bound; give confidence too"
)
ERR_NOT_SCALAR: Final = "expected a single value (string, number or boolean), got {got}"
ERR_BAD_REGEX: Final = "invalid regular expression: {problem}"
ERR_ROW_COUNT_NO_BOUND: Final = "give min, max or both"
ERR_BOUND: Final = "expected a number or an ISO date or time, got {got}"
ERR_BOUND_KINDS: Final = "min and max must both be numbers or both be dates or times"
ERR_STABILITY_EMPTY: Final = "give min_overlap, min_rank_correlation or both"
ERR_LICENSES_ONE: Final = "give exactly one of allow or deny"
ERR_SPDX: Final = (
    "{value!r} is not an SPDX license identifier or pattern (such as MIT, Apache-2.0 or GPL-*)"
)
ERR_WINDOW: Final = "{value!r} is not a window: write a number and a unit, such as 30m, 1h, 1d, 2w"
ERR_DRIFT_EMPTY: Final = "give warn, alert or both"
ERR_P_VALUE_RANGE: Final = "{test} gives a p-value; a threshold must lie in (0, 1], got {value}"
ERR_P_VALUE_ORDER: Final = (
    "{test} drifts when its p-value is small, so alert {alert} must not be above warn {warn}"
)
ERR_DISTANCE_ORDER: Final = (
    "{test} drifts when its distance is large, so warn {warn} must not be above alert {alert}"
)
ERR_NOTIFY_MISSING: Final = "action 'notify' needs a monitoring.notify section (webhook)"
ERR_WEBHOOK: Final = "{value!r} is not an http(s) URL"
ERR_ENV_NAME: Final = "{value!r} is not an environment variable name (A-Z, 0-9 and _)"
ERR_MONITORING_FAIRNESS: Final = (
    "monitoring fairness rules need the sensitive features of a fairness section"
)
ERR_NO_RULES: Final = (
    "the policy has no rules: give at least one of data, performance, fairness, "
    "explainability, security, documentation or approvals"
)

# Notes: the policy is valid, but a person should know.
NOTE_UNACCEPTABLE: Final = (
    "models in tier 'unacceptable' can never reach production; no gate or approval changes that"
)
NOTE_UNDEFINED_PASSES: Final = "undefined results pass, also for the high-risk tier"
NOTE_NO_APPROVALS: Final = (
    "high-risk models reach production without human approval under this policy"
)
NOTE_ROLES_WITHOUT_APPROVALS: Final = "roles are listed but no approval is required"
NOTE_PICKLE: Final = (
    "pickle artifacts pass when a scan finds no dangerous import; loading one still runs its code"
)
NOTE_CUSTOM_CODE: Final = (
    "MLflow python_function models run the code they ship with when loaded and when they "
    "predict; approvers should review the code files each version lists"
)
NOTE_NEVER_BINDS: Final = "{metric} lies in [{low}, {high}], so {bound} {value} never binds"
NOTE_FEW_REPLICATES: Final = (
    "{n_boot} replicates leave about {tail:.1f} in each tail at confidence {confidence}; "
    "the bound is unstable"
)
